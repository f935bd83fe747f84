package mtu

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Rounds time the probe sessions of each round of a Search against each
// other (RoundOf): the pace of those that passed sets the round's loss limit, and
// the round's stragglers are cut.
type Rounds struct {
	mu     sync.Mutex
	rounds map[int]*Round
	all    passClock // every round's passing probes
}

// passClock is the passing probes of every round.
type passClock struct {
	mu sync.Mutex
	p  passes
}

// passes is how long the passing probes took: how many, the slowest and
// the next slowest.
type passes struct {
	n               int
	slowest, second time.Duration
}

func (p *passes) add(d time.Duration) {
	p.n++
	switch {
	case d >= p.slowest:
		p.second, p.slowest = p.slowest, d
	case d > p.second:
		p.second = d
	}
}

// robustPasses is how many passing probes it takes to set the slowest
// aside: under random loss a passing probe now and then waits out a
// retransmission timeout (200 ms at least, RFC 6298 §2.4) for one lost
// segment, and a loss limit set by that one probe would make every lost
// probe of the round wait several of them.
const robustPasses = 3

// pace is how long a passing probe takes: the slowest, or with
// robustPasses or more, the next slowest (one straggling pass is random
// loss; two are the path's pace).
func (p passes) pace() time.Duration {
	if p.n >= robustPasses {
		return p.second
	}
	return p.slowest
}

// Round is one round's clock.
type Round struct {
	fixed    time.Duration // LossAfter's answer, when set (Patient)
	mu       sync.Mutex
	p        passes     // the round's passing probes
	straggle            // cuts the round's stragglers
	all      *passClock // the run's, across rounds; nil for a lone probe
}

// Patient is the clock of a lone probe that waits limit, whatever the
// others did: long enough for a peer's retransmissions.
func Patient(limit time.Duration) *Round { return &Round{fixed: limit} }

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
	c.p.add(d)
	if a := c.all; a != nil {
		a.mu.Lock()
		a.p.add(d)
		a.mu.Unlock()
	}
}

// LossAfter is the round's loss limit: factor times the pace of passing
// probes (passes.pace), at least floor. The round's own passes set it when
// there are robustPasses of them; with fewer, the run's passes (the
// round's among them) do when they are that many, so that one pass that
// random loss slowed does not set the limit alone; otherwise the round's
// slowest pass. While no probe of the round passed (its control lost its
// SYN, say), earlier rounds' passing probes set it, at twice the factor;
// 0 while none passed in any round.
func (c *Round) LossAfter(floor time.Duration, factor int) time.Duration {
	if c.fixed > 0 {
		return c.fixed
	}
	c.mu.Lock()
	own := c.p
	c.mu.Unlock()
	var run passes
	if c.all != nil {
		c.all.mu.Lock()
		run = c.all.p
		c.all.mu.Unlock()
	}
	f := time.Duration(factor)
	switch {
	case own.n >= robustPasses:
		return max(floor, f*own.pace())
	case own.n > 0 && run.n >= robustPasses:
		return max(floor, f*run.pace())
	case own.n > 0:
		return max(floor, f*own.pace())
	case run.n > 0:
		return max(floor, 2*f*run.pace())
	}
	return 0
}

// Start registers a probe session of the round and returns its context,
// cancelled at the round's straggler cut, and the func to call when it
// finished.
func (c *Round) Start(ctx context.Context) (context.Context, func()) { return c.straggle.start(ctx) }

// A round of probes is as slow as its slowest session, and under random
// loss one of a dozen sessions nearly always loses its SYN (a 1 s
// retransmission timeout, RFC 6298 §2.1) or a dialogue segment (200 ms at
// least, §2.4). Such a straggler proves nothing about the size it was to
// probe until it gets there, so once half the round has finished, the
// rest get stragglerFactor times the median finished session (at least
// stragglerFloor) and are then cut, unless they already sent their probe
// (watching): a probe cut before its verdict is one without evidence
// (mtu.ErrNoEvidence), which the search plans again. The median, not the
// slowest: a finished session that itself waited out a lost segment's
// retransmission would otherwise let the others wait several of them.
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
	finished []time.Duration // how long the finished sessions took
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
	s.finished = append(s.finished, d)
	n := len(s.finished)
	if s.timer == nil && 2*n >= s.started && n < s.started {
		cut := s.cut
		s.timer = time.AfterFunc(max(stragglerFloor, stragglerFactor*median(s.finished)), func() { close(cut) })
	}
}

// CutStraggler reports whether ctx was cut as a straggler.
func CutStraggler(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errStraggler)
}

// median is the median of ds (the lower one of an even count), which it
// sorts.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[(len(ds)-1)/2]
}

// LessRTOs is how long a passing probe that waited d took by the path's pace
// (what Round.Passed wants): d less the retransmission timeouts its own
// retransmissions waited out (retrans of them, the first after rto, each
// next after twice the one before, RFC 6298 §5.5), which random loss
// added and no other probe of the size would wait. A retransmission that
// fired sooner (a tail loss probe) makes the estimate too small, never
// below 0; the loss limit's floor covers that.
func LessRTOs(d time.Duration, retrans int, rto time.Duration) time.Duration {
	if retrans <= 0 || rto <= 0 {
		return d
	}
	lost := rto * time.Duration(1<<min(retrans, 6)-1)
	return max(0, d-lost)
}
