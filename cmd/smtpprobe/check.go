package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/batch"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
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
	of.register(fs, "check")
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
	jobs, err := batch.Checks(cfg, onlyModule, onlyTarget, of.Warn, of.Crit)
	if err != nil {
		return 0, usageOf(err)
	}

	pg := startProgress(stderr, "check", "check", len(jobs), 0)
	combined, err := batch.Run(ctx, cfg.Path, jobs, batch.Options{
		Parallel: parallel, PerHost: perHost, Baseline: of.Base,
		Progress:  func(int, int) { pg.add() },
		Explain:   usageOf,
		ErrorText: func(err error) string { return oneLine(usageText(err)) },
	})
	pg.stop()
	if err != nil {
		return 0, err
	}
	// Thresholds and the baseline were applied per run, so that each
	// run's status (and its metrics) shows them; the combined report is
	// only saved (judging it again would apply the default thresholds,
	// certificate expiry among them, over the module's).
	if of.SaveBaseline != "" {
		if err := job.SaveReport(of.SaveBaseline, combined); err != nil {
			return 0, fmt.Errorf("--save-baseline: %w", err)
		}
	}
	return emitCheck(combined, jobs, &of, stdout)
}
