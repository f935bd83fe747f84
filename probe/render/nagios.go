package render

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/assess"
)

// Nagios writes the report in the monitoring-plugins output format: one
// status line "SMTPPROBE STATUS - text | perfdata", then one line per
// problem. Perfdata is 'label'=value[UOM];warn;crit;min;max with base
// units, and ranges in the plugin-guidelines syntax ("300:" alerts below
// 300); opt.Warn and opt.Crit give the ranges.
func Nagios(w io.Writer, rep *probe.Report, opt Options) error {
	var b bytes.Buffer
	st := rep.Status()
	good := 0
	for _, r := range rep.Results {
		if r.Good() {
			good++
		}
	}
	text := fmt.Sprintf("%s %s: %d/%d ok, outcome %s", rep.Command, Target(rep), good, len(rep.Results), rep.Outcome)
	if m := mtuSummary(rep); m != "" {
		text += ", " + m
	}
	if len(rep.Findings) > 0 && rep.Findings[0].Severity != probe.SevInfo {
		text += "; " + rep.Findings[0].Message
	}
	var perf []string
	for _, r := range rep.Results {
		who := Addr(r)
		if r.Target != "" {
			who = r.Target + " " + who
		}
		perf = append(perf, perfData(r, who, opt.Warn, opt.Crit)...)
	}
	printf(&b, "SMTPPROBE %s - %s", st, sanitize(text))
	if len(perf) > 0 {
		printf(&b, " | %s", strings.Join(perf, " "))
	}
	b.WriteByte('\n')
	for _, r := range rep.Results {
		if !r.Good() {
			printf(&b, "%s %s [%s]: %s\n", r.Outcome, r.Host, Addr(r), sanitize(r.Error))
		}
	}
	for _, f := range rep.Findings {
		printf(&b, "%s %s: %s\n", f.Severity, f.Code, sanitize(opt.message(f)))
	}
	_, err := w.Write(b.Bytes())
	return err
}

// CheckNagios writes a combined check report in the monitoring-plugins
// format (see Nagios): one status line with the counts of checks by
// status and the perfdata of every run, labelled with its module and
// target and carrying the run's own thresholds; then one line per check
// that is not OK, and the findings.
func CheckNagios(w io.Writer, combined *probe.Report, runs []Run) error {
	var b bytes.Buffer
	text := fmt.Sprintf("check %s: %d checks, %s, outcome %s", combined.Target, len(combined.Checks), StatusCounts(combined.Checks), combined.Outcome)
	if len(combined.Findings) > 0 && combined.Findings[0].Severity != probe.SevInfo {
		text += "; " + combined.Findings[0].Message
	}
	var perf []string
	for _, run := range runs {
		for _, r := range run.Report.Results {
			perf = append(perf, perfData(r, run.Module+" "+run.Target+" "+Addr(r), run.Warn, run.Crit)...)
		}
	}
	printf(&b, "SMTPPROBE %s - %s", combined.Status(), sanitize(text))
	if len(perf) > 0 {
		printf(&b, " | %s", strings.Join(perf, " "))
	}
	b.WriteByte('\n')
	for _, c := range combined.Checks {
		switch {
		case c.Error != "":
			printf(&b, "%s %s %s: %s\n", c.Status.String(), c.Module, c.Target, sanitize(OneLine(c.Error)))
		case c.Status != probe.StatusOK:
			printf(&b, "%s %s %s: outcome %s\n", c.Status.String(), c.Module, c.Target, c.Outcome)
		}
		if p := runPolicy(runs, c); p != "" {
			printf(&b, "policy %s %s: %s\n", c.Module, c.Target, sanitize(p)) // policy.go
		}
	}
	for _, f := range combined.Findings {
		printf(&b, "%s %s: %s\n", f.Severity, f.Code, sanitize(f.Message))
	}
	_, err := w.Write(b.Bytes())
	return err
}

