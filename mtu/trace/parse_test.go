package trace

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// extErr builds the data of an IP_RECVERR control message.
func extErr(origin, typ, code uint8, offender netip.Addr) []byte {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint32(b[0:], 113) // EHOSTUNREACH
	b[4], b[5], b[6] = origin, typ, code
	switch {
	case offender.Is4():
		sa := make([]byte, 16)
		binary.NativeEndian.PutUint16(sa, afInet)
		a := offender.As4()
		copy(sa[4:], a[:])
		b = append(b, sa...)
	case offender.Is6():
		sa := make([]byte, 28)
		binary.NativeEndian.PutUint16(sa, afInet6)
		a := offender.As16()
		copy(sa[8:], a[:])
		b = append(b, sa...)
	default:
		b = append(b, make([]byte, 16)...) // AF_UNSPEC
	}
	return b
}

func TestParseExtErr(t *testing.T) {
	v4, v6 := netip.MustParseAddr("198.18.2.2"), netip.MustParseAddr("2001:db8:2::2")
	tests := []struct {
		name    string
		in      []byte
		want    ExtErr
		wantErr error
	}{
		{"time exceeded from a v4 router", extErr(OriginICMP, 11, 0, v4), ExtErr{Errno: 113, Origin: 2, Type: 11, Offender: v4}, nil},
		{"admin prohibited from a v6 host", extErr(OriginICMP6, 1, 1, v6), ExtErr{Errno: 113, Origin: 3, Type: 1, Code: 1, Offender: v6}, nil},
		{"local error, no offender", extErr(OriginLocal, 0, 0, netip.Addr{}), ExtErr{Errno: 113, Origin: 1}, nil},
		{"short", make([]byte, 10), ExtErr{}, ErrShort},
		{"short sockaddr_in6", extErr(OriginICMP6, 1, 1, v6)[:30], ExtErr{Errno: 113, Origin: 3, Type: 1, Code: 1}, ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExtErr(tt.in)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ParseExtErr() = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// icmp4 builds what an AF_INET raw ICMP socket reads: an outer IPv4 header
// from `from`, an ICMP header, and a quoted IPv4+TCP header of a packet of
// totalLen bytes from src to dst.
func icmp4(from netip.Addr, typ, code uint8, totalLen int, src, dst netip.AddrPort) []byte {
	ip := func(tot int, proto uint8, s, d netip.Addr) []byte {
		h := make([]byte, 20)
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(tot))
		h[8], h[9] = 64, proto
		a, b := s.As4(), d.As4()
		copy(h[12:], a[:])
		copy(h[16:], b[:])
		return h
	}
	quoted := ip(totalLen, 6, src.Addr(), dst.Addr())
	ports := make([]byte, 8)
	binary.BigEndian.PutUint16(ports[0:], src.Port())
	binary.BigEndian.PutUint16(ports[2:], dst.Port())
	icmp := append([]byte{typ, code, 0, 0, 0, 0, 0, 0}, append(quoted, ports...)...)
	return append(ip(20+len(icmp), 1, from, src.Addr()), icmp...)
}

func icmp6(typ, code uint8, payloadLen int, src, dst netip.AddrPort) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(payloadLen))
	h[6], h[7] = 6, 1
	a, b := src.Addr().As16(), dst.Addr().As16()
	copy(h[8:], a[:])
	copy(h[24:], b[:])
	ports := make([]byte, 8)
	binary.BigEndian.PutUint16(ports[0:], src.Port())
	binary.BigEndian.PutUint16(ports[2:], dst.Port())
	return append(append([]byte{typ, code, 0, 0, 0, 0, 0, 0}, h...), ports...)
}

