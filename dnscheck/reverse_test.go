package dnscheck

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCheckReverse(t *testing.T) {
	server, _ := testServer(t)
	tests := []struct {
		addr      string
		ptr       []string
		confirmed bool
		findings  []string
	}{
		{"192.0.2.1", []string{"mx1.example.com"}, true, []string{}},
		{"::ffff:192.0.2.1", []string{"mx1.example.com"}, true, []string{}},
		{"2001:db8::1", []string{"mx1.example.com"}, true, []string{}},
		{"192.0.2.2", []string{"wrong.example"}, false, []string{"info:fcrdns-mismatch"}},
		{"192.0.2.3", []string{}, false, []string{"info:no-ptr"}},
		{"192.0.2.4", []string{}, false, []string{"info:ptr-lookup-failed"}},
		{"192.0.2.5", []string{"broken.example"}, false, []string{"info:ptr-lookup-failed"}},
	}
	r := newResolver(server)
	for _, tt := range tests {
		got := r.CheckReverse(context.Background(), netip.MustParseAddr(tt.addr))
		if !slices.Equal(got.PTR, tt.ptr) || got.Confirmed != tt.confirmed {
			t.Errorf("CheckReverse(%s) = PTR %q, fcrdns %v, want %q, %v", tt.addr, got.PTR, got.Confirmed, tt.ptr, tt.confirmed)
		}
		if c := codes(got.Findings); !slices.Equal(c, tt.findings) {
			t.Errorf("CheckReverse(%s) findings = %q, want %q\n%v", tt.addr, c, tt.findings, got.Findings)
		}
	}

	rev := r.CheckReverse(context.Background(), netip.MustParseAddr("192.0.2.2"))
	if len(rev.Findings) == 1 && !strings.Contains(rev.Findings[0].Message, "192.0.2.99") {
		t.Errorf("CheckReverse(192.0.2.2) message = %q, want it to name 192.0.2.99", rev.Findings[0].Message)
	}
}

func TestCheckReverseTimeout(t *testing.T) {
	r := &Resolver{Servers: []string{silentServer(t)}, Timeout: 100 * time.Millisecond, Attempts: 1}
	got := r.CheckReverse(context.Background(), netip.MustParseAddr("192.0.2.1"))
	if c := codes(got.Findings); !slices.Equal(c, []string{"info:ptr-lookup-failed"}) || got.Confirmed {
		t.Errorf("CheckReverse(192.0.2.1) = %v, findings %q, want unconfirmed, [info:ptr-lookup-failed]", got.Confirmed, c)
	}
}
