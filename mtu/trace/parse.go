package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ErrShort is a message too short for what it claims to hold.
var ErrShort = errors.New("truncated")

// Origins of a sock_extended_err (include/uapi/linux/errqueue.h).
const (
	OriginLocal = 1
	OriginICMP  = 2
	OriginICMP6 = 3
)

// ICMP types and codes used here (RFC 792; RFC 4443 §3).
const (
	ICMPv4Unreachable  = 3
	ICMPv4TimeExceeded = 11
	ICMPv6Unreachable  = 1
	ICMPv6TooBig       = 2
	ICMPv6TimeExceeded = 3
)

// ExtErr is a Linux struct sock_extended_err with the offender's address
// that follows it (SO_EE_OFFENDER): what IP_RECVERR / IPV6_RECVERR queue
// on a socket for an ICMP error about one of its packets.
type ExtErr struct {
	Errno    uint32
	Origin   uint8
	Type     uint8
	Code     uint8
	Info     uint32 // the MTU of a frag-needed / packet-too-big
	Offender netip.Addr
}

// ParseExtErr parses the data of an IP_RECVERR (SOL_IP) or IPV6_RECVERR
// (SOL_IPV6) control message: 16 bytes of sock_extended_err in host byte
// order, then a sockaddr_in or sockaddr_in6 (family in host order, address
// in network order). An offender of family AF_UNSPEC (a local error) is
// left invalid.
func ParseExtErr(b []byte) (ExtErr, error) {
	const eeLen = 16
	if len(b) < eeLen {
		return ExtErr{}, fmt.Errorf("sock_extended_err: %d bytes: %w", len(b), ErrShort)
	}
	ne := binary.NativeEndian
	e := ExtErr{Errno: ne.Uint32(b[0:]), Origin: b[4], Type: b[5], Code: b[6], Info: ne.Uint32(b[8:])}
	sa := b[eeLen:]
	if len(sa) < 2 {
		return e, nil
	}
	switch ne.Uint16(sa) {
	case afInet:
		if len(sa) < 8 {
			return e, fmt.Errorf("offender sockaddr_in: %d bytes: %w", len(sa), ErrShort)
		}
		e.Offender = netip.AddrFrom4([4]byte(sa[4:8]))
	case afInet6:
		if len(sa) < 24 {
			return e, fmt.Errorf("offender sockaddr_in6: %d bytes: %w", len(sa), ErrShort)
		}
		e.Offender = netip.AddrFrom16([16]byte(sa[8:24])).Unmap()
	}
	return e, nil
}

// Address families as Linux numbers them (the values are the same on
// every Linux architecture).
const (
	afInet  = 2
	afInet6 = 10
)

// Quote is an ICMP error read from a raw socket together with what it
// quotes of the packet that caused it (RFC 792: the IP header and at least
// 8 bytes of its payload; RFC 4443 §2.4: as much as fits in 1280 bytes).
type Quote struct {
	From       netip.Addr // the ICMP message's sender
	Type, Code uint8
	// Size is the quoted packet's size on the wire as its own header
	// states it: the IPv4 total length (RFC 791 §3.1), or 40 plus the IPv6
	// payload length (RFC 8200 §3). It proves that a packet of this size
	// reached From, whatever the length of the quote itself.
	Size     int
	Proto    uint8 // the quoted packet's protocol (6: TCP)
	Src, Dst netip.AddrPort
}

