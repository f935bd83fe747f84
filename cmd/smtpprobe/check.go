package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
)

// checkJob is one (target, module) pair of a check configuration and,
// once it ran, its report or the error that kept it from running.
type checkJob struct {
	target     string // as written in the configuration
	mod        *module
	job        *job
	warn, crit probe.Thresholds // the module's, with the command line's on top

	rep *probe.Report
	err error
}

// runCheck implements `smtpprobe check --config FILE`: every target with
// every one of its modules, at most parallel at once and at most per_host
// sessions at once to any one address, in one combined report whose
// status is the worst run's.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("check", pflag.ContinueOnError)
	var (
		of          outputFlags
		path        string
		parallel    int
		perHost     int
		onlyModule  []string
		onlyTarget  []string
		synopsisCmd = "smtpprobe check --config FILE [flags]"
	)
	fs.StringVar(&path, "config", "", "YAML file of modules and targets (required)")
	fs.IntVar(&parallel, "parallel", 0, "checks (target and module pairs) at once (default: the file's parallel, else 16)")
	fs.IntVar(&perHost, "per-host", 0, "sessions at once to one destination address (default: the file's per_host, else 4)")
	fs.StringSliceVar(&onlyModule, "only-module", nil, "run only these modules (comma-separated or repeated)")
	fs.StringSliceVar(&onlyTarget, "only-target", nil, "run only these targets, as written in the file (comma-separated or repeated)")
	of.register(fs)
	fs.Lookup("warning").Usage += "; overrides the same keys of a module's warning:"
	fs.Lookup("critical").Usage += "; overrides the same keys of a module's critical:"
	if err := parseFlags(fs, args, stdout, synopsisCmd); err != nil {
		return 0, err
	}
	if fs.NArg() != 0 {
		return 0, usagef("check: takes no arguments (targets come from --config FILE), got %q", fs.Args())
	}
	if path == "" {
		return 0, usagef("check: --config FILE is required (a YAML file of modules and targets)")
	}
	if fs.Changed("parallel") && (parallel < 1 || parallel > 1024) {
		return 0, usagef("--parallel %d: want 1 to 1024", parallel)
	}
	if fs.Changed("per-host") && (perHost < 1 || perHost > 64) {
		return 0, usagef("--per-host %d: want 1 to 64", perHost)
	}
	if err := of.validate(); err != nil {
		return 0, err
	}
	if of.base != nil && of.base.Command != "check" {
		return 0, usagef("--baseline %s is a %s report; this is check", of.baseline, of.base.Command)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return 0, err
	}
	if !fs.Changed("parallel") {
		parallel = cfg.Parallel
	}
	if !fs.Changed("per-host") {
		perHost = cfg.PerHost
	}
	jobs, err := checkJobs(cfg, onlyModule, onlyTarget, &of)
	if err != nil {
		return 0, err
	}

	started := time.Now()
	limiter := probe.NewHostLimiter(perHost)
	resolvers := map[string]*dnscheck.Resolver{}
	resolverErrs := map[string]error{}
	for _, cj := range jobs {
		cj.job.Limiter = limiter
		if _, done := resolvers[cj.mod.name]; !done {
			resolvers[cj.mod.name], resolverErrs[cj.mod.name] = cj.job.resolver()
		}
	}
	pg := newCheckProgress(stderr, len(jobs), started)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, cj := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pg.add()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				cj.err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			if err := resolverErrs[cj.mod.name]; err != nil {
				cj.err = err
				return
			}
			cj.rep, cj.err = cj.job.run(ctx, resolvers[cj.mod.name])
		}()
	}
	wg.Wait()
	pg.stop()
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("interrupted after %s: %w", time.Since(started).Round(time.Millisecond), err)
	}

	for _, cj := range jobs {
		cj.judge(of.base)
	}
	combined := combine(cfg.path, started, jobs)
	// Thresholds and the baseline were applied per run above, so that
	// each run's status (and its metrics) shows them; judge only saves.
	saver := outputFlags{saveBaseline: of.saveBaseline}
	if err := saver.judge(combined); err != nil {
		return 0, err
	}
	return emitCheck(combined, jobs, &of, stdout)
}

