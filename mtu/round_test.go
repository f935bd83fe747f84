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

// TestLossAfter: the pace of the passing probes sets the loss limit; one
// pass that random loss slowed (a retransmission timeout) does not, once
// three passes can outvote it.
func TestLossAfter(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		earlier []time.Duration // passes of an earlier round
		own     []time.Duration // passes of the round
		want    time.Duration
	}{
		{"nothing passed", nil, nil, 0},
		{"earlier rounds only: twice the factor", []time.Duration{10 * ms, 20 * ms}, nil, 2 * 3 * 20 * ms},
		{"earlier rounds only, a slow one set aside", []time.Duration{10 * ms, 20 * ms, 400 * ms}, nil, 2 * 3 * 20 * ms},
		{"one pass of its own, nothing earlier", nil, []time.Duration{210 * ms}, 3 * 210 * ms},
		{"the floor", nil, []time.Duration{5 * ms}, 60 * ms},
		{"two passes of its own: the slowest", nil, []time.Duration{30 * ms, 50 * ms}, 3 * 50 * ms},
		{"three of its own: the slowest set aside", nil, []time.Duration{30 * ms, 250 * ms, 40 * ms}, 3 * 40 * ms},
		{"two slow of its own are the pace", nil, []time.Duration{30 * ms, 250 * ms, 240 * ms}, 3 * 240 * ms},
		{"a slowed lone pass, the run's pace decides", []time.Duration{30 * ms, 40 * ms}, []time.Duration{210 * ms}, 3 * 40 * ms},
		{"a fast lone pass, the run's pace decides", []time.Duration{30 * ms, 40 * ms}, []time.Duration{25 * ms}, 3 * 30 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rc Rounds
			before := rc.Of(context.WithValue(t.Context(), roundKey{}, 1))
			for _, d := range tt.earlier {
				before.Passed(d)
			}
			c := rc.Of(context.WithValue(t.Context(), roundKey{}, 2))
			for _, d := range tt.own {
				c.Passed(d)
			}
			if got := c.LossAfter(60*ms, 3); got != tt.want {
				t.Errorf("LossAfter(60ms, 3) after %v earlier, %v in the round = %s, want %s", tt.earlier, tt.own, got, tt.want)
			}
		})
	}
}

// TestLessRTOs: a passing probe's wait less the retransmission timeouts its
// own retransmissions waited out, backed off, never below 0.
func TestLessRTOs(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		d       time.Duration
		retrans int
		rto     time.Duration
		want    time.Duration
	}{
		{9 * ms, 0, 201 * ms, 9 * ms},
		{209 * ms, 1, 201 * ms, 8 * ms},
		{612 * ms, 2, 201 * ms, 9 * ms},  // 201 + 402
		{15 * ms, 1, 201 * ms, 0},        // a tail loss probe, not an RTO
		{30 * ms, -1, 201 * ms, 30 * ms}, // no reading
		{30 * ms, 1, 0, 30 * ms},         // no RTO known
	} {
		if got := LessRTOs(tt.d, tt.retrans, tt.rto); got != tt.want {
			t.Errorf("LessRTOs(%s, %d, %s) = %s, want %s", tt.d, tt.retrans, tt.rto, got, tt.want)
		}
	}
}

// TestStraggleMedian: the cut waits stragglerFactor times the median
// finished session, not the slowest: one finished session that waited out
// a retransmission does not hold the round.
func TestStraggleMedian(t *testing.T) {
	var s straggle
	ctxs := make([]context.Context, 5)
	dones := make([]func(), 5)
	for i := range ctxs {
		ctxs[i], dones[i] = s.start(t.Context())
	}
	s.finish(5 * time.Millisecond)
	s.finish(10 * time.Millisecond)
	start := time.Now()
	s.finish(900 * time.Millisecond) // 3 of 5: the cut is armed at 3 x 10ms, the floor
	for _, c := range ctxs {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("straggler not cut within 5 s")
		}
	}
	if el := time.Since(start); el < stragglerFloor || el > 600*time.Millisecond {
		t.Errorf("stragglers cut after %v, want about %v (3 x the median 10ms, at least the floor), not 3 x 900ms", el, stragglerFloor)
	}
	for _, d := range dones {
		d()
	}
}

// TestPatient: a patient clock's loss limit is its own, whatever passed.
func TestPatient(t *testing.T) {
	c := Patient(700 * time.Millisecond)
	c.Passed(time.Millisecond)
	if got := c.LossAfter(10*time.Millisecond, 4); got != 700*time.Millisecond {
		t.Errorf("Patient(700ms).LossAfter = %v, want 700ms", got)
	}
}
