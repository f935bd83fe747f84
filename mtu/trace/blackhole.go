package trace

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// RawSocketError is a raw ICMP socket that could not be opened: reading
// the routers' time-exceeded messages with the packet they quote needs
// CAP_NET_RAW.
type RawSocketError struct{ Err error }

func (e *RawSocketError) Error() string {
	return fmt.Sprintf("reading the routers' ICMP time-exceeded needs a raw ICMP socket (CAP_NET_RAW): %v", e.Err)
}

func (e *RawSocketError) Unwrap() error { return e.Err }

// Link is where a PMTU black hole lies: between the last hop that a large
// packet reaches and the first that only small ones reach.
type Link struct {
	// NearTTL and Near are the last hop a large packet was proven to
	// reach (0 and invalid: none, the link starts at this host).
	NearTTL int
	Near    netip.Addr
	// FarTTL and Far are the next hop, which small packets reach and
	// large ones do not (the target itself when it is the next hop).
	FarTTL int
	Far    netip.Addr
	// Size is the largest packet size quoted back by Near.
	Size int
}

// FindLink locates the black-holed link from a sweep of small packets
// (path: which hops small SYNs reach) and the largest packet size each TTL's
// time-exceeded quoted (large, by TTL) for full-size segments. A TTL whose
// quote is at least minLarge bytes proves that a large packet reached that
// hop; own small packets (ACKs, a short last segment) quote less and do not
// count. It reports false when no hop past the last large one is known to
// be reached by small packets.
func FindLink(path *Path, large map[int]int, minLarge int) (Link, bool) {
	var l Link
	for _, h := range path.Hops {
		if s := large[h.TTL]; s >= minLarge && h.TTL > l.NearTTL {
			l.NearTTL, l.Near, l.Size = h.TTL, h.Addr, s
		}
	}
	for _, h := range path.Hops {
		if h.TTL <= l.NearTTL || large[h.TTL] >= minLarge {
			continue
		}
		if h.Kind == TimeExceeded || (h.TTL == path.Stop.TTL && (h.Kind == SynAck || h.Kind == Reset)) {
			l.FarTTL, l.Far = h.TTL, h.Addr
			return l, true
		}
		if h.Kind != Silent {
			break
		}
	}
	return l, false
}

// Reach sends one segment of size bytes with TTL ttl on c, a connected
// TCP socket (a syscall.Conn), and returns the largest packet size quoted
// by a time-exceeded that came back for it through r (0: none did within
// wait; it returns early once one of minLarge bytes or more did, or when
// ctx ends). The caller restores the TTL (SetTTL -1) and ends the
// connection. The time-exceeded of hop ttl quotes the segment's IP header,
// whose total length (IPv6: payload length) proves that a packet of that
// size reached the hop (RFC 792; RFC 4443 §3.3 quotes as much as fits).
func (r *ICMPReader) Reach(ctx context.Context, c net.Conn, ttl, size, minLarge int, wait time.Duration) (int, error) {
	raw, ok := c.(syscall.Conn)
	if !ok {
		return 0, ErrNotSupported
	}
	local, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return 0, err
	}
	dst, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return 0, err
	}
	v6 := is6(dst.Addr())
	quotes, stop := r.Watch(local)
	defer stop()
	if err := SetTTL(raw, v6, ttl); err != nil {
		return 0, err
	}
	if _, err := c.Write(bytes.Repeat([]byte("X"), size)); err != nil {
		return 0, err
	}
	best := 0
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case qt := <-quotes:
			if qt.Dst.Addr() == dst.Addr().Unmap() && (qt.Type == ICMPv4TimeExceeded && !v6 || qt.Type == ICMPv6TimeExceeded && v6) {
				best = max(best, qt.Size)
				if best >= minLarge {
					return best, nil
				}
			}
		case <-timer.C:
			return best, nil
		case <-ctx.Done():
			return best, nil
		}
	}
}
