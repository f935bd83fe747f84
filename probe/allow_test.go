package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

var errTestPolicy = errors.New("not allowed by the test")

// TestAllowRefusesBeforeAnySession: a domain whose exchangers include an
// address that Allow refuses gets a *PolicyError from Run, and no session
// reaches any of its addresses, the allowed one included.
func TestAllowRefusesBeforeAnySession(t *testing.T) {
	t.Parallel()
	var accepted atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := netip.MustParseAddrPort(ln.Addr().String()).Port()
	dns, err := probetest.StartDNS("127.0.0.1:0", `
example.com. 0 IN MX 10 in.example.com.
example.com. 0 IN MX 20 out.example.com.
in.example.com. 0 IN A 127.0.0.1
out.example.com. 0 IN A 127.0.0.9
`)
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	allowed := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", port))
	p := &Prober{ConnectTimeout: 2 * time.Second, ReplyTimeout: 2 * time.Second,
		Allow: func(ap netip.AddrPort) error {
			if ap == allowed {
				return nil
			}
			return errTestPolicy
		}}
	res := &dnscheck.Resolver{Servers: []string{dns.Addr}}
	rep, err := p.RunMX(context.Background(), res, "example.com", RunOptions{Port: port, NoPTR: true})
	var pe *wire.PolicyError
	if !errors.As(err, &pe) || pe.Addr.Addr() != netip.MustParseAddr("127.0.0.9") || pe.Host != "out.example.com" ||
		!errors.Is(err, errTestPolicy) || rep != nil {
		t.Fatalf("MX(one exchanger refused) = %v, %v; want a *PolicyError for 127.0.0.9 of out.example.com and no report", rep, err)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("sessions after a refused address = %d, want 0 (none starts)", n)
	}

	// Dial refuses on its own too, before any packet: the last line.
	c, err := p.Dial(context.Background(), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port+0))
	if err != nil {
		t.Fatalf("Dial(allowed) = %v", err)
	}
	c.Close()
	_, err = (&Prober{Allow: func(netip.AddrPort) error { return errTestPolicy }}).Dial(context.Background(), allowed)
	var de *wire.DialError
	if !errors.As(err, &de) || !errors.As(err, &pe) || Classify(err) != Unreachable {
		t.Errorf("Dial(refused) = %v, want a *DialError (unreachable) wrapping a *PolicyError", err)
	}
	time.Sleep(50 * time.Millisecond) // let the accept loop count
	if n := accepted.Load(); n != 1 {
		t.Errorf("connections = %d, want exactly 1 (the allowed dial)", n)
	}
}
