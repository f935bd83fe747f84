//go:build linux

package trace

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// TestTCPProbeLoopback: on loopback (no router, so any TTL reaches the
// target) an open port ends the probe with a SYN-ACK and a closed one with
// an RST, over IPv4 and IPv6.
func TestTCPProbeLoopback(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
			if err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("no %s loopback here (CI=true: not skipping): %v", host, err)
				}
				t.Skipf("no %s loopback here: %v", host, err)
			}
			open := netip.MustParseAddrPort(ln.Addr().String())
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			closedLn, _ := net.Listen("tcp", net.JoinHostPort(host, "0"))
			closed := netip.MustParseAddrPort(closedLn.Addr().String())
			closedLn.Close()
			defer ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if r := TCPProbe(ctx, open, 1, func() {}); r.Kind != SynAck || r.From != open.Addr() {
				t.Errorf("TCPProbe(%s, ttl 1) = %+v, want syn-ack from %s", open, r, open.Addr())
			}
			if r := TCPProbe(ctx, closed, 1, func() {}); r.Kind != Reset || r.From != closed.Addr() {
				t.Errorf("TCPProbe(%s, ttl 1) = %+v, want rst from %s", closed, r, closed.Addr())
			}
			p := Sweep(ctx, closed, Options{Wait: time.Second}, TCPProbe)
			if p.Stop.Kind != Reset || p.Stop.TTL != 1 || len(p.Hops) != 1 {
				t.Errorf("Sweep(%s) = stop %+v, %d hops; want rst at hop 1", closed, p.Stop, len(p.Hops))
			}
		})
	}
}
