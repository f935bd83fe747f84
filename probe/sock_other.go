//go:build !linux

package probe

import (
	"context"
	"errors"
	"time"
)

// waitAcked needs TCP_INFO, which only the Linux build reads.
func waitAcked(ctx context.Context, c *Conn, timeout time.Duration) error {
	return errors.ErrUnsupported
}

// quickAck is Linux's TCP_QUICKACK; elsewhere ACKs stay delayed.
func quickAck(c *Conn) {}
