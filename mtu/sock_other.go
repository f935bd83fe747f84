//go:build !linux

package mtu

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"time"
)

// Control is not supported on this system.
func Control(mss int) func(network, address string, c syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error { return errors.ErrUnsupported }
}

func TCPInfo(c syscall.Conn) (Info, error)     { return Info{}, errors.ErrUnsupported }
func PathMTU(c syscall.Conn) (int, error)      { return 0, errors.ErrUnsupported }
func SetMSS(c syscall.Conn, mss int) error     { return errors.ErrUnsupported }
func InterfaceMTU(dst netip.Addr) (int, error) { return 0, errors.ErrUnsupported }
func RouteMTU(dst netip.Addr) (int, error)     { return 0, errors.ErrUnsupported }
func MTUProbing() (int, error)                 { return 0, errors.ErrUnsupported }

// Watch is not supported on this system.
func Watch(ctx context.Context, c syscall.Conn, want uint64, opt WatchOptions) (Verdict, Info, error) {
	return Unknown, Info{}, errors.ErrUnsupported
}

// WaitAcked is not supported on this system.
func WaitAcked(ctx context.Context, c syscall.Conn, timeout time.Duration) (Verdict, Info, error) {
	return Unknown, Info{}, errors.ErrUnsupported
}

// QuickAck does nothing on this system: ACKs stay delayed.
func QuickAck(c syscall.Conn) {}

// Reset is not supported on this system.
func Reset(c syscall.Conn) (bool, error) { return false, errors.ErrUnsupported }

// CheckSocketOptions is not supported on this system.
func CheckSocketOptions(v6 bool) error { return errors.ErrUnsupported }

func CachedPMTU(dst netip.Addr) (PMTUCache, error) { return PMTUCache{}, errors.ErrUnsupported }
func ForgetPMTU(dst netip.Addr) error              { return errors.ErrUnsupported }
