package wire

import (
	"context"
	"net/netip"
	"sync"
)

// HostLimiter bounds the sessions open at once to each destination
// address, so that a run over many targets stays polite to each server
// however many targets share it. A nil *HostLimiter does not limit.
type HostLimiter struct {
	per int
	mu  sync.Mutex
	sem map[netip.Addr]chan struct{}
}

// NewHostLimiter allows per sessions at once to each address.
func NewHostLimiter(per int) *HostLimiter {
	return &HostLimiter{per: max(per, 1), sem: map[netip.Addr]chan struct{}{}}
}

// Acquire waits for a session slot to a and returns its release.
func (l *HostLimiter) Acquire(ctx context.Context, a netip.Addr) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	l.mu.Lock()
	ch, ok := l.sem[a]
	if !ok {
		ch = make(chan struct{}, l.per)
		l.sem[a] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
