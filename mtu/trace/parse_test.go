package trace

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
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

// icmpMsg builds what a raw ICMP (v6: ICMPv6) socket reads, with the
// encoders of golang.org/x/net: an ICMP message of typ and code, from
// nobody in particular (the sender comes from recvfrom), quoting the IP
// header of a TCP packet of size bytes from src to dst and its ports.
// Error types x/net has no body for carry 4 zero bytes before the quote.
func icmpMsg(t testing.TB, v6 bool, typ, code uint8, size int, src, dst netip.AddrPort) []byte {
	t.Helper()
	var quoted []byte
	var mt icmp.Type = ipv4.ICMPType(typ)
	if v6 {
		mt = ipv6.ICMPType(typ)
		quoted = make([]byte, ipv6.HeaderLen)
		quoted[0] = 0x60
		binary.BigEndian.PutUint16(quoted[4:], uint16(size-ipv6.HeaderLen))
		quoted[6], quoted[7] = 6, 1
		a, b := src.Addr().As16(), dst.Addr().As16()
		copy(quoted[8:], a[:])
		copy(quoted[24:], b[:])
	} else {
		h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TotalLen: size, TTL: 1, Protocol: 6,
			Src: src.Addr().AsSlice(), Dst: dst.Addr().AsSlice()}
		var err error
		if quoted, err = h.Marshal(); err != nil {
			t.Fatalf("ipv4.Header.Marshal: %v", err)
		}
	}
	ports := make([]byte, 8)
	binary.BigEndian.PutUint16(ports[0:], src.Port())
	binary.BigEndian.PutUint16(ports[2:], dst.Port())
	quoted = append(quoted, ports...)
	var body icmp.MessageBody
	switch {
	case !v6 && typ == 3, v6 && typ == 1:
		body = &icmp.DstUnreach{Data: quoted}
	case !v6 && typ == 11, v6 && typ == 3:
		body = &icmp.TimeExceeded{Data: quoted}
	case !v6 && typ == 12, v6 && typ == 4:
		body = &icmp.ParamProb{Data: quoted}
	case v6 && typ == 2:
		body = &icmp.PacketTooBig{MTU: 1280, Data: quoted}
	default:
		body = &icmp.RawBody{Data: append(make([]byte, 4), quoted...)}
	}
	b, err := (&icmp.Message{Type: mt, Code: int(code), Body: body}).Marshal(nil)
	if err != nil {
		t.Fatalf("icmp.Message.Marshal: %v", err)
	}
	return b
}

