//go:build !linux

package trace

import (
	"net/netip"
	"syscall"
)

// ICMPReader is not supported on this system.
type ICMPReader struct{}

// ListenICMP is not supported on this system.
func ListenICMP(v6 bool) (*ICMPReader, error) { return nil, ErrNotSupported }

// Watch is not supported on this system.
func (r *ICMPReader) Watch(local netip.AddrPort) (<-chan Quote, func()) {
	return make(chan Quote), func() {}
}

// Close does nothing.
func (r *ICMPReader) Close() error { return nil }

// SetTTL is not supported on this system.
func SetTTL(c syscall.Conn, v6 bool, ttl int) error { return ErrNotSupported }

// Abort is not supported on this system.
func Abort(c syscall.Conn) error { return ErrNotSupported }
