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

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/batch"
	"github.com/smtpprobe/smtpprobe/probe/config"
	promrender "github.com/smtpprobe/smtpprobe/probe/render/prom"
)

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
	validate := fs.Bool("validate", false, "check the file and probe nothing: exit 0 with a one-line summary, or 3 with the error")
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
	if *validate {
		return validateSummary(stdout, cfg, false)
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

	pg := newCheckProgress(stderr, len(jobs), time.Now())
	combined, err := batch.Run(ctx, cfg.Path, jobs, batch.Options{
		Parallel: parallel, PerHost: perHost, Baseline: of.base,
		Progress:  func(int, int) { pg.add() },
		Explain:   usageOf,
		ErrorText: func(err error) string { return oneLine(usageText(err)) },
	})
	pg.stop()
	if err != nil {
		return 0, err
	}
	// Thresholds and the baseline were applied per run, so that each
	// run's status (and its metrics) shows them; judge only saves.
	saver := outputFlags{saveBaseline: of.saveBaseline}
	if err := saver.judge(combined); err != nil {
		return 0, err
	}
	return emitCheck(combined, jobs, &of, stdout)
}

// checkJobs builds the jobs of the configuration in its order: targets
// as listed, each with its modules as listed.
func checkJobs(cfg *config.Config, onlyModule, onlyTarget []string, of *outputFlags) ([]*batch.Check, error) {
	for _, m := range onlyModule {
		if _, ok := cfg.Modules[m]; !ok {
			return nil, usagef("--only-module %q: %s has no such module (modules: %s)", m, cfg.Path, strings.Join(config.SortedKeys(cfg.Modules), ", "))
		}
	}
	for _, t := range onlyTarget {
		if !slices.ContainsFunc(cfg.Targets, func(s config.Target) bool { return s.Target == t }) {
			return nil, usagef("--only-target %q: %s lists no such target", t, cfg.Path)
		}
	}
	var jobs []*batch.Check
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
				return nil, usagef("%s:%d: target %s with module %s is already listed at line %d: want each pair once", cfg.Path, t.Line, t.Target, name, line)
			}
			seen[key] = t.Line
			m := cfg.Modules[name]
			j, err := m.Job(t.Target)
			if err != nil { // loadConfig checked every pair
				return nil, usagef("%s:%d: target %s, module %s: %s", cfg.Path, t.Line, t.Target, name, err.Error())
			}
			jobs = append(jobs, &batch.Check{Target: t.Target, Module: m, Job: j,
				Warn: batch.Overlay(m.Warn, of.warn), Crit: batch.Overlay(m.Crit, of.crit)})
		}
	}
	if len(jobs) == 0 {
		if len(onlyModule)+len(onlyTarget) > 0 {
			return nil, usagef("check: no target of %s is left after --only-module and --only-target", cfg.Path)
		}
		return nil, usagef("%s: no targets: want a targets: list with at least one entry", cfg.Path)
	}
	return jobs, nil
}

// emitCheck renders the combined report as emit does, except that the
// metrics keep one run per target and module, and text and Nagios output
// lead with the checks.
func emitCheck(combined *probe.Report, jobs []*batch.Check, of *outputFlags, stdout io.Writer) (int, error) {
	escapeInvalidUTF8(combined)
	for _, cj := range jobs {
		escapeInvalidUTF8(cj.Report)
	}
	st := combined.Status()
	var prom []byte
	if of.format == "prom" || of.promFile != "" {
		col := promrender.Reports{}
		for _, cj := range jobs {
			col.Reports = append(col.Reports, cj.Report)
			col.Modules = append(col.Modules, cj.Module.Name)
		}
		var err error
		if prom, err = promrender.Text(col); err != nil {
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
func renderCheckText(w *bytes.Buffer, combined *probe.Report, jobs []*batch.Check, timeline bool) {
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
		if cj.Err != nil {
			continue
		}
		tprintf(w, "\n[%s] ", cj.Module.Name)
		renderText(w, cj.Report, timeline)
	}
}

// renderCheckNagios writes the combined report in the monitoring-plugins
// format (see renderNagios): one status line with the counts of checks by
// status and the perfdata of every run, labelled with its module and
// target and carrying the run's own thresholds; then one line per check
// that is not OK, and the findings.
func renderCheckNagios(w *bytes.Buffer, combined *probe.Report, jobs []*batch.Check) {
	text := fmt.Sprintf("check %s: %d checks, %s, outcome %s", combined.Target, len(combined.Checks), statusCounts(combined.Checks), combined.Outcome)
	if len(combined.Findings) > 0 && combined.Findings[0].Severity != probe.SevInfo {
		text += "; " + combined.Findings[0].Message
	}
	var perf []string
	for _, cj := range jobs {
		warn, crit := cj.Warn, cj.Crit
		for _, r := range cj.Report.Results {
			perf = append(perf, perfData(r, cj.Module.Name+" "+cj.Target+" "+r.Address, warn, crit)...)
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

// add counts one ended check (batch.Options.Progress).
func (p *checkProgress) add() { p.done.Add(1) }

func (p *checkProgress) stop() {
	p.once.Do(func() { close(p.stopc) })
	p.wg.Wait()
}
