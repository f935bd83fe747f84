package probe

import (
	"errors"
	"fmt"
	"testing"

	"github.com/smtpprobe/smtpprobe/probe/wire"
)

func TestClassifyStallError(t *testing.T) {
	bh := &wire.StallError{Phase: "starttls", Write: "the TLS ClientHello", Direction: wire.Outbound, LostPacket: 1500, AckedPacket: 71}
	loss := &wire.StallError{Phase: "starttls", Write: "the TLS ClientHello", Direction: wire.Outbound, LostPacket: 1500, AckedPacket: 1500}
	rev := &wire.StallError{Phase: "starttls", Direction: wire.Inbound, Confirmed: true}
	tests := []struct {
		err  error
		want Outcome
	}{
		{bh, PMTUBlackhole},
		{&wire.HandshakeError{Err: bh}, PMTUBlackhole},
		{fmt.Errorf("body: %w", bh), PMTUBlackhole},
		{&wire.HandshakeError{Err: loss}, TLSError},
		{&wire.HandshakeError{Err: rev}, PMTUBlackhole},
		{&wire.HandshakeError{Err: &wire.StallError{Direction: wire.Inbound, RetryErr: errors.New("x")}}, TLSError},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