// checkJobs builds the jobs of the configuration in its order: targets
// as listed, each with its modules as listed.
func checkJobs(cfg *config, onlyModule, onlyTarget []string, of *outputFlags) ([]*checkJob, error) {
	for _, m := range onlyModule {
		if _, ok := cfg.Modules[m]; !ok {
			return nil, usagef("--only-module %q: %s has no such module (modules: %s)", m, cfg.path, strings.Join(sortedKeys(cfg.Modules), ", "))
		}
	}
	for _, t := range onlyTarget {
		if !slices.ContainsFunc(cfg.Targets, func(s targetSpec) bool { return s.Target == t }) {
			return nil, usagef("--only-target %q: %s lists no such target", t, cfg.path)
		}
	}
	var jobs []*checkJob
	seen := map[[2]string]int{}
	for _, t := range cfg.Targets {
		if len(onlyTarget) > 0 && !slices.Contains(onlyTarget, t.Target) {
			continue
		}
		for _, name := range t.Modules {
			if len(onlyModule) > 0 && !slices.Contains(onlyModule, name) {
				continue
			}
			key := [2]string{t.Target, name}
			if line, dup := seen[key]; dup {
				return nil, usagef("%s:%d: target %s with module %s is already listed at line %d: want each pair once", cfg.path, t.line, t.Target, name, line)
			}
			seen[key] = t.line
			m := cfg.Modules[name]
			j, err := m.job(t.Target)
			if err != nil { // loadConfig checked every pair
				return nil, usagef("%s:%d: target %s, module %s: %s", cfg.path, t.line, t.Target, name, usageText(err))
			}
			jobs = append(jobs, &checkJob{target: t.Target, mod: m, job: j,
				warn: overlay(m.warn, of.warn), crit: overlay(m.crit, of.crit)})
		}
	}
	if len(jobs) == 0 {
		if len(onlyModule)+len(onlyTarget) > 0 {
			return nil, usagef("check: no target of %s is left after --only-module and --only-target", cfg.path)
		}
		return nil, usagef("%s: no targets: want a targets: list with at least one entry", cfg.path)
	}
	return jobs, nil
}

// overlay returns base with every threshold that top sets replaced.
func overlay(base, top probe.Thresholds) probe.Thresholds {
	if top.Time > 0 {
		base.Time = top.Time
	}
	if top.Timeout > 0 {
		base.Timeout = top.Timeout
	}
	if top.MTU > 0 {
		base.MTU = top.MTU
	}
	if top.CertDays > 0 {
		base.CertDays = top.CertDays
	}
	return base
}

// judge labels the run's results with its target and module, applies its
// thresholds and compares it with its part of the baseline. A run that
// could not be made becomes a report with one critical finding, whose
// status is UNKNOWN.
func (cj *checkJob) judge(base *probe.Report) {
	if cj.err != nil {
		summary := probe.NewCheckSummary(cj.target, cj.mod.name, cj.job.Command, nil, cj.err)
		cj.rep = &probe.Report{Command: cj.job.Command, Target: cj.target, Results: []probe.Result{},
			Findings: []probe.Finding{{Severity: probe.SevCritical, Code: "check-failed",
				Message: fmt.Sprintf("the check could not run: %s", oneLine(usageText(cj.err)))}},
			Checks: []probe.CheckSummary{summary}}
		return
	}
	rep := cj.rep
	// The target as written (with its port) names the run, so that two
	// ports of one domain stay apart in every output.
	rep.Target = cj.target
	for i := range rep.Results {
		rep.Results[i].Target, rep.Results[i].Module = cj.target, cj.mod.name
	}
	rep.ApplyThresholds(cj.warn, cj.crit)
	if base != nil {
		rep.Findings = append(rep.Findings, probe.Compare(baselineOf(base, cj.target, cj.mod.name), rep)...)
		probe.SortFindings(rep.Findings)
	}
}

