package probe

import (
	"context"
	"testing"

	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

func TestMTURetry(t *testing.T) {
	timeout421 := Result{Outcome: Rejected, Reply: &wire.Reply{Code: 421, Enhanced: "4.4.2"}}
	refused := Result{Outcome: Rejected, Reply: &wire.Reply{Code: 550, Enhanced: "5.7.1"}}
	tests := []struct {
		name         string
		first        Result
		wantAttempts int
		wantOutcome  Outcome
	}{
		{"421 4.4.2 (the server's timeout) is retried", timeout421, 2, OK},
		{"a refusal is the server's answer", refused, 1, Rejected},
		{"a reset is retried", Result{Outcome: Reset}, 2, OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			pr, res := (&Prober{}).mtuRetry(t.Context(), Target{}, 1400, func(context.Context) (MTUProbe, Result) {
				calls++
				if calls == 1 {
					return MTUProbe{Result: mtu.ProbeSessionFailed}, tt.first
				}
				return MTUProbe{OK: true, Result: mtu.ProbeDelivered}, Result{Outcome: OK}
			})
			if pr.Attempts != tt.wantAttempts || res.Outcome != tt.wantOutcome {
				t.Errorf("mtuRetry after %v = %d attempts, outcome %s, want %d, %s", tt.first.Outcome, pr.Attempts, res.Outcome, tt.wantAttempts, tt.wantOutcome)
			}
		})
	}
}
