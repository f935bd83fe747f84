package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

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
		return 0, usagef("--idle-timeout %s: want a duration from 1ms to 1m", units.Setting(*idleFor))
	}
	lab, err := probetest.StartDemoLab(*idleFor)
	if err != nil {
		return 0, err
	}
	defer lab.Close()

	cf := outputFlags{Output: job.Output{Format: "text"}, verbose: *verbose}
	if *jsonOut {
		cf.Format = "json"
	}
	res := &dnscheck.Resolver{Servers: []string{lab.DNS.Addr}, Timeout: time.Second}
	p := &probe.Prober{ConnectTimeout: 2 * time.Second, ReplyTimeout: 5 * time.Second, Helo: "probe.demo.example"}
	var out bytes.Buffer
	if !*jsonOut {
		fmt.Fprintf(&out, "Embedded lab: DNS on %s serves demo.example; SMTP on port %d:\n", lab.DNS.Addr, lab.Port)
		fmt.Fprintf(&out, "  mx1    127.0.0.2  healthy go-smtp server with STARTTLS (self-signed)\n")
		fmt.Fprintf(&out, "  slow   127.0.0.3  greets after 1.5s\n")
		fmt.Fprintf(&out, "  idle   127.0.0.4  hangs up on a client quiet for %s (421 4.4.2)\n", units.Setting(*idleFor))
		fmt.Fprintf(&out, "  closed 127.0.0.5  nothing listens\n\n")
		fmt.Fprintf(&out, "$ smtpprobe mx demo.example:%d --resolver %s\n", lab.Port, lab.DNS.Addr)
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return 0, err
	}
	rep, err := p.RunMX(ctx, res, "demo.example", probe.RunOptions{Port: lab.Port, Parallel: 8})
	if err != nil {
		return 0, err
	}
	code, err := emit(rep, &cf, stdout)
	if err != nil || *jsonOut {
		return 0, err
	}
	fmt.Fprintf(stdout, "\n(smtpprobe mx would exit %d here: %s)\n", code, probe.Status(code))
	fmt.Fprintf(stdout, "\nThe same engine notices what a server does while the client is quiet:\n")
	fmt.Fprintf(stdout, "$ smtpprobe timeout %s --phase ehlo -v\n", lab.Idle)
	t := probe.Target{Host: lab.Idle.Addr().String(), Addr: lab.Idle, Preference: -1}
	started := time.Now()
	r, _ := p.Timeout(ctx, t, probe.TimeoutOptions{Phase: "ehlo", MaxWait: 10 * *idleFor}) // the result tells a failure
	idle := &probe.Report{Command: "timeout", Target: t.Host, Started: started, Outcome: r.Outcome,
		Results: []probe.Result{r}, Findings: r.Findings, Duration: time.Since(started)}
	if _, err = emit(idle, &outputFlags{Output: job.Output{Format: "text"}, verbose: true}, stdout); err != nil {
		return 0, err
	}
	// This demo stays rootless and offline; the PMTU black hole needs
	// routers, so it has its own demo on the namespace lab.
	_, err = fmt.Fprintf(stdout, "\nA PMTU black hole needs routers: as root, in a checkout, `make demo-blackhole`\n"+
		"builds a namespace lab with one and runs mx, mtu and path on it (about 10s).\n")
	return 0, err
}