// baselineOf cuts the part of a combined baseline that one run compares
// with: its check's outcome and its results.
func baselineOf(base *probe.Report, target, module string) *probe.Report {
	b := &probe.Report{Command: base.Command, Target: target}
	for _, c := range base.Checks {
		if c.Target == target && c.Module == module {
			b.Command, b.Outcome = c.Command, c.Outcome
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
func (cj *checkJob) summary() probe.CheckSummary {
	if cj.err != nil {
		return cj.rep.Checks[0]
	}
	return probe.NewCheckSummary(cj.target, cj.mod.name, cj.job.Command, cj.rep, nil)
}

// combine builds the combined report: every run's results, findings
// prefixed with "[module target]", and one summary per run in
// configuration order.
func combine(path string, started time.Time, jobs []*checkJob) *probe.Report {
	c := &probe.Report{Command: "check", Target: path, Started: started, Results: []probe.Result{},
		Findings: []probe.Finding{}, Checks: make([]probe.CheckSummary, 0, len(jobs))}
	var outs []probe.Outcome
	for _, cj := range jobs {
		c.Checks = append(c.Checks, cj.summary())
		if cj.err == nil {
			outs = append(outs, cj.rep.Outcome)
		}
		c.Results = append(c.Results, cj.rep.Results...)
		for _, f := range cj.rep.Findings {
			f.Message = fmt.Sprintf("[%s %s] %s", cj.mod.name, cj.target, f.Message)
			c.Findings = append(c.Findings, f)
		}
	}
	c.Outcome = probe.Worst(outs...)
	probe.SortFindings(c.Findings)
	c.DurationMS = time.Since(started).Milliseconds()
	return c
}

// emitCheck renders the combined report as emit does, except that the
// metrics keep one run per target and module, and text and Nagios output
// lead with the checks.
func emitCheck(combined *probe.Report, jobs []*checkJob, of *outputFlags, stdout io.Writer) (int, error) {
	escapeInvalidUTF8(combined)
	for _, cj := range jobs {
		escapeInvalidUTF8(cj.rep)
	}
	st := combined.Status()
	var prom []byte
	if of.format == "prom" || of.promFile != "" {
		col := reportCollector{}
		for _, cj := range jobs {
			col.reports = append(col.reports, cj.rep)
			col.modules = append(col.modules, cj.mod.name)
		}
		var err error
		if prom, err = promText(col); err != nil {
			return 0, err
		}
	}
	if of.promFile != "" {
		if err := writeFileAtomic(of.promFile, prom); err != nil {
			return 0, fmt.Errorf("--prom-file: %w", err)
		}
	}
	var buf bytes.Buffer
	switch of.format {
	case "prom":
		buf.Write(prom)
	case "nagios":
		renderCheckNagios(&buf, combined, jobs)
	case "json":
		b, err := json.MarshalIndent(combined, "", "  ")
		if err != nil {
			return 0, fmt.Errorf("encoding JSON: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	default:
		renderCheckText(&buf, combined, jobs, of.verbose)
	}
	if of.quiet && st == probe.StatusOK {
		return int(st), nil
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	return int(st), nil
}

// statusCounts renders "4 OK, 1 WARNING, 2 CRITICAL" (statuses present).
func statusCounts(checks []probe.CheckSummary) string {
	n := map[string]int{}
	for _, c := range checks {
		n[c.Status]++
	}
	var parts []string
	for _, s := range []probe.Status{probe.StatusOK, probe.StatusWarning, probe.StatusCritical, probe.StatusUnknown} {
		if n[s.String()] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s.String()], s))
		}
	}
	return strings.Join(parts, ", ")
}

// renderCheckText writes a table of the checks, then each check's details
// and findings as its command would print them, headed by its module.
func renderCheckText(w *bytes.Buffer, combined *probe.Report, jobs []*checkJob, timeline bool) {
	tprintf(w, "check %s: %s, outcome %s, %d checks: %s (%s)\n\n", combined.Target, combined.Status(),
		combined.Outcome, len(combined.Checks), statusCounts(combined.Checks), fmtMS(float64(combined.DurationMS)))
	head := []string{"TARGET", "MODULE", "STATUS", "OUTCOME", "DURATION"}
	rows := [][]string{head}
	for _, c := range combined.Checks {
		out, dur := string(c.Outcome), fmtMS(float64(c.DurationMS))
		if c.Error != "" {
			out, dur = "-", "-"
		}
		rows = append(rows, []string{c.Target, c.Module, c.Status, out, dur})
	}
	width := make([]int, len(head))
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], len(cell))
		}
	}
	for k, r := range rows {
		line := " "
		for i, cell := range r {
			line += fmt.Sprintf(" %-*s", width[i], cell)
		}
		tprintf(w, "%s\n", strings.TrimRight(line, " "))
		if k > 0 && combined.Checks[k-1].Error != "" {
			tprintf(w, "      error: %s\n", oneLine(combined.Checks[k-1].Error))
		}
	}
	for _, cj := range jobs {
		if cj.err != nil {
			continue
		}
		tprintf(w, "\n[%s] ", cj.mod.name)
		renderText(w, cj.rep, timeline)
	}
}

