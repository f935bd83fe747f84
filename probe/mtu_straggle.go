package probe

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

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

// watching tells the round's straggler cut that the probe session of ctx
// has sent its probe: from here its own loss timer decides, and the cut
// leaves it alone (a probe cut while it waits for its verdict would throw
// away the evidence it is about to give).
func watching(ctx context.Context) {
	if f, ok := ctx.Value(watchingKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

// errStraggler is the cause of a probe session cut as a straggler.
var errStraggler = errors.New("the rest of its round finished long ago")

// straggle is a round's straggler cut (part of roundClock).
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

// cutStraggler reports whether ctx was cut as a straggler.
func cutStraggler(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errStraggler)
}
