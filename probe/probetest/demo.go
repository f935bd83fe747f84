package probetest

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// demoZone is the embedded lab's DNS zone; PORT is replaced by the port the
// SMTP servers share on their loopback addresses.
const demoZone = `
demo.example.              300 IN MX 10 mx1.demo.example.
demo.example.              300 IN MX 20 slow.demo.example.
demo.example.              300 IN MX 30 idle.demo.example.
demo.example.              300 IN MX 40 closed.demo.example.
mx1.demo.example.          300 IN A 127.0.0.2
slow.demo.example.         300 IN A 127.0.0.3
idle.demo.example.         300 IN A 127.0.0.4
closed.demo.example.       300 IN A 127.0.0.5
2.0.0.127.in-addr.arpa.    300 IN PTR mx1.demo.example.
3.0.0.127.in-addr.arpa.    300 IN PTR slow.demo.example.
4.0.0.127.in-addr.arpa.    300 IN PTR idle.demo.example.
`

// DemoLab is the lab of `smtpprobe demo` and of the command line's tests: a DNS server and go-smtp servers on
// loopback addresses that share one port, so that MX records (which carry
// no port) can point at them.
type DemoLab struct {
	DNS     *DNSServer
	Servers []*SMTPServer  // mx1, slow, idle
	Port    uint16         // the port they share
	Idle    netip.AddrPort // the idle server
}

// Close stops the servers.
func (l *DemoLab) Close() {
	for _, s := range l.Servers {
		s.Close()
	}
	if l.DNS != nil {
		l.DNS.Close()
	}
}

// StartDemoLab starts the servers on 127.0.0.2-5 (see demoZone): a healthy one with STARTTLS, one that
// greets late, one that hangs up on idle clients with 421 4.4.2, and a
// closed port.
func StartDemoLab(idleFor time.Duration) (*DemoLab, error) {
	l := &DemoLab{}
	specs := []SMTPOptions{
		{Domain: "mx1.demo.example", TLS: true},
		{Domain: "slow.demo.example", GreetDelay: 1500 * time.Millisecond},
		{Domain: "idle.demo.example", ReadTimeout: idleFor},
	}
	var lastErr error
	for try := 0; try < 20 && l.Servers == nil; try++ {
		servers, err := StartOnOnePort(specs, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, "127.0.0.5")
		if err != nil {
			lastErr = err
			continue
		}
		l.Servers = servers
	}
	if l.Servers == nil {
		return nil, fmt.Errorf("demo lab: no free port shared by 127.0.0.2-5: %v", lastErr)
	}
	l.Port = l.Servers[0].Addr.Port()
	l.Idle = l.Servers[2].Addr
	d, err := StartDNS("127.0.0.1:0", demoZone)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("demo lab DNS: %w", err)
	}
	l.DNS = d
	return l, nil
}

// StartOnOnePort starts one server per address on a common port, and
// checks that the port is closed on closedIP.
func StartOnOnePort(specs []SMTPOptions, ips []string, closedIP string) ([]*SMTPServer, error) {
	var out []*SMTPServer
	fail := func(err error) ([]*SMTPServer, error) {
		for _, s := range out {
			s.Close()
		}
		return nil, err
	}
	port := "0"
	for i, spec := range specs {
		s, err := StartSMTP(net.JoinHostPort(ips[i], port), spec)
		if err != nil {
			return fail(err)
		}
		out = append(out, s)
		port = fmt.Sprint(s.Addr.Port())
	}
	// The closed address must refuse: make sure nothing listens there.
	ln, err := net.Listen("tcp", net.JoinHostPort(closedIP, port))
	if err != nil {
		return fail(fmt.Errorf("port %s on %s is in use", port, closedIP))
	}
	ln.Close()
	return out, nil
}