// ParseICMP parses an ICMP (RFC 792) or, when v6, ICMPv6 (RFC 4443)
// message read from a raw socket, without the IP header the kernel may
// have read with it (net.IPConn strips an IPv4 one; an ICMPv6 socket
// delivers none), sent by from: its type and code, and what it quotes of
// the packet that caused it, the IP header (its size, protocol and
// addresses) and, for TCP, the ports. Only error messages quote a packet
// (IPv4: destination unreachable, source quench, redirect, time exceeded,
// parameter problem; ICMPv6: types below 128); others are an error, as is
// a quote too short to hold the ports (ErrShort).
//
// golang.org/x/net/icmp parses the message (RFC 4884 extensions
// included), x/net/ipv4 and ipv6 the quoted header.
func ParseICMP(v6 bool, from netip.Addr, b []byte) (Quote, error) {
	q := Quote{From: from}
	proto := protoICMP
	if v6 {
		proto = protoICMPv6
	}
	if len(b) < 8 {
		return q, fmt.Errorf("ICMP header: %d bytes: %w", len(b), ErrShort)
	}
	m, err := icmp.ParseMessage(proto, b)
	if err != nil {
		return q, fmt.Errorf("ICMP message: %w", err)
	}
	q.Type, q.Code = b[0], b[1]
	var quoted []byte
	switch body := m.Body.(type) {
	case *icmp.DstUnreach:
		quoted = body.Data
	case *icmp.TimeExceeded:
		quoted = body.Data
	case *icmp.PacketTooBig:
		quoted = body.Data
	case *icmp.ParamProb:
		quoted = body.Data
	case *icmp.RawBody:
		// An error message x/net has no type for (IPv4 source quench and
		// redirect, RFC 792): 4 bytes (unused, or the gateway), then the quote.
		if v6 && q.Type >= 128 || !v6 && q.Type != 4 && q.Type != 5 {
			return q, fmt.Errorf("ICMP type %d quotes no packet", q.Type)
		}
		if len(body.Data) >= 4 {
			quoted = body.Data[4:]
		}
	default:
		return q, fmt.Errorf("ICMP type %d quotes no packet", q.Type)
	}
	var hdrLen int
	if v6 {
		h, err := ipv6.ParseHeader(quoted)
		if err != nil {
			return q, fmt.Errorf("quoted IPv6 header: %d bytes: %w", len(quoted), ErrShort)
		}
		if h.Version != 6 {
			return q, fmt.Errorf("quoted IPv6 header: version %d, not 6", h.Version)
		}
		hdrLen, q.Size, q.Proto = ipv6.HeaderLen, ipv6.HeaderLen+h.PayloadLen, uint8(h.NextHeader)
		q.Src, q.Dst = netip.AddrPortFrom(addrOf(h.Src), 0), netip.AddrPortFrom(addrOf(h.Dst), 0)
	} else {
		h, err := ipv4.ParseHeader(quoted)
		if err != nil {
			return q, fmt.Errorf("quoted IPv4 header: %d bytes: %v: %w", len(quoted), err, ErrShort)
		}
		if h.Version != 4 {
			return q, fmt.Errorf("quoted IPv4 header: version %d, not 4", h.Version)
		}
		// The quote is a copy of the packet as it was on the wire, so its
		// total length is in network byte order; ParseHeader reads it so on
		// Linux, the one system with a raw reader (ListenICMP).
		hdrLen, q.Size, q.Proto = h.Len, h.TotalLen, uint8(h.Protocol)
		q.Src, q.Dst = netip.AddrPortFrom(addrOf(h.Src), 0), netip.AddrPortFrom(addrOf(h.Dst), 0)
	}
	ports := quoted[hdrLen:]
	if len(ports) < 4 {
		return q, fmt.Errorf("quoted ports: %d bytes: %w", len(ports), ErrShort)
	}
	q.Src = netip.AddrPortFrom(q.Src.Addr(), binary.BigEndian.Uint16(ports[0:]))
	q.Dst = netip.AddrPortFrom(q.Dst.Addr(), binary.BigEndian.Uint16(ports[2:]))
	return q, nil
}

// IANA protocol numbers of ICMP and ICMPv6, as icmp.ParseMessage takes them.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// addrOf is ip as a netip.Addr, IPv4-mapped IPv6 unmapped.
func addrOf(ip []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// ReplyFromExtErr turns the error-queue entry of a probe into its Reply
// kind: time exceeded, or a destination unreachable with its code. A
// local error (no ICMP) is LocalError. Anything else the kernel queued
// (a frag-needed for a SYN cannot happen; a parameter problem) is
// Unreachable with its type and code, so it is shown, not dropped.
func ReplyFromExtErr(e ExtErr) Reply {
	r := Reply{From: e.Offender, Type: e.Type, Code: e.Code}
	switch {
	case e.Origin == OriginICMP && e.Type == ICMPv4TimeExceeded,
		e.Origin == OriginICMP6 && e.Type == ICMPv6TimeExceeded:
		r.Kind = TimeExceeded
	case e.Origin == OriginICMP, e.Origin == OriginICMP6:
		r.Kind = Unreachable
	default:
		r.Kind = LocalError
	}
	return r
}

// Class names an ICMP error the way findings do: "time-exceeded",
// "admin-prohibited" (a filter rejected it: IPv4 codes 9, 10 and 13,
// RFC 1812 §5.2.7.1; ICMPv6 codes 1, 5 and 6, RFC 4443 §3.1),
// "host-unreachable", "net-unreachable", "port-unreachable",
// "protocol-unreachable", "frag-needed" (IPv6: packet too big), or
// "icmp-TYPE-CODE" for anything else.
func Class(v6 bool, typ, code uint8) string {
	if v6 {
		switch {
		case typ == ICMPv6TimeExceeded:
			return "time-exceeded"
		case typ == ICMPv6TooBig:
			return "frag-needed"
		case typ == ICMPv6Unreachable:
			switch code {
			case 0, 2: // no route; beyond the scope of the source address
				return "net-unreachable"
			case 1, 5, 6: // administratively prohibited; source policy; reject route
				return "admin-prohibited"
			case 3:
				return "host-unreachable"
			case 4:
				return "port-unreachable"
			}
		}
		return fmt.Sprintf("icmp6-%d-%d", typ, code)
	}
	switch {
	case typ == ICMPv4TimeExceeded:
		return "time-exceeded"
	case typ == ICMPv4Unreachable:
		switch code {
		case 0, 6, 11: // net unreachable; unknown; for TOS
			return "net-unreachable"
		case 1, 7, 12:
			return "host-unreachable"
		case 2:
			return "protocol-unreachable"
		case 3:
			return "port-unreachable"
		case 4:
			return "frag-needed"
		case 9, 10, 13:
			return "admin-prohibited"
		}
	}
	return fmt.Sprintf("icmp-%d-%d", typ, code)
}
