//go:build !linux

package wire

import (
	"errors"
	"syscall"
)

// resetOnClose is not supported on this system.
func resetOnClose(syscall.RawConn) error { return errors.ErrUnsupported }
