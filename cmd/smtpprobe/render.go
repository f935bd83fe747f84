package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/batch"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/render/output"
)

// emit prints a command's report as cf says and returns the exit code.
func emit(rep *probe.Report, cf *outputFlags, stdout io.Writer) (int, error) {
	return emitRuns(rep, nil, cf, stdout)
}

// emitCheck prints a check's combined report: its metrics keep one run
// per target and module, and its text and Nagios output lead with the
// checks.
func emitCheck(combined *probe.Report, jobs []*batch.Check, cf *outputFlags, stdout io.Writer) (int, error) {
	runs := make([]render.Run, len(jobs))
	for i, j := range jobs {
		runs[i] = render.Run{Target: j.Target, Module: j.Module.Name, Report: j.Report, Err: j.Err, Warn: j.Warn, Crit: j.Crit}
	}
	return emitRuns(combined, runs, cf, stdout)
}

func emitRuns(rep *probe.Report, runs []render.Run, cf *outputFlags, stdout io.Writer) (int, error) {
	target := "" // the report's own, unless the port is not the default
	if cf.port != 0 && cf.port != job.DefaultPort {
		target = net.JoinHostPort(rep.Target, strconv.Itoa(int(cf.port)))
	}
	st, err := output.Write(stdout, rep, runs, output.Options{Format: cf.Format, Quiet: cf.quiet, PromFile: cf.PromFile, Target: target,
		Options: render.Options{Verbose: cf.verbose, Timeline: cf.timeline, Warn: cf.Warn, Crit: cf.Crit, Color: colorOK(stdout), Option: optionName(runs)}})
	if fe := (*output.FileError)(nil); errors.As(err, &fe) {
		return 0, fmt.Errorf("--prom-file: %w", fe.Err)
	}
	return int(st), err
}

// optionName spells a finding's option as the user gave it: a flag, or
// for a check a module key.
func optionName(runs []render.Run) func(string) string {
	if runs != nil {
		return func(key string) string { return "the module key " + key + ":" }
	}
	return flagName
}

// colorOK reports whether text output to w may use colour: w is a
// terminal and NO_COLOR is unset or empty (no-color.org).
func colorOK(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("NO_COLOR") == "" && isTerminal(f)
}