func TestParseICMP(t *testing.T) {
	r1 := netip.MustParseAddr("198.18.1.1")
	src := netip.MustParseAddrPort("198.18.1.2:40000")
	dst := netip.MustParseAddrPort("198.18.3.10:25")
	q, err := ParseICMP(false, r1, icmpMsg(t, false, 11, 0, 1500, src, dst))
	want := Quote{From: r1, Type: 11, Code: 0, Size: 1500, Proto: 6, Src: src, Dst: dst}
	if err != nil || q != want {
		t.Errorf("ParseICMP(time exceeded) = %+v, %v; want %+v", q, err, want)
	}
	q, err = ParseICMP(false, r1, icmpMsg(t, false, 5, 1, 1400, src, dst))
	want = Quote{From: r1, Type: 5, Code: 1, Size: 1400, Proto: 6, Src: src, Dst: dst}
	if err != nil || q != want {
		t.Errorf("ParseICMP(redirect) = %+v, %v; want %+v", q, err, want)
	}
	if _, err := ParseICMP(false, r1, icmpMsg(t, false, 0, 0, 84, src, dst)); err == nil {
		t.Errorf("ParseICMP(echo reply) = nil error, want an error (quotes no packet)")
	}
	if _, err := ParseICMP(false, r1, icmpMsg(t, false, 13, 0, 84, src, dst)); err == nil {
		t.Errorf("ParseICMP(timestamp) = nil error, want an error (quotes no packet)")
	}
	b := icmpMsg(t, false, 11, 0, 1500, src, dst)
	if _, err := ParseICMP(false, r1, b[:len(b)-6]); !errors.Is(err, ErrShort) {
		t.Errorf("ParseICMP(cut in the ports) = %v, want ErrShort", err)
	}
	if _, err := ParseICMP(false, r1, b[:20]); !errors.Is(err, ErrShort) {
		t.Errorf("ParseICMP(cut in the quoted header) = %v, want ErrShort", err)
	}

	r16 := netip.MustParseAddr("2001:db8:1::1")
	src6 := netip.MustParseAddrPort("[2001:db8:1::2]:40000")
	dst6 := netip.MustParseAddrPort("[2001:db8:3::10]:25")
	q, err = ParseICMP(true, r16, icmpMsg(t, true, 3, 0, 1480, src6, dst6))
	want = Quote{From: r16, Type: 3, Size: 1480, Proto: 6, Src: src6, Dst: dst6}
	if err != nil || q != want {
		t.Errorf("ParseICMP(v6 time exceeded) = %+v, %v; want %+v", q, err, want)
	}
	q, err = ParseICMP(true, r16, icmpMsg(t, true, 2, 0, 1500, src6, dst6))
	want = Quote{From: r16, Type: 2, Size: 1500, Proto: 6, Src: src6, Dst: dst6}
	if err != nil || q != want {
		t.Errorf("ParseICMP(v6 packet too big) = %+v, %v; want %+v", q, err, want)
	}
	if _, err := ParseICMP(true, r16, []byte{129, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Errorf("ParseICMP(v6 echo reply) = nil error, want an error")
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

// FuzzParseExtErr: what extErr encodes, ParseExtErr gives back, for any
// origin, type, code and offender; and no input makes it panic.
func FuzzParseExtErr(f *testing.F) {
	f.Add(uint8(OriginICMP), uint8(11), uint8(0), []byte{198, 18, 2, 2}, []byte{})
	f.Add(uint8(OriginICMP6), uint8(1), uint8(1), netip.MustParseAddr("2001:db8::1").AsSlice(), []byte{1, 2})
	f.Add(uint8(OriginLocal), uint8(0), uint8(0), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, origin, typ, code uint8, offender, raw []byte) {
		_, _ = ParseExtErr(raw) // any bytes: an answer or an error, no panic
		off, _ := netip.AddrFromSlice(offender)
		if off.Is4In6() {
			off = off.Unmap()
		}
		e, err := ParseExtErr(extErr(origin, typ, code, off))
		want := ExtErr{Errno: 113, Origin: origin, Type: typ, Code: code, Offender: off}
		if err != nil || e != want {
			t.Fatalf("ParseExtErr(extErr(%d, %d, %d, %v)) = %+v, %v; want %+v", origin, typ, code, off, e, err, want)
		}
		_ = ReplyFromExtErr(e)
	})
}

// FuzzParseICMP: what icmpMsg encodes with x/net, ParseICMP gives back
// (an error message's type, code, quoted size, addresses and ports), or
// refuses when the type quotes no packet; and no input makes it panic.
func FuzzParseICMP(f *testing.F) {
	f.Add(false, uint8(11), uint8(0), uint16(1500), []byte{198, 18, 1, 2}, []byte{198, 18, 3, 10}, uint16(40000), uint16(25), []byte{})
	f.Add(true, uint8(3), uint8(0), uint16(1480), netip.MustParseAddr("2001:db8:1::2").AsSlice(), netip.MustParseAddr("2001:db8:3::10").AsSlice(), uint16(1), uint16(25), []byte{3, 0, 0, 0})
	f.Fuzz(func(t *testing.T, v6 bool, typ, code uint8, size uint16, srcIP, dstIP []byte, sport, dport uint16, raw []byte) {
		from := netip.MustParseAddr("198.18.1.1")
		if v6 {
			from = netip.MustParseAddr("2001:db8::1")
		}
		if q, err := ParseICMP(v6, from, raw); err == nil && (!q.Src.IsValid() || !q.Dst.IsValid()) {
			t.Fatalf("ParseICMP(%v, %x) = %+v with nil error, want valid addresses and ports", v6, raw, q)
		}
		n := 4
		if v6 {
			n = 16
		}
		if len(srcIP) != n || len(dstIP) != n || v6 && int(size) < ipv6.HeaderLen {
			return
		}
		s, _ := netip.AddrFromSlice(srcIP)
		d, _ := netip.AddrFromSlice(dstIP)
		src, dst := netip.AddrPortFrom(s.Unmap(), sport), netip.AddrPortFrom(d.Unmap(), dport)
		if v6 && (s.Is4In6() || d.Is4In6()) {
			return // the quote carries 16 bytes; Quote unmaps them
		}
		q, err := ParseICMP(v6, from, icmpMsg(t, v6, typ, code, int(size), src, dst))
		quotes := v6 && typ < 128 || !v6 && (typ == 3 || typ == 4 || typ == 5 || typ == 11 || typ == 12)
		if !quotes {
			if err == nil {
				t.Fatalf("ParseICMP(v6 %v, type %d) = %+v, nil error; want an error (quotes no packet)", v6, typ, q)
			}
			return
		}
		want := Quote{From: from, Type: typ, Code: code, Size: int(size), Proto: 6, Src: src, Dst: dst}
		if err != nil || q != want {
			t.Fatalf("ParseICMP(icmpMsg(v6 %v, type %d, code %d, size %d, %v, %v)) = %+v, %v; want %+v", v6, typ, code, size, src, dst, q, err, want)
		}
	})
}
