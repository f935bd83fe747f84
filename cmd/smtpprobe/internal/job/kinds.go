package job

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe"
)

// Kind is one probe kind as the run layer knows it. Each row of Kinds
// holds everything about one kind: its name, its reference entry, the
// threshold keys it measures, its defaults, its validation and how it
// runs on each address of a target.
//
// A new probe kind is then one engine file (probe/K.go with
// func (p *Prober) K(ctx context.Context, t Target, opt KOptions) (Result, error)),
// one row here (and its options as a field of Job), and one flags file in
// cmd/smtpprobe (K.go, which registers the command line's flags for it).
type Kind struct {
	Name string
	// Help is the kind's reference entry: summary, synopsis, about and
	// examples; the flags file adds the flags.
	Help help.Command
	// Thresholds are the threshold keys (ThresholdHelp) the kind
	// measures; nil means any.
	Thresholds []string
	defaults   func(j *Job)                        // after the shared ones (New)
	validate   func(j *Job) error                  // after the shared checks and the target's (Validate)
	tune       func(j *Job, opt *probe.RunOptions) // the run's settings beyond the shared ones (Run)
	parts      func(j *Job) int                    // sessions per address, run at once; nil means 1
	policy     bool                                // a domain's run adds its MTA-STS, TLS-RPT and DANE verdicts
	after      func(j *Job, rep *probe.Report)     // what the kind adds to the report once its sessions ran
	probe      func(ctx context.Context, j *Job, p *probe.Prober, t probe.Target, part int) (probe.Result, error)
}