// renderCheckNagios writes the combined report in the monitoring-plugins
// format (see renderNagios): one status line with the counts of checks by
// status and the perfdata of every run, labelled with its module and
// target and carrying the run's own thresholds; then one line per check
// that is not OK, and the findings.
func renderCheckNagios(w *bytes.Buffer, combined *probe.Report, jobs []*checkJob) {
	text := fmt.Sprintf("check %s: %d checks, %s, outcome %s", combined.Target, len(combined.Checks), statusCounts(combined.Checks), combined.Outcome)
	if len(combined.Findings) > 0 && combined.Findings[0].Severity != probe.SevInfo {
		text += "; " + combined.Findings[0].Message
	}
	var perf []string
	for _, cj := range jobs {
		warn, crit := cj.warn, cj.crit
		for _, r := range cj.rep.Results {
			perf = append(perf, perfData(r, cj.mod.name+" "+cj.target+" "+r.Address, warn, crit)...)
		}
	}
	tprintf(w, "SMTPPROBE %s - %s", combined.Status(), sanitize(text))
	if len(perf) > 0 {
		tprintf(w, " | %s", strings.Join(perf, " "))
	}
	w.WriteByte('\n')
	for _, c := range combined.Checks {
		switch {
		case c.Error != "":
			tprintf(w, "%s %s %s: %s\n", c.Status, c.Module, c.Target, sanitize(oneLine(c.Error)))
		case c.Status != probe.StatusOK.String():
			tprintf(w, "%s %s %s: outcome %s\n", c.Status, c.Module, c.Target, c.Outcome)
		}
	}
	for _, f := range combined.Findings {
		tprintf(w, "%s %s: %s\n", f.Severity, f.Code, sanitize(f.Message))
	}
}

// checkProgress shows "check: N/M done" on stderr while a check runs,
// only when stderr is a terminal (DESIGN §3), and only after the first
// second, so that short runs print nothing.
type checkProgress struct {
	total int
	done  atomic.Int64
	stopc chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

func newCheckProgress(w io.Writer, total int, start time.Time) *checkProgress {
	p := &checkProgress{total: total, stopc: make(chan struct{})}
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		shown := false
		for {
			select {
			case <-p.stopc:
				if shown {
					fmt.Fprint(f, "\r\033[K")
				}
				return
			case now := <-t.C:
				shown = true
				fmt.Fprintf(f, "\r\033[Kcheck: %d/%d done (%s)", p.done.Load(), p.total, now.Sub(start).Round(time.Second))
			}
		}
	}()
	return p
}

func (p *checkProgress) add() { p.done.Add(1) }

func (p *checkProgress) stop() {
	p.once.Do(func() { close(p.stopc) })
	p.wg.Wait()
}
