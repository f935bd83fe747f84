// Package batch runs many checks of a check configuration at once: each
// target with each of its modules, at most Parallel at a time and at most
// PerHost sessions at once to any one address, and folds their reports
// into one combined report whose status is the worst run's.
//
// What belongs here: scheduling, the per-host limit, labelling a run's
// results with its target and module, per-run thresholds and baseline
// comparison, and the combined report. Choosing which checks run (the
// command line's --only-module and --only-target), terminal progress and
// rendering belong to the front end; progress reaches it through
// Options.Progress. The combined report's per-run line,
// probe.CheckSummary, stays in package probe because probe.Report holds
// it.
package batch

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/assess"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// Check is one (target, module) pair of a check configuration and, once
// Run returned, its report, or the error that kept it from running.
type Check struct {
	Target     string // as written in the configuration, with its port
	Module     *config.Module
	Job        *job.Job
	Warn, Crit assess.Thresholds // the thresholds the run is judged by

	// Report is the run's report after Run; for a run that could not
	// be made it is a report with one critical "check-failed" finding.
	Report *probe.Report
	// Err is why the run could not be made, as Options.Explain gave it.
	Err error
}

// Options are the settings of Run.
type Options struct {
	// Parallel is how many checks run at once (at least 1).
	Parallel int
	// PerHost is how many sessions may be open at once to one
	// destination address, across all checks (at least 1).
	PerHost int
	// Baseline, if set, is a combined report that each run is compared
	// with (assess.Compare), by target and module.
	Baseline *probe.Report
	// Progress, if set, is called each time a check ends, with the
	// number ended so far and the total. It is called from the checks'
	// goroutines, possibly at once.
	Progress func(done, total int)
	// Explain, if set, rewrites a run's error before it is stored (a
	// front end's words for a job's typed errors).
	Explain func(error) error
	// ErrorText, if set, is the text of a failed run's finding;
	// by default the error's words on one line.
	ErrorText func(error) string
}

// Run runs checks as opt says and returns the combined report, whose
// Target is path (the configuration's). Each check's Report and Err are
// set. The error is only ctx's, when it ended before every check did.
func Run(ctx context.Context, path string, checks []*Check, opt Options) (*probe.Report, error) {
	explain := opt.Explain
	if explain == nil {
		explain = func(err error) error { return err }
	}
	started := time.Now()
	limiter := wire.NewHostLimiter(max(opt.PerHost, 1))
	resolvers := map[string]*dnscheck.Resolver{}
	resolverErrs := map[string]error{}
	for _, c := range checks {
		c.Job.Limiter = limiter
		if _, done := resolvers[c.Module.Name]; !done {
			res, err := c.Job.NewResolver()
			resolvers[c.Module.Name], resolverErrs[c.Module.Name] = res, explain(err)
		}
	}
	var done atomic.Int64
	sem := make(chan struct{}, max(opt.Parallel, 1))
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if opt.Progress != nil {
				defer func() { opt.Progress(int(done.Add(1)), len(checks)) }()
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				c.Err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			if err := resolverErrs[c.Module.Name]; err != nil {
				c.Err = err
				return
			}
			rep, err := c.Job.Run(ctx, resolvers[c.Module.Name])
			c.Report, c.Err = rep, explain(err)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted after %s: %w", units.Duration(time.Since(started)), err)
	}
	text := opt.ErrorText
	if text == nil {
		text = func(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
	}
	for _, c := range checks {
		c.judge(opt.Baseline, text)
	}
	return combine(path, started, checks), nil
}

// Overlay returns base with every threshold that top sets replaced: a
// module's thresholds with the command line's on top.
func Overlay(base, top assess.Thresholds) assess.Thresholds {
	if top.Time > 0 {
		base.Time = top.Time
	}
	if top.Timeout > 0 {
		base.Timeout = top.Timeout
	}
	if top.MTU > 0 {
		base.MTU = top.MTU
	}
	if top.CertDays != 0 { // cert=0 (CertOff) too
		base.CertDays = top.CertDays
	}
	return base
}

// judge labels the run's results with its target and module, applies its
// thresholds and compares it with its part of the baseline. A run that
// could not be made becomes a report with one critical finding, whose
// status is UNKNOWN.
func (c *Check) judge(base *probe.Report, text func(error) string) {
	if c.Err != nil {
		summary := probe.NewCheckSummary(c.Target, c.Module.Name, c.Job.Command, nil, c.Err)
		c.Report = &probe.Report{Command: c.Job.Command, Target: c.Target, Results: []probe.Result{},
			Findings: []probe.Finding{{Severity: probe.SevCritical, Code: dnscheck.CodeCheckFailed,
				Message: fmt.Sprintf("the check could not run: %s", text(c.Err))}},
			Checks: []probe.CheckSummary{summary}}
		return
	}
	rep := c.Report
	// The target as written (with its port) names the run, so that two
	// ports of one domain stay apart in every output.
	rep.Target = c.Target
	for i := range rep.Results {
		rep.Results[i].Target, rep.Results[i].Module = c.Target, c.Module.Name
	}
	assess.Apply(rep, c.Warn, c.Crit)
	if base != nil {
		rep.Findings = append(rep.Findings, assess.Compare(baselineOf(base, c.Target, c.Module.Name), rep)...)
		probe.SortFindings(rep.Findings)
	}
}

// baselineOf cuts the part of a combined baseline that one run compares
// with: its check's outcome, its policy (mx: MTA-STS, TLS-RPT) and its
// results.
func baselineOf(base *probe.Report, target, module string) *probe.Report {
	b := &probe.Report{Command: base.Command, Target: target}
	for _, c := range base.Checks {
		if c.Target == target && c.Module == module {
			b.Command, b.Outcome, b.Policy = c.Command, c.Outcome, c.Policy
		}
	}
	for _, r := range base.Results {
		if r.Target == target && r.Module == module {
			b.Results = append(b.Results, r)
		}
	}
	return b
}

// summary returns the check's line of the combined report.
func (c *Check) summary() probe.CheckSummary {
	if c.Err != nil {
		return c.Report.Checks[0]
	}
	return probe.NewCheckSummary(c.Target, c.Module.Name, c.Job.Command, c.Report, nil)
}

// combine builds the combined report of judged checks: every run's
// results, findings prefixed with "[module target]", and one summary per
// run in the order of checks.
func combine(path string, started time.Time, checks []*Check) *probe.Report {
	c := &probe.Report{Command: "check", Target: path, Started: started, Results: []probe.Result{},
		Findings: []probe.Finding{}, Checks: make([]probe.CheckSummary, 0, len(checks))}
	var outs []probe.Outcome
	for _, ch := range checks {
		c.Checks = append(c.Checks, ch.summary())
		if ch.Err == nil {
			outs = append(outs, ch.Report.Outcome)
		}
		c.Results = append(c.Results, ch.Report.Results...)
		for _, f := range ch.Report.Findings {
			f.Message = fmt.Sprintf("[%s %s] %s", ch.Module.Name, ch.Target, f.Message)
			c.Findings = append(c.Findings, f)
		}
	}
	c.Outcome = probe.Worst(outs...)
	probe.SortFindings(c.Findings)
	c.Duration = time.Since(started)
	return c
}