// Kinds are the probe kinds, in the order the reference lists them.
var Kinds = []Kind{{
	Name: "mx",
	Help: help.Command{
		Name:     "mx",
		Summary:  "check every MX address of DOMAIN: connect, banner, EHLO, STARTTLS, certificate",
		Synopsis: "smtpprobe mx DOMAIN[:PORT] [flags]",
		About:    "Resolves the domain's MX (RFC 5321 §5.1), opens one session to every address and times each phase on the wire. Exit 0 OK, 1 WARNING (some addresses fail), 2 CRITICAL (none works), 3 UNKNOWN.",
		Examples: []string{
			"smtpprobe mx example.com                      # every exchanger, text",
			"smtpprobe mx example.com --json               # one JSON document",
			"smtpprobe mx example.com -q --format nagios   # a Nagios/Icinga check",
			"smtpprobe mx example.com:2525 -4 --no-ptr     # another port, IPv4 only",
		},
	},
	Thresholds: []string{"time", "cert", "transient"},
	tune:       func(j *Job, opt *probe.RunOptions) { opt.NoPTR, opt.NoPolicy = j.NoPTR, j.NoPolicy },
	policy:     true,
	after: func(j *Job, rep *probe.Report) {
		if _, err := netip.ParseAddr(j.host); err == nil {
			// An address, as check_smtp -H takes one: probed as it is.
			rep.Findings = append(rep.Findings, probe.Finding{Severity: probe.SevInfo, Code: dnscheck.CodeMXAddress,
				Message: fmt.Sprintf("%s is an address: probed directly, without an MX lookup or the domain's MTA-STS and DANE policies; give the domain to check its MX", j.host)})
			probe.SortFindings(rep.Findings)
		}
	},
	probe: func(ctx context.Context, j *Job, p *probe.Prober, t probe.Target, _ int) (probe.Result, error) {
		return p.MX(ctx, t, probe.MXOptions{})
	},
}, {
	Name: "session",
	Help: help.Command{
		Name:     "session",
		Summary:  "one scripted transaction per address, with pauses; nothing is delivered unless --deliver",
		Synopsis: "smtpprobe session TARGET[:PORT] [flags]",
		About:    "Runs EHLO, MAIL, RCPT, DATA and a generated message against every address of TARGET (a domain, a host name or an IP literal; an IPv6 literal with a port is written [ADDRESS]:PORT), and ends with RSET instead of the final dot unless --deliver.",
		Examples: []string{
			"smtpprobe session mx1.example.com --to postmaster@example.com",
			"smtpprobe session 192.0.2.10 --to user@example.com --size 10485760 --starttls",
			"smtpprobe session example.com --pause-after-data 30s   # a slow client",
			"smtpprobe session [2001:db8::25]:587 --to user@example.com --bdat",
		},
	},
	Thresholds: []string{"time", "cert", "transient"},
	defaults:   func(j *Job) { j.Session.Size = DefaultSize },
	validate:   (*Job).validateSession,
	probe: func(ctx context.Context, j *Job, p *probe.Prober, t probe.Target, _ int) (probe.Result, error) {
		return p.Session(ctx, t, j.Session)
	},
}, {
	Name: "timeout",
	Help: help.Command{
		Name:     "timeout",
		Summary:  "measure how long the server waits on an idle session, per phase",
		Synopsis: "smtpprobe timeout TARGET[:PORT] [--phase PHASE|all] [flags]",
		About:    "Drives a session to each phase, goes quiet and times how long the server waits before it hangs up. RFC 5321 §4.5.3.2.7 asks servers to wait at least 5 minutes. Pass a recipient the server accepts with --to.",
		Examples: []string{
			"smtpprobe timeout mx1.example.com --to postmaster@example.com",
			"smtpprobe timeout 192.0.2.10 --phase ehlo --max-wait 10m",
			"smtpprobe timeout example.com --phase data --pause-after-data 60s  # fits?",
		},
	},
	Thresholds: []string{"time", "timeout", "transient"},
	defaults: func(j *Job) {
		j.Phase = "all"
		j.Timeout.MaxWait = probe.DefaultMaxWait
	},
	validate: (*Job).validateTimeout,
	// Every phase is a session of its own, all at once, so that the wall
	// time is about the longest timeout rather than the sum.
	parts: func(j *Job) int { return len(j.phases) },
	probe: func(ctx context.Context, j *Job, p *probe.Prober, t probe.Target, part int) (probe.Result, error) {
		o := j.Timeout
		o.Phase = j.phases[part]
		return p.Timeout(ctx, t, o)
	},
}, {
	Name: "mtu",
	Help: help.Command{
		Name:     "mtu",
		Summary:  "bracket the path MTU with DF set: black hole or working PMTUD (Linux, root)",
		Synopsis: "smtpprobe mtu TARGET[:PORT] [flags]",
		About:    "Sends probes of chosen IP packet sizes with DF set inside real SMTP sessions and brackets the largest that crosses the path, both ways (RFC 1191, RFC 8201, RFC 4821).",
		Examples: []string{
			"smtpprobe mtu mx1.example.com --to postmaster@example.com",
			"smtpprobe mtu 192.0.2.10 --max 1500 --direction out",
			"smtpprobe mtu example.com -6 --json",
		},
	},
	Thresholds: []string{"time", "mtu"},
	defaults:   func(j *Job) { j.Parallel = mtu.DefaultParallel },
	validate:   (*Job).validateMTU,
	tune: func(_ *Job, opt *probe.RunOptions) {
		opt.Parallel = 1 // addresses one after another; Parallel is per round
		opt.NoCertificates = true
	},
	probe: func(ctx context.Context, j *Job, p *probe.Prober, t probe.Target, _ int) (probe.Result, error) {
		return p.MTU(ctx, t, j.MTU)
	},
}, {
	Name: "path",
	Help: help.Command{
		Name:     "path",
		Summary:  "hop by hop on port 25: where SYNs stop (dropped, rejected with ICMP, answered)",
		Synopsis: "smtpprobe path TARGET[:PORT] [flags]",
		About:    "Sends SYNs to the target's port with TTL (IPv6: hop limit) 1, 2, ... in parallel and reads each hop's ICMP answer from the socket's error queue (IP_RECVERR): every hop's address and round trip, and where the SYNs stop: a SYN-ACK, an RST, an ICMP error from a named hop, or silence after the last hop that answered (RFC 792, RFC 4443). A silent port is compared with another port of the same host.",
		Examples: []string{
			"smtpprobe path mx1.example.com                # the hop table",
			"smtpprobe path 192.0.2.10 --json              # hops and path_end as JSON",
			"smtpprobe path example.com:587 -6 --max-hops 20",
		},
	},
	validate: (*Job).validatePath,
	tune:     func(_ *Job, opt *probe.RunOptions) { opt.NoCertificates = true },
	probe: func(ctx context.Context, j *Job, p *probe.Prober, t probe.Target, _ int) (probe.Result, error) {
		return p.Path(ctx, t, j.Path)
	},
}}

// KindOf returns the probe kind named name.
func KindOf(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// KindNames are the names of the probe kinds, in Kinds' order.
func KindNames() []string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = k.Name
	}
	return names
}

// ThresholdKeys are the threshold keys that apply to command: a probe
// kind's (mx and session measure no idle timeout and no path MTU, timeout
// no certificate), every key for check, which combines them; nil means
// any.
func ThresholdKeys(command string) []string {
	if command == "check" {
		return []string{"time", "timeout", "mtu", "cert", "transient"}
	}
	k, _ := KindOf(command)
	return k.Thresholds
}

// each runs f(0) ... f(n-1), at once when there are several.
func each(n int, f func(i int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

func (j *Job) validatePath() error {
	if j.Path.MaxHops < 0 || j.Path.MaxHops > trace.MaxMaxHops {
		return &FieldError{Field: "max_hops", Value: fmt.Sprint(j.Path.MaxHops), Reason: fmt.Sprintf("want 1 to %d", trace.MaxMaxHops)}
	}
	if j.Path.Probes < 0 || j.Path.Probes > 10 {
		return &FieldError{Field: "probes", Value: fmt.Sprint(j.Path.Probes), Reason: "want 1 to 10 SYNs per hop"}
	}
	return nil
}
