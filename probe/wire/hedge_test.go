package wire

import (
	"testing"
	"time"
)

// The hedge's delay comes from the run's handshakes: a few times the
// smallest, at least the floor, a fixed guess before the first, and none
// from the kernel's own 1 s retransmission on.
func TestHedgeDelay(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		h      *Hedge
		seen   []time.Duration
		want   time.Duration
		wantOK bool
	}{
		{"unmeasured", &Hedge{}, nil, HedgeUnmeasured, true},
		{"unmeasured, set", &Hedge{Unmeasured: 30 * ms}, nil, 30 * ms, true},
		{"loopback RTT: the floor", &Hedge{}, []time.Duration{80 * time.Microsecond}, HedgeFloor, true},
		{"the smallest handshake counts", &Hedge{}, []time.Duration{1100 * ms, 30 * ms, 50 * ms}, 120 * ms, true},
		{"factor and floor set", &Hedge{Floor: 10 * ms, Factor: 2}, []time.Duration{3 * ms}, 10 * ms, true},
		{"factor and floor set, slow path", &Hedge{Floor: 10 * ms, Factor: 2}, []time.Duration{30 * ms}, 60 * ms, true},
		{"a slow path: the kernel's own second SYN comes first", &Hedge{}, []time.Duration{300 * ms}, 1200 * ms, false},
		{"zero and negative samples ignored", &Hedge{}, []time.Duration{0, -ms}, HedgeUnmeasured, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			for _, d := range tt.seen {
				h.Observe(d)
			}
			got, ok := h.Delay()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Delay() after %v = %s, %v; want %s, %v", tt.seen, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	var nilHedge *Hedge
	nilHedge.Observe(time.Millisecond) // a Dialer without a hedge
	nilHedge.started()
	nilHedge.wonBySecond()
}
