package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
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

// demoLab is the embedded lab: a DNS server and go-smtp servers on
// loopback addresses that share one port, so that MX records (which carry
// no port) can point at them.
type demoLab struct {
	dns     *probetest.DNSServer
	servers []*probetest.SMTPServer
	port    uint16
	idle    netip.AddrPort
	idleFor time.Duration
}

func (l *demoLab) Close() {
	for _, s := range l.servers {
		s.Close()
	}
	if l.dns != nil {
		l.dns.Close()
	}
}

// startDemoLab starts the servers: a healthy one with STARTTLS, one that
// greets late, one that hangs up on idle clients with 421 4.4.2, and a
// closed port.
func startDemoLab(idleFor time.Duration) (*demoLab, error) {
	l := &demoLab{idleFor: idleFor}
	specs := []probetest.SMTPOptions{
		{Domain: "mx1.demo.example", TLS: true},
		{Domain: "slow.demo.example", GreetDelay: 1500 * time.Millisecond},
		{Domain: "idle.demo.example", ReadTimeout: idleFor},
	}
	var lastErr error
	for try := 0; try < 20 && l.servers == nil; try++ {
		servers, err := startOnOnePort(specs, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, "127.0.0.5")
		if err != nil {
			lastErr = err
			continue
		}
		l.servers = servers
	}
	if l.servers == nil {
		return nil, fmt.Errorf("demo lab: no free port shared by 127.0.0.2-5: %v", lastErr)
	}
	l.port = l.servers[0].Addr.Port()
	l.idle = l.servers[2].Addr
	d, err := probetest.StartDNS("127.0.0.1:0", demoZone)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("demo lab DNS: %w", err)
	}
	l.dns = d
	return l, nil
}

// startOnOnePort starts one server per address on a common port, and
// checks that the port is closed on closedIP.
func startOnOnePort(specs []probetest.SMTPOptions, ips []string, closedIP string) ([]*probetest.SMTPServer, error) {
	var out []*probetest.SMTPServer
	fail := func(err error) ([]*probetest.SMTPServer, error) {
		for _, s := range out {
			s.Close()
		}
		return nil, err
	}
	port := "0"
	for i, spec := range specs {
		s, err := probetest.StartSMTP(net.JoinHostPort(ips[i], port), spec)
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

// runDemo implements `smtpprobe demo`.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	verbose := fs.BoolP("verbose", "v", false, "show each session's timeline")
	jsonOut := fs.Bool("json", false, "print the mx report as JSON only")
	idleFor := fs.Duration("idle-timeout", 2*time.Second, "the idle server's timeout (its go-smtp ReadTimeout)")
	if err := parseFlags(fs, args, stdout, "smtpprobe demo [flags]"); err != nil {
		return 0, err
	}
	if fs.NArg() != 0 {
		return 0, usagef("demo takes no arguments")
	}
	if *idleFor <= 0 || *idleFor > time.Minute {
		return 0, usagef("--idle-timeout %s: want a duration from 1ms to 1m", *idleFor)
	}
	lab, err := startDemoLab(*idleFor)
	if err != nil {
		return 0, err
	}
	defer lab.Close()

	cf := outputFlags{format: "text", verbose: *verbose}
	if *jsonOut {
		cf.format = "json"
	}
	res := &dnscheck.Resolver{Servers: []string{lab.dns.Addr}, Timeout: time.Second}
	p := &probe.Prober{ConnectTimeout: 2 * time.Second, ReplyTimeout: 5 * time.Second, Helo: "probe.demo.example"}
	var out bytes.Buffer
	if !*jsonOut {
		fmt.Fprintf(&out, "Embedded lab: DNS on %s serves demo.example; SMTP on port %d:\n", lab.dns.Addr, lab.port)
		fmt.Fprintf(&out, "  mx1    127.0.0.2  healthy go-smtp server with STARTTLS (self-signed)\n")
		fmt.Fprintf(&out, "  slow   127.0.0.3  greets after 1.5 s\n")
		fmt.Fprintf(&out, "  idle   127.0.0.4  hangs up on a client quiet for %s (421 4.4.2)\n", *idleFor)
		fmt.Fprintf(&out, "  closed 127.0.0.5  nothing listens\n\n")
		fmt.Fprintf(&out, "$ smtpprobe mx demo.example:%d --resolver %s\n", lab.port, lab.dns.Addr)
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return 0, err
	}
	rep, err := p.MX(ctx, res, "demo.example", probe.RunOptions{Port: lab.port, Parallel: 8})
	if err != nil {
		return 0, err
	}
	code, err := emit(rep, &cf, stdout)
	if err != nil || *jsonOut {
		return 0, err
	}
	fmt.Fprintf(stdout, "\n(smtpprobe mx would exit %d here: %s)\n", code, probe.Status(code))
	fmt.Fprintf(stdout, "\nThe same engine notices what a server does while the client is quiet:\n")
	fmt.Fprintf(stdout, "$ smtpprobe timeout %s --phase ehlo -v\n", lab.idle)
	t := probe.Target{Host: lab.idle.Addr().String(), Addr: lab.idle, Preference: -1}
	started := time.Now()
	r := p.Timeout(ctx, t, "ehlo", probe.TimeoutOptions{MaxWait: 10 * *idleFor})
	idle := &probe.Report{Command: "timeout", Target: t.Host, Started: started, Outcome: r.Outcome,
		Results: []probe.Result{r}, Findings: r.Findings, DurationMS: time.Since(started).Milliseconds()}
	_, err = emit(idle, &outputFlags{format: "text", verbose: true}, stdout)
	return 0, err
}
