package mtu

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Rounds time the probe sessions of each round of a Search against each
// other (RoundOf): the slowest that passed sets the round's loss limit, and
// the round's stragglers are cut.
type Rounds struct {
	mu     sync.Mutex
	rounds map[int]*Round
	all    passClock // every round's passing probes
}

// passClock is the slowest passing probe among n.
type passClock struct {
	mu      sync.Mutex
	slowest time.Duration
	n       int
}

// Round is one round's clock.
type Round struct {
	mu       sync.Mutex
	slowest  time.Duration // slowest acknowledgement of a passing probe
	n        int
	straggle            // cuts the round's stragglers
	all      *passClock // the run's, across rounds; nil for a lone probe
}

// Of is the clock of ctx's round.
func (rc *Rounds) Of(ctx context.Context) *Round {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.rounds == nil {
		rc.rounds = map[int]*Round{}
	}
	r := RoundOf(ctx)
	c := rc.rounds[r]
	if c == nil {
		c = &Round{all: &rc.all}
		rc.rounds[r] = c
	}
	return c
}

// Passed records a probe of the round that passed after d.
func (c *Round) Passed(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slowest = max(c.slowest, d)
	c.n++
	if a := c.all; a != nil {
		a.mu.Lock()
		a.slowest = max(a.slowest, d)
		a.n++
		a.mu.Unlock()
	}
}

// LossAfter is the round's loss limit. While no probe of the round passed
// (its control lost its SYN, say), earlier rounds' passing probes set it,
// at twice the factor; 0 while none passed in any round.
func (c *Round) LossAfter(floor time.Duration, factor int) time.Duration {
	c.mu.Lock()
	n, slowest := c.n, c.slowest
	c.mu.Unlock()
	if n == 0 && c.all != nil {
		c.all.mu.Lock()
		n, slowest = c.all.n, c.all.slowest
		c.all.mu.Unlock()
		factor *= 2
	}
	if n == 0 {
		return 0
	}
	return max(floor, time.Duration(factor)*slowest)
}

// Start registers a probe session of the round and returns its context,
// cancelled at the round's straggler cut, and the func to call when it
// finished.
func (c *Round) Start(ctx context.Context) (context.Context, func()) { return c.straggle.start(ctx) }

// A round of probes is as slow as its slowest session, and under random
// loss one of a dozen sessions nearly always loses its SYN (a 1 s
// retransmission timeout, RFC 6298 §2.1) or a dialogue segment. Such a
// straggler proves nothing about the size it was to probe until it gets
// there, so once half the round has finished, the rest get
// stragglerFactor times the slowest finished session (at least
// stragglerFloor) and are then cut, unless they already sent their probe
// (watching): a probe cut before its verdict is one without evidence
// (mtu.ErrNoEvidence), which the search plans again.
const (
	stragglerFloor  = 60 * time.Millisecond
	stragglerFactor = 3
)

// watchingKey marks a probe session's context; see watching.
type watchingKey struct{}

// Watching tells the round's straggler cut that the probe session of ctx
// has sent its probe: from here its own loss timer decides, and the cut
// leaves it alone (a probe cut while it waits for its verdict would throw
// away the evidence it is about to give).
func Watching(ctx context.Context) {
	if f, ok := ctx.Value(watchingKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

// errStraggler is the cause of a probe session cut as a straggler.
var errStraggler = errors.New("the rest of its round finished long ago")

// straggle is a round's straggler cut (part of Round).
type straggle struct {
	mu       sync.Mutex
	started  int
	finished int
	slowest  time.Duration // the slowest finished session
	timer    *time.Timer
	cut      chan struct{} // closed at the cut
}

// start registers a probe session of the round and returns its context,
// cancelled with errStraggler at the round's cut, and the func to call
// when it finished.
func (s *straggle) start(ctx context.Context) (context.Context, func()) {
	s.mu.Lock()
	if s.cut == nil {
		s.cut = make(chan struct{})
	}
	s.started++
	cut := s.cut
	s.mu.Unlock()
	began := time.Now()
	w := new(atomic.Bool)
	pctx, cancel := context.WithCancelCause(context.WithValue(ctx, watchingKey{}, w))
	go func() {
		select {
		case <-cut:
			if !w.Load() {
				cancel(errStraggler)
			}
		case <-pctx.Done():
		}
	}()
	return pctx, func() {
		cancel(nil)
		s.finish(time.Since(began))
	}
}

func (s *straggle) finish(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished++
	s.slowest = max(s.slowest, d)
	if s.timer == nil && 2*s.finished >= s.started && s.finished < s.started {
		cut := s.cut
		s.timer = time.AfterFunc(max(stragglerFloor, stragglerFactor*s.slowest), func() { close(cut) })
	}
}

// CutStraggler reports whether ctx was cut as a straggler.
func CutStraggler(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errStraggler)
}