// perfData returns the perfdata items of one result, labelled who (and
// the idle phase of a timeout result), with the thresholds as ranges.
func perfData(r probe.Result, who string, warn, crit assess.Thresholds) []string {
	if r.Phase != "" {
		who += " " + r.Phase
	}
	var perf []string
	for _, ph := range r.PhaseOrder {
		perf = append(perf, perfItem(who+" "+ph, fmtFloat(r.Phases[ph].Seconds()), "s",
			durRange(warn.Time, false), durRange(crit.Time, false), "0", ""))
	}
	if r.Timeout != nil {
		perf = append(perf, perfItem(who+" server_timeout", fmtFloat(r.Timeout.Seconds()), "s",
			durRange(warn.Timeout, true), durRange(crit.Timeout, true), "0", ""))
	}
	if m := r.MTUInfo; m != nil && m.PathMTU != nil {
		perf = append(perf, perfItem(who+" path_mtu", strconv.Itoa(*m.PathMTU), "B",
			intRange(warn.MTU), intRange(crit.MTU), strconv.Itoa(m.Range[0]), strconv.Itoa(m.InterfaceMTU)))
	}
	if m := r.MTUInfo; m != nil && m.Reverse != nil && m.Reverse.PathMTU != nil {
		perf = append(perf, perfItem(who+" path_mtu_in", strconv.Itoa(*m.Reverse.PathMTU), "B",
			intRange(warn.MTU), intRange(crit.MTU), strconv.Itoa(m.Range[0]), strconv.Itoa(m.InterfaceMTU)))
	}
	if t := r.TLS; t != nil && !t.NotAfter.IsZero() {
		perf = append(perf, perfItem(who+" cert_days", strconv.Itoa(t.DaysLeft), "",
			certRange(warn, false), certRange(crit, true), "", ""))
	}
	return perf
}

// mtuSummary names the path MTU and verdict of each measured direction of
// the first mtu result that has one.
func mtuSummary(rep *probe.Report) string {
	for _, r := range rep.Results {
		m := r.MTUInfo
		if m == nil || m.PathMTU == nil && (m.Reverse == nil || m.Reverse.PathMTU == nil) {
			continue
		}
		var parts []string
		if m.PathMTU != nil {
			parts = append(parts, fmt.Sprintf("path MTU %d (%s)", *m.PathMTU, m.Verdict))
		}
		if rv := m.Reverse; rv != nil && rv.PathMTU != nil {
			parts = append(parts, fmt.Sprintf("server to client %d (%s)", *rv.PathMTU, rv.Verdict))
		}
		return strings.Join(parts, ", ")
	}
	return ""
}

// perfItem renders one perfdata item; labels are always quoted, and the
// characters the guidelines forbid in them (= and ') are replaced.
func perfItem(label, value, uom, warn, crit, min, max string) string {
	label = strings.NewReplacer("=", "_", "'", "_").Replace(SafeText(label))
	return strings.TrimRight(fmt.Sprintf("'%s'=%s%s;%s;%s;%s;%s", label, value, uom, warn, crit, min, max), ";")
}

// durRange renders a duration threshold in seconds; below means "alert
// when the value is below it" (the "N:" range).
func durRange(d time.Duration, below bool) string {
	if d <= 0 {
		return ""
	}
	s := fmtFloat(d.Seconds())
	if below {
		return s + ":"
	}
	return s
}

// intRange renders a lower-bound threshold ("alert below N").
func intRange(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n) + ":"
}

// certRange is the range of a level's certificate threshold: fewer than
// N days left is past it, so N: is the range that is fine ("" when
// expiry is not judged).
func certRange(t assess.Thresholds, critical bool) string {
	if n, ok := t.CertLimit(critical); ok {
		return strconv.Itoa(n) + ":"
	}
	return ""
}

// fmtFloat renders a value with at most microsecond precision.
func fmtFloat(v float64) string { return strconv.FormatFloat(Micro(v), 'f', -1, 64) }

// sanitize keeps plugin output on its line (control characters and
// invalid UTF-8 escaped visibly, see SafeText) and free of the perfdata
// separator.
func sanitize(s string) string {
	return strings.ReplaceAll(SafeText(s), "|", "/")
}