func TestParseICMP(t *testing.T) {
	r1 := netip.MustParseAddr("198.18.1.1")
	src := netip.MustParseAddrPort("198.18.1.2:40000")
	dst := netip.MustParseAddrPort("198.18.3.10:25")
	q, err := ParseICMPv4(icmp4(r1, 11, 0, 1500, src, dst))
	want := Quote{From: r1, Type: 11, Code: 0, Size: 1500, Proto: 6, Src: src, Dst: dst}
	if err != nil || q != want {
		t.Errorf("ParseICMPv4(time exceeded) = %+v, %v; want %+v", q, err, want)
	}
	if _, err := ParseICMPv4(icmp4(r1, 0, 0, 84, src, dst)); err == nil {
		t.Errorf("ParseICMPv4(echo reply) = nil error, want an error (quotes no packet)")
	}
	b := icmp4(r1, 11, 0, 1500, src, dst)
	if _, err := ParseICMPv4(b[:len(b)-6]); !errors.Is(err, ErrShort) {
		t.Errorf("ParseICMPv4(cut in the ports) = %v, want ErrShort", err)
	}

	r16 := netip.MustParseAddr("2001:db8:1::1")
	src6 := netip.MustParseAddrPort("[2001:db8:1::2]:40000")
	dst6 := netip.MustParseAddrPort("[2001:db8:3::10]:25")
	q, err = ParseICMPv6(r16, icmp6(3, 0, 1440, src6, dst6))
	want = Quote{From: r16, Type: 3, Size: 1480, Proto: 6, Src: src6, Dst: dst6}
	if err != nil || q != want {
		t.Errorf("ParseICMPv6(time exceeded) = %+v, %v; want %+v", q, err, want)
	}
	if _, err := ParseICMPv6(r16, []byte{129, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Errorf("ParseICMPv6(echo reply) = nil error, want an error")
	}
}

func TestClass(t *testing.T) {
	tests := []struct {
		v6        bool
		typ, code uint8
		want      string
	}{
		{false, 11, 0, "time-exceeded"},
		{false, 3, 13, "admin-prohibited"},
		{false, 3, 10, "admin-prohibited"},
		{false, 3, 1, "host-unreachable"},
		{false, 3, 0, "net-unreachable"},
		{false, 3, 3, "port-unreachable"},
		{false, 3, 4, "frag-needed"},
		{false, 5, 1, "icmp-5-1"},
		{true, 3, 0, "time-exceeded"},
		{true, 1, 1, "admin-prohibited"},
		{true, 1, 6, "admin-prohibited"},
		{true, 1, 3, "host-unreachable"},
		{true, 1, 0, "net-unreachable"},
		{true, 1, 4, "port-unreachable"},
		{true, 2, 0, "frag-needed"},
		{true, 4, 0, "icmp6-4-0"},
	}
	for _, tt := range tests {
		if got := Class(tt.v6, tt.typ, tt.code); got != tt.want {
			t.Errorf("Class(%v, %d, %d) = %q, want %q", tt.v6, tt.typ, tt.code, got, tt.want)
		}
	}
}

func FuzzParseExtErr(f *testing.F) {
	f.Add(extErr(OriginICMP, 11, 0, netip.MustParseAddr("198.18.2.2")))
	f.Add(extErr(OriginICMP6, 1, 1, netip.MustParseAddr("2001:db8::1")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseExtErr(b)
		if err == nil && len(b) < 16 {
			t.Fatalf("ParseExtErr(%d bytes) = %+v, nil error; want an error below 16 bytes", len(b), e)
		}
		_ = ReplyFromExtErr(e)
	})
}

func FuzzParseICMP(f *testing.F) {
	src := netip.MustParseAddrPort("198.18.1.2:40000")
	dst := netip.MustParseAddrPort("198.18.3.10:25")
	f.Add(icmp4(netip.MustParseAddr("198.18.1.1"), 11, 0, 1500, src, dst), false)
	f.Add(icmp6(3, 0, 1440, netip.MustParseAddrPort("[2001:db8:1::2]:1"), netip.MustParseAddrPort("[2001:db8:3::10]:25")), true)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		var q Quote
		var err error
		if v6 {
			q, err = ParseICMPv6(netip.MustParseAddr("2001:db8::1"), b)
		} else {
			q, err = ParseICMPv4(b)
		}
		if err == nil && (q.Size < 0 || !q.Src.IsValid() || !q.Dst.IsValid()) {
			t.Fatalf("parse(%x) = %+v with nil error, want valid ports and size", b, q)
		}
	})
}
