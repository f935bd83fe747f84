// Package output prints a report the way a front end asked for: one
// format (text, JSON, Nagios or Prometheus), the metrics file beside it,
// and nothing when quiet and OK, except the Nagios status line, which a
// plugin prints always. The CLI's commands and its check all go through
// Write.
package output

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/render/prom"
)

// The output formats.
const (
	FormatText   = "text"   // render.Text, the default
	FormatJSON   = "json"   // render.JSON
	FormatNagios = "nagios" // render.Nagios: the Monitoring Plugins status line and perfdata
	FormatProm   = "prom"   // prom.Text: the Prometheus text exposition
)

// Formats are the output formats, in the order help lists them.
var Formats = []string{FormatText, FormatJSON, FormatNagios, FormatProm}

// FormatWords lists Formats for a sentence: "text, json, nagios or prom".
func FormatWords() string {
	return strings.Join(Formats[:len(Formats)-1], ", ") + " or " + Formats[len(Formats)-1]
}

// Options choose the output of a report.
type Options struct {
	render.Options
	Format   string // one of Formats; "" is text
	Quiet    bool   // print nothing when the status is OK (Nagios: the status line still)
	PromFile string // also write the metrics here, atomically (render.WriteFile)
	// Target, when set, is the metrics' target label of a single report
	// instead of its Target: with a port other than 25, "host:port"
	// (prom.Reports.Targets).
	Target string
}

// Write renders rep, combining runs when it is a check's report (runs
// non-nil), and returns its status. Invalid UTF-8 in the reports is
// escaped first (render.EscapeInvalidUTF8). The output is built
// completely before anything is written, so a failure never leaves half
// a document; a metrics file that cannot be written is a *FileError.
func Write(w io.Writer, rep *probe.Report, runs []render.Run, opt Options) (probe.Status, error) {
	render.EscapeInvalidUTF8(rep)
	col := prom.Reports{Reports: []*probe.Report{rep}, Targets: []string{opt.Target}}
	if runs != nil {
		col = prom.Reports{}
		for _, r := range runs {
			render.EscapeInvalidUTF8(r.Report)
			col.Reports = append(col.Reports, r.Report)
			col.Modules = append(col.Modules, r.Module)
		}
	}
	st := rep.Status()
	var metrics []byte
	if opt.Format == FormatProm || opt.PromFile != "" {
		var err error
		if metrics, err = prom.Text(col); err != nil {
			return st, err
		}
	}
	if opt.PromFile != "" {
		if err := render.WriteFile(opt.PromFile, metrics); err != nil {
			return st, &FileError{Path: opt.PromFile, Err: err}
		}
	}
	var buf bytes.Buffer
	var err error
	switch {
	case opt.Format == FormatProm:
		buf.Write(metrics)
	case opt.Format == FormatJSON:
		err = render.JSON(&buf, rep)
	case opt.Format == FormatNagios && runs != nil:
		err = render.CheckNagios(&buf, rep, runs)
	case opt.Format == FormatNagios:
		err = render.Nagios(&buf, rep, opt.Options)
	case runs != nil:
		err = render.CheckText(&buf, rep, runs, opt.Options)
	default:
		err = render.Text(&buf, rep, opt.Options)
	}
	if err != nil {
		return st, err
	}
	if opt.Quiet && st == probe.StatusOK && opt.Format != FormatNagios {
		return st, nil
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return st, fmt.Errorf("writing output: %w", err)
	}
	return st, nil
}

// FileError is a metrics file that could not be written.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }
