package probe

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// Report is the result of one run of a command: one JSON document
// (README, "JSON"; the package doc).
type Report struct {
	Command  string        `json:"command"`
	Target   string        `json:"target"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"-"`       // JSON "duration_ms", whole milliseconds
	Outcome  Outcome       `json:"outcome"` // the worst outcome
	Results  []Result      `json:"results"`
	Findings []Finding     `json:"findings"`
	// Policy is the domain's MTA-STS and TLS-RPT (mx; policy.go).
	Policy *policy.Report `json:"policy,omitempty"`
	// Checks summarises the runs of a combined check report, one per
	// target and module; the report's status is the worst of theirs.
	Checks []CheckSummary `json:"checks,omitempty"`
}

// CheckSummary is one run inside a combined check report.
type CheckSummary struct {
	Target   string        `json:"target"`
	Module   string        `json:"module"`
	Command  string        `json:"command"`
	Status   Status        `json:"status"` // OK, WARNING, CRITICAL, UNKNOWN in JSON
	Outcome  Outcome       `json:"outcome"`
	Duration time.Duration `json:"-"`               // JSON "duration_ms", whole milliseconds
	Error    string        `json:"error,omitempty"` // a run that could not be made
	// Policy is the run's Report.Policy (mx): the target's MTA-STS and
	// TLS-RPT, carried into the combined report and its baseline.
	Policy *policy.Report `json:"policy,omitempty"`
}

// NewCheckSummary summarises one run of a check; err is a run that could
// not be made at all (UNKNOWN).
func NewCheckSummary(target, module, command string, rep *Report, err error) CheckSummary {
	c := CheckSummary{Target: target, Module: module, Command: command}
	if err != nil {
		c.Status, c.Error = StatusUnknown, err.Error()
	} else {
		c.Status, c.Outcome, c.Duration, c.Policy = rep.Status(), rep.Outcome, rep.Duration, rep.Policy
	}
	return c
}

// Status maps the report to a monitoring status: CRITICAL when no address
// is usable (or the domain has no usable MX at all), WARNING when some are
// not, and the findings' severities on top (see the package doc). An address whose
// only failure is a transient rejection (a 4yz reply, such as
// greylisting) is degraded, not down: a report whose failures are all
// transient is WARNING, not CRITICAL. A critical Transient threshold
// (assess.Apply) raises it again.
func (r *Report) Status() Status {
	if len(r.Checks) > 0 {
		s := StatusOK
		for _, c := range r.Checks {
			s = max(s, c.Status)
		}
		for _, f := range r.Findings {
			s = max(s, findingStatus(f))
		}
		return s
	}
	s := StatusOK
	switch {
	case r.Outcome == DNSError || r.Outcome == NullMX:
		s = StatusCritical
	case len(r.Results) == 0:
		s = StatusCritical
	default:
		ok, transient := 0, 0
		for _, res := range r.Results {
			switch {
			case res.Good():
				ok++
			case res.TransientRejection():
				transient++
			}
		}
		switch {
		case ok == len(r.Results):
		case ok+transient == len(r.Results), ok > 0:
			s = StatusWarning
		default:
			s = StatusCritical
		}
	}
	for _, f := range r.Findings {
		if fs := findingStatus(f); fs > s {
			s = fs
		}
	}
	return s
}

// TransientRejection reports whether the result failed only because the
// server answered a 4yz (RFC 5321 §4.2.1): a sender would retry later.
func (r *Result) TransientRejection() bool {
	return r.Outcome == Rejected && r.Reply != nil && r.Reply.Transient
}

// RunOptions are the settings of a run over the addresses of a target.
type RunOptions struct {
	Port     uint16 // 0 means 25
	Family   dnscheck.Family
	Parallel int  // concurrent sessions; 0 means 8
	NoPTR    bool // skip reverse DNS
	NoPolicy bool // mx: skip the MTA-STS, TLS-RPT and DANE lookups (policy.go)
	// NoCertificates: the kind verifies no certificate (mtu, path), so
	// the system roots are not loaded ahead of the sessions; parsing
	// them would only take CPU from the probes.
	NoCertificates bool
}

// RunMX resolves domain's mail exchangers (RFC 5321 §5.1) and checks every
// address of every exchanger, concurrently, with MX. It returns an error
// only for bad input (*dnscheck.InputError) or when ctx ends before DNS
// resolution completes.
func (p *Prober) RunMX(ctx context.Context, res *dnscheck.Resolver, domain string, opt RunOptions) (*Report, error) {
	return p.RunMXWith(ctx, res, domain, opt, func(ctx context.Context, t Target) []Result {
		r, _ := p.MX(ctx, t, MXOptions{}) // Run returns a local failure itself
		return []Result{r}
	})
}

// RunMXWith is RunMX with fn in place of MX on every address (a front end's
// wrapper of MX, such as a progress count): Run, then, unless
// opt.NoPolicy, the domain's MTA-STS, TLS-RPT and DANE verdicts
// (policy.go), looked up while the sessions run.
func (p *Prober) RunMXWith(ctx context.Context, res *dnscheck.Resolver, domain string, opt RunOptions, fn func(context.Context, Target) []Result) (*Report, error) {
	var pl *policyLookup
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !opt.NoPolicy {
		pl = p.startPolicy(pctx, res, domain, opt)
	}
	rep, err := p.Run(ctx, res, "mx", domain, opt, fn)
	if rep == nil || err != nil {
		if cancel(); pl != nil {
			<-pl.done // no policy fetch outlives a refused or cut run
		}
		return rep, err
	}
	p.finishPolicy(ctx, res, rep, pl) // MTA-STS, DANE and opportunistic TLS verdicts
	return rep, nil
}

