package probe

import (
	"context"
	"errors"
	"sync"
	"time"
)

// A round of probes is as slow as its slowest session, and under random
// loss one of a dozen sessions nearly always loses its SYN (a 1 s
// retransmission timeout, RFC 6298 §2.1) or a dialogue segment. Such a
// straggler proves nothing about the size it was to probe until it gets
// there, so once half the round has finished, the rest get
// stragglerFactor times the slowest finished session (at least
// stragglerFloor) and are then cut: a probe cut before its verdict is one
// without evidence (mtu.ErrNoEvidence), which the search plans again.
const (
	stragglerFloor  = 150 * time.Millisecond
	stragglerFactor = 3
)

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
	pctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-cut:
			cancel(errStraggler)
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
