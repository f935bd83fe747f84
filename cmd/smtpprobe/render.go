package main

import (
	"bytes"
	"fmt"
	"io"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/batch"
	"github.com/smtpprobe/smtpprobe/probe/render"
	promrender "github.com/smtpprobe/smtpprobe/probe/render/prom"
)

// emit renders a command's report in the chosen format and returns the
// exit code.
func emit(rep *probe.Report, cf *outputFlags, stdout io.Writer) (int, error) {
	return emitRuns(rep, nil, cf, stdout)
}

// emitCheck renders a check's combined report: its metrics keep one run
// per target and module, and its text and Nagios output lead with the
// checks.
func emitCheck(combined *probe.Report, jobs []*batch.Check, cf *outputFlags, stdout io.Writer) (int, error) {
	runs := make([]render.Run, len(jobs))
	for i, j := range jobs {
		runs[i] = render.Run{Target: j.Target, Module: j.Module.Name, Report: j.Report, Err: j.Err, Warn: j.Warn, Crit: j.Crit}
	}
	return emitRuns(combined, runs, cf, stdout)
}

// emitRuns renders rep (combining runs, for check) as cf says, writes
// --prom-file, and returns the exit code. The output is built completely
// before anything is written, so a failure never leaves half a document.
func emitRuns(rep *probe.Report, runs []render.Run, cf *outputFlags, stdout io.Writer) (int, error) {
	render.EscapeInvalidUTF8(rep)
	col := promrender.Reports{Reports: []*probe.Report{rep}}
	if runs != nil {
		col = promrender.Reports{}
		for _, r := range runs {
			render.EscapeInvalidUTF8(r.Report)
			col.Reports = append(col.Reports, r.Report)
			col.Modules = append(col.Modules, r.Module)
		}
	}
	st := rep.Status()
	var prom []byte
	if cf.format == "prom" || cf.promFile != "" {
		var err error
		if prom, err = promrender.Text(col); err != nil {
			return 0, err
		}
	}
	if cf.promFile != "" {
		if err := writeFileAtomic(cf.promFile, prom); err != nil {
			return 0, fmt.Errorf("--prom-file: %w", err)
		}
	}
	opt := render.Options{Verbose: cf.verbose, Warn: cf.warn, Crit: cf.crit}
	var buf bytes.Buffer
	var err error
	switch {
	case cf.format == "prom":
		buf.Write(prom)
	case cf.format == "json":
		err = render.JSON(&buf, rep)
	case cf.format == "nagios" && runs != nil:
		err = render.CheckNagios(&buf, rep, runs)
	case cf.format == "nagios":
		err = render.Nagios(&buf, rep, opt)
	case runs != nil:
		err = render.CheckText(&buf, rep, runs, opt)
	default:
		err = render.Text(&buf, rep, opt)
	}
	if err != nil {
		return 0, err
	}
	if cf.quiet && st == probe.StatusOK {
		return int(st), nil
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	return int(st), nil
}
