package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
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

// ParseICMPv4 parses a packet read from an AF_INET SOCK_RAW IPPROTO_ICMP
// socket: the IPv4 header, the ICMP header (RFC 792) and the quoted IPv4
// header with the first 8 bytes of its payload (for TCP, the ports).
// Only error messages (destination unreachable, time exceeded, parameter
// problem, source quench, redirect) quote a packet; others are an error.
func ParseICMPv4(b []byte) (Quote, error) {
	ihl, err := ipv4HeaderLen(b)
	if err != nil {
		return Quote{}, fmt.Errorf("outer IPv4 header: %w", err)
	}
	if b[9] != 1 {
		return Quote{}, fmt.Errorf("outer IPv4 header: protocol %d, not ICMP", b[9])
	}
	q := Quote{From: netip.AddrFrom4([4]byte(b[12:16]))}
	icmp := b[ihl:]
	if len(icmp) < 8 {
		return q, fmt.Errorf("ICMP header: %d bytes: %w", len(icmp), ErrShort)
	}
	q.Type, q.Code = icmp[0], icmp[1]
	switch q.Type {
	case 3, 4, 5, 11, 12:
	default:
		return q, fmt.Errorf("ICMP type %d quotes no packet", q.Type)
	}
	in := icmp[8:]
	qihl, err := ipv4HeaderLen(in)
	if err != nil {
		return q, fmt.Errorf("quoted IPv4 header: %w", err)
	}
	q.Size = int(binary.BigEndian.Uint16(in[2:4]))
	q.Proto = in[9]
	src, dst := netip.AddrFrom4([4]byte(in[12:16])), netip.AddrFrom4([4]byte(in[16:20]))
	ports := in[qihl:]
	if len(ports) < 4 {
		return q, fmt.Errorf("quoted ports: %d bytes: %w", len(ports), ErrShort)
	}
	q.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[0:]))
	q.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:]))
	return q, nil
}

func ipv4HeaderLen(b []byte) (int, error) {
	if len(b) < 20 {
		return 0, fmt.Errorf("%d bytes: %w", len(b), ErrShort)
	}
	if v := b[0] >> 4; v != 4 {
		return 0, fmt.Errorf("version %d, not 4", v)
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return 0, fmt.Errorf("header length %d below 20", ihl)
	}
	if len(b) < ihl {
		return 0, fmt.Errorf("header length %d, have %d bytes: %w", ihl, len(b), ErrShort)
	}
	return ihl, nil
}

// ParseICMPv6 parses a message read from an AF_INET6 SOCK_RAW
// IPPROTO_ICMPV6 socket (which delivers no IPv6 header; from is the
// recvfrom address): the ICMPv6 header (RFC 4443 §2.1) and the quoted IPv6
// header with, for TCP without extension headers, the ports. Only error
// messages (types below 128) quote a packet.
func ParseICMPv6(from netip.Addr, b []byte) (Quote, error) {
	q := Quote{From: from}
	if len(b) < 8 {
		return q, fmt.Errorf("ICMPv6 header: %d bytes: %w", len(b), ErrShort)
	}
	q.Type, q.Code = b[0], b[1]
	if q.Type >= 128 {
		return q, fmt.Errorf("ICMPv6 type %d is not an error message", q.Type)
	}
	in := b[8:]
	if len(in) < 40 {
		return q, fmt.Errorf("quoted IPv6 header: %d bytes: %w", len(in), ErrShort)
	}
	if v := in[0] >> 4; v != 6 {
		return q, fmt.Errorf("quoted IPv6 header: version %d, not 6", v)
	}
	q.Size = 40 + int(binary.BigEndian.Uint16(in[4:6]))
	q.Proto = in[6]
	src, dst := netip.AddrFrom16([16]byte(in[8:24])), netip.AddrFrom16([16]byte(in[24:40]))
	ports := in[40:]
	if len(ports) < 4 {
		return q, fmt.Errorf("quoted ports: %d bytes: %w", len(ports), ErrShort)
	}
	q.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[0:]))
	q.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:]))
	return q, nil
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