// Run resolves target and runs fn on every address, at most opt.Parallel
// at once, with reverse DNS beside each unless opt.NoPTR. target is a
// domain (its MX, or the implicit MX of a host name, RFC 5321 §5.1) or an
// IP literal. The report's outcome is the worst of the results. Errors
// are for bad input, cancellation, a *PolicyError when p.Allow refuses
// one of the resolved addresses (then no session is started), and a
// *wire.LocalError when a session failed in this host's own socket layer
// (the report is then returned too, but says nothing about the servers).
func (p *Prober) Run(ctx context.Context, res *dnscheck.Resolver, command, target string, opt RunOptions, fn func(context.Context, Target) []Result) (*Report, error) {
	started := p.now()
	if p.RootCAs == nil && !opt.NoCertificates {
		// Loading the system roots takes milliseconds (hundreds of
		// files); do it while DNS resolves, not inside a TLS handshake.
		go func() { _, _ = x509.SystemCertPool() }()
	}
	rep := &Report{Command: command, Target: target, Started: started, Results: []Result{}, Findings: []Finding{}}
	port := opt.Port
	if port == 0 {
		port = 25
	}
	var targets []Target
	if ip, ok := parseIP(target); ok {
		targets = []Target{{Host: target, Addr: netip.AddrPortFrom(ip, port), Preference: -1}}
		rep.Outcome = OK
	} else {
		dr, err := res.LookupMX(ctx, target, opt.Family)
		if err != nil {
			return nil, err
		}
		rep.Target = dr.Domain
		rep.Findings = append(rep.Findings, dr.Findings...)
		for _, ex := range dr.Exchangers {
			for _, a := range ex.Addrs {
				targets = append(targets, Target{Host: ex.Host, Addr: netip.AddrPortFrom(a, port), Preference: int(ex.Preference)})
			}
		}
		rep.Outcome = Outcome(dr.Outcome)
		if rep.Outcome == OK && len(targets) == 0 {
			rep.Outcome = DNSError
			rep.Findings = append(rep.Findings, Finding{Severity: SevCritical, Code: dnscheck.CodeNoAddresses,
				Message: fmt.Sprintf("no exchanger of %s has an address to connect to", dr.Domain)})
		}
	}
	if p.Allow != nil {
		for _, t := range targets {
			if err := p.Allow(t.Addr); err != nil {
				return nil, &wire.PolicyError{Host: t.Host, Addr: t.Addr, Err: err}
			}
		}
	}
	if rep.Outcome == OK {
		rep.Results = p.runAll(ctx, res, targets, opt, fn)
		outs := make([]Outcome, len(rep.Results))
		for i, r := range rep.Results {
			outs[i] = r.Outcome
			rep.Findings = appendNew(rep.Findings, r.Findings...)
		}
		rep.Outcome = Worst(outs...)
		for _, r := range rep.Results {
			if r.local != nil && ctx.Err() == nil {
				SortFindings(rep.Findings)
				rep.Duration = p.now().Sub(started)
				return rep, r.local
			}
		}
	}
	SortFindings(rep.Findings)
	rep.Duration = p.now().Sub(started)
	return rep, ctx.Err()
}

// runAll runs fn on every target with at most opt.Parallel at once, and
// reverse DNS beside it; results keep the targets' order.
func (p *Prober) runAll(ctx context.Context, res *dnscheck.Resolver, targets []Target, opt RunOptions, fn func(context.Context, Target) []Result) []Result {
	par := opt.Parallel
	if par <= 0 {
		par = 8
	}
	results := make([][]Result, len(targets))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rev dnscheck.Reverse
			var rwg sync.WaitGroup
			if !opt.NoPTR {
				rwg.Add(1)
				go func() {
					defer rwg.Done()
					rev = res.CheckReverse(ctx, t.Addr.Addr())
				}()
			}
			sem <- struct{}{}
			results[i] = fn(ctx, t)
			<-sem
			// The findings of one address's results are judged together:
			// timeout's phases get one server-timeout-below-rfc (timeout.go).
			mergeBelowRFC(results[i], who(t, t.Addr.Addr().String()))
			rwg.Wait()
			if opt.NoPTR {
				return
			}
			for j := range results[i] {
				r := &results[i][j]
				r.PTR = rev.PTR
				r.FCrDNS = ptr(rev.Confirmed)
				if j == 0 {
					r.Findings = append(r.Findings, rev.Findings...)
				}
			}
		}()
	}
	wg.Wait()
	var out []Result
	for _, rs := range results {
		out = append(out, rs...)
	}
	return out
}

// appendNew appends the findings not already in fs: the sessions of one
// address (timeout's phases, say) may each find the same thing, which the
// report says once.
func appendNew(fs []Finding, more ...Finding) []Finding {
	for _, f := range more {
		if !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	return fs
}

// SortFindings orders findings by severity, keeping their order otherwise.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity.Rank() < fs[j].Severity.Rank() })
}

// Good reports whether the result is what the probe wanted: OK, or for a
// timeout measurement, a measured server timeout.
func (r *Result) Good() bool {
	return r.Outcome == OK || (r.Outcome == ServerTimeout && r.Timeout != nil)
}

// MarshalText writes the status's name: "OK", "WARNING", "CRITICAL" or
// "UNKNOWN".
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status's name, as MarshalText writes it.
func (s *Status) UnmarshalText(b []byte) error {
	for _, st := range []Status{StatusOK, StatusWarning, StatusCritical, StatusUnknown} {
		if st.String() == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("status %q: want OK, WARNING, CRITICAL or UNKNOWN", b)
}
