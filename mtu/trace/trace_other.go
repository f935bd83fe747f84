//go:build !linux

package trace

import (
	"context"
	"net/netip"
	"syscall"
)

// TCPProbe is not supported on this system: every probe is a LocalError
// wrapping ErrNotSupported.
func TCPProbe(ctx context.Context, dst netip.AddrPort, ttl int, sent func()) Reply {
	sent()
	return Reply{Kind: LocalError, Err: ErrNotSupported}
}

// ErrQueue is a no-op on this system.
type ErrQueue struct{}

// NewErrQueue returns a no-op ErrQueue.
func NewErrQueue() *ErrQueue { return &ErrQueue{} }

// Control returns next (or a no-op when next is nil).
func (q *ErrQueue) Control(next func(network, address string, c syscall.RawConn) error) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		if next != nil {
			return next(network, address, c)
		}
		return nil
	}
}

// Result reports nothing.
func (q *ErrQueue) Result() (Reply, bool) { return Reply{}, false }

// Done does nothing.
func (q *ErrQueue) Done() {}
