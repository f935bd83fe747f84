//go:build linux

package mtu

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// TestSendDFLoopback: a DF datagram to a closed port on loopback draws the
// kernel's own port unreachable, which IP_RECVERR hands back; one to an
// open port arrives (and nothing answers). Both families.
func TestSendDFLoopback(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
	}{{"ipv4", "127.0.0.1"}, {"ipv6", "::1"}} {
		t.Run(tc.name, func(t *testing.T) {
			dst := netip.MustParseAddr(tc.addr)
			pc, err := net.ListenPacket("udp", net.JoinHostPort(tc.addr, "0"))
			if err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("no %s loopback (CI=true: not skipping): %v", tc.name, err)
				}
				t.Skipf("no %s loopback: %v", tc.name, err)
			}
			open := pc.LocalAddr().(*net.UDPAddr).Port
			pc.Close() // now closed: the kernel answers port unreachable
			r, err := SendDF(context.Background(), dst, open, 1400, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if r.Answer != DFArrived || r.From != dst || r.Size != 1400 {
				t.Errorf("closed port: %+v, want port-unreachable from %s", r, dst)
			}
			pc, err = net.ListenPacket("udp", net.JoinHostPort(tc.addr, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			port := pc.LocalAddr().(*net.UDPAddr).Port
			r, err = SendDF(context.Background(), dst, port, 1400, 100*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if r.Answer != DFSilent {
				t.Errorf("open port: %+v, want silent", r)
			}
			buf := make([]byte, 2000)
			_ = pc.SetReadDeadline(time.Now().Add(time.Second))
			n, _, err := pc.ReadFrom(buf)
			hdr := 28
			if dst.Is6() {
				hdr = 48
			}
			if err != nil || n != 1400-hdr {
				t.Errorf("open port received %d bytes (%v), want %d", n, err, 1400-hdr)
			}
		})
	}
}

// TestCheckDFNoAnswer: a control that draws nothing (a port nobody answers
// for: the datagram is received and ignored) makes the check unknown, never
// a black hole.
func TestCheckDFNoAnswer(t *testing.T) {
	c, err := CheckDF(context.Background(), netip.MustParseAddr("127.0.0.1"), 1400, 1400, 50*time.Millisecond)
	if err != nil || c.Verdict != DFUnknown || len(c.Replies) != 0 {
		t.Errorf("ctl == hi: %+v %v, want unknown without datagrams", c, err)
	}
}

// TestMatchICMP4: the raw ICMP socket's packets are matched to our datagram
// by the quoted IPv4 and UDP headers (RFC 792: the original IP header and
// its first 8 bytes), and read as too-big (with the next-hop MTU, RFC 1191
// §4), port unreachable or another error.
func TestMatchICMP4(t *testing.T) {
	dst := [4]byte{198, 18, 3, 10}
	pkt := func(from [4]byte, typ, code byte, mtu uint16, qdst [4]byte, proto byte, sport, dport uint16) []byte {
		b := make([]byte, 20+8+20+8)
		b[0] = 0x45
		b[9] = 1 // ICMP
		copy(b[12:16], from[:])
		icmp := b[20:]
		icmp[0], icmp[1] = typ, code
		binary.BigEndian.PutUint16(icmp[6:], mtu)
		in := icmp[8:]
		in[0] = 0x45
		in[9] = proto
		copy(in[16:20], qdst[:])
		binary.BigEndian.PutUint16(in[20:], sport)
		binary.BigEndian.PutUint16(in[22:], dport)
		return b
	}
	hop := [4]byte{198, 18, 1, 1}
	for _, tc := range []struct {
		name   string
		p      []byte
		ok     bool
		answer DFAnswer
		mtu    int
		from   string
	}{
		{"frag needed from the hop", pkt(hop, 3, 4, 1400, dst, 17, 50000, DFPort), true, DFTooBig, 1400, "198.18.1.1"},
		{"port unreachable from the target", pkt(dst, 3, 3, 0, dst, 17, 50000, DFPort), true, DFArrived, 0, "198.18.3.10"},
		{"admin prohibited", pkt(hop, 3, 13, 0, dst, 17, 50000, DFPort), true, DFOther, 0, "198.18.1.1"},
		{"another source port", pkt(hop, 3, 4, 1400, dst, 17, 50001, DFPort), false, "", 0, ""},
		{"another destination", pkt(hop, 3, 4, 1400, [4]byte{198, 18, 3, 11}, 17, 50000, DFPort), false, "", 0, ""},
		{"TCP quoted", pkt(hop, 3, 4, 1400, dst, 6, 50000, DFPort), false, "", 0, ""},
		{"an echo reply", pkt(hop, 0, 0, 0, dst, 17, 50000, DFPort), false, "", 0, ""},
		{"truncated", pkt(hop, 3, 4, 1400, dst, 17, 50000, DFPort)[:40], false, "", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r DFReply
			ok := matchICMP4(tc.p, dst, 50000, DFPort, &r)
			if ok != tc.ok || ok && (r.Answer != tc.answer || r.MTU != tc.mtu || r.From.String() != tc.from) {
				t.Errorf("matchICMP4 = %v %+v, want %v %s mtu %d from %s", ok, r, tc.ok, tc.answer, tc.mtu, tc.from)
			}
		})
	}
}
