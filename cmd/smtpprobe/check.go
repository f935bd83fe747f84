package main

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/probe/batch"
	"github.com/smtpprobe/smtpprobe/probe/config"
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

	pg := startProgress(stderr, "check", "check", len(jobs), 0)
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
