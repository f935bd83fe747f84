package mtu

import (
	"context"
	"testing"
	"time"
)

// TestStraggle: once half a round's sessions finished, the rest are cut
// after stragglerFactor times the slowest finished one (at least
// stragglerFloor), with errStraggler; a round that finishes together cuts
// nothing.
func TestStraggle(t *testing.T) {
	var s straggle
	ctxs := make([]context.Context, 4)
	dones := make([]func(), 4)
	for i := range ctxs {
		ctxs[i], dones[i] = s.start(t.Context())
	}
	start := time.Now()
	dones[0]()
	dones[1]() // half the round finished: the cut is armed
	for _, c := range ctxs[2:] {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("straggler not cut within 5 s")
		}
	}
	if el := time.Since(start); el < stragglerFloor {
		t.Errorf("straggler cut after %v, want at least %v", el, stragglerFloor)
	}
	if !CutStraggler(ctxs[2]) || !CutStraggler(ctxs[3]) {
		t.Errorf("cause = %v, %v; want errStraggler for both", context.Cause(ctxs[2]), context.Cause(ctxs[3]))
	}
	dones[2]()
	dones[3]()

	var all straggle
	a, da := all.start(t.Context())
	b, db := all.start(t.Context())
	da()
	db()
	if CutStraggler(a) || CutStraggler(b) {
		t.Errorf("a round that finished together was cut: %v, %v", context.Cause(a), context.Cause(b))
	}
}

// TestStraggleWatching: a session that already sent its probe is left to
// its own loss timer.
func TestStraggleWatching(t *testing.T) {
	var s straggle
	a, da := s.start(t.Context())
	b, db := s.start(t.Context())
	c, dc := s.start(t.Context())
	Watching(c)
	da() // 1 of 3: not yet half
	db() // half: the cut is armed
	select {
	case <-c.Done():
		t.Errorf("a watching session was cut: %v", context.Cause(c))
	case <-time.After(stragglerFloor + 200*time.Millisecond):
	}
	dc()
	_ = a
	_ = b
}
