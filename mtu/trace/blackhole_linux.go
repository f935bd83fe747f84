//go:build linux

package trace

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/net/icmp"
	"golang.org/x/sys/unix"
)

// ICMPReader reads ICMP (or ICMPv6) errors from a raw socket and hands
// those about TCP packets to the watcher of the packet's source port.
type ICMPReader struct {
	c    *icmp.PacketConn
	v6   bool
	mu   sync.Mutex
	subs map[netip.AddrPort]chan Quote
	done chan struct{}
}

// ListenICMP opens a raw ICMP socket (ICMPv6 when v6) on every address,
// with golang.org/x/net/icmp. Without CAP_NET_RAW its error is a
// *RawSocketError.
func ListenICMP(v6 bool) (*ICMPReader, error) {
	network, addr := "ip4:icmp", "0.0.0.0"
	if v6 {
		network, addr = "ip6:ipv6-icmp", "::"
	}
	c, err := icmp.ListenPacket(network, addr)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, &RawSocketError{Err: err}
		}
		return nil, err
	}
	r := &ICMPReader{c: c, v6: v6, subs: map[netip.AddrPort]chan Quote{}, done: make(chan struct{})}
	go r.loop()
	return r, nil
}

// loop reads until the socket is closed (or fails: then the watchers get
// nothing more, which reads as no ICMP error).
func (r *ICMPReader) loop() {
	defer close(r.done)
	buf := make([]byte, 2048)
	for {
		n, from, err := r.c.ReadFrom(buf)
		if err != nil {
			return
		}
		ip, ok := from.(*net.IPAddr)
		if !ok {
			continue
		}
		q, err := ParseICMP(r.v6, addrOf(ip.IP), buf[:n])
		if err != nil || q.Proto != unix.IPPROTO_TCP {
			continue
		}
		r.mu.Lock()
		ch := r.subs[q.Src]
		r.mu.Unlock()
		if ch != nil {
			select {
			case ch <- q:
			default: // the watcher has what it needs
			}
		}
	}
}

// Watch returns the ICMP errors about packets sent from local, until
// stop is called.
func (r *ICMPReader) Watch(local netip.AddrPort) (quotes <-chan Quote, stop func()) {
	ch := make(chan Quote, 64)
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	r.mu.Lock()
	r.subs[local] = ch
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.subs, local)
		r.mu.Unlock()
	}
}

// Close ends the reader.
func (r *ICMPReader) Close() error {
	err := r.c.Close()
	<-r.done
	return err
}

// SetTTL sets the TTL (IPv6: unicast hop limit) of c's next packets; -1
// restores the system's default.
func SetTTL(c syscall.Conn, v6 bool, ttl int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setTTL(int(fd), v6, ttl) }); err != nil {
		return err
	}
	return serr
}

// Abort makes c's Close send an RST (SO_LINGER 0) instead of a FIN, so that
// nothing it still has queued is sent again.
func Abort(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}); err != nil {
		return err
	}
	return serr
}
