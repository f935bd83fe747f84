//go:build !linux

package mtu

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// SendDF is not supported on this system.
func SendDF(ctx context.Context, dst netip.Addr, port, size int, wait time.Duration) (DFReply, error) {
	return DFReply{Size: size, Answer: DFSilent}, errors.ErrUnsupported
}
