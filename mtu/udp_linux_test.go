//go:build linux

package mtu

import (
	"context"
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
