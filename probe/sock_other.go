//go:build !linux

package probe

import (
	"context"
	"errors"
	"net"
	"time"
)

// waitAcked needs TCP_INFO, which only the Linux build reads.
func waitAcked(ctx context.Context, c *Conn, timeout time.Duration) error {
	return errors.ErrUnsupported
}

// quickAck is Linux's TCP_QUICKACK; elsewhere ACKs stay delayed.
func quickAck(c *Conn) {}

// tcpReset needs TCP_INFO; elsewhere an EOF counts as a FIN unless a
// write already met the reset.
func tcpReset(c net.Conn) (bool, error) { return false, errors.ErrUnsupported }
