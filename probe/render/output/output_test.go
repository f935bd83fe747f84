package output_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/render/output"
)

func okReport() *probe.Report {
	return &probe.Report{Command: "mx", Target: "example.com", Started: time.Unix(0, 0), Duration: 3 * time.Millisecond, Outcome: probe.OK,
		Results: []probe.Result{{Host: "mx1.example.com", Address: "192.0.2.10", Port: 25, Outcome: probe.OK,
			Phases: map[string]time.Duration{"connect": 400 * time.Microsecond}, PhaseOrder: []string{"connect"}}}}
}

// Quiet prints nothing when OK, except the Nagios status line; the
// metrics file is written either way.
func TestWriteQuiet(t *testing.T) {
	dir := t.TempDir()
	for _, format := range output.Formats {
		var b bytes.Buffer
		pf := filepath.Join(dir, format+".prom")
		st, err := output.Write(&b, okReport(), nil, output.Options{Format: format, Quiet: true, PromFile: pf})
		if err != nil || st != probe.StatusOK {
			t.Fatalf("Write(%s, quiet) = %v, %v", format, st, err)
		}
		if format == "nagios" {
			if !strings.HasPrefix(b.String(), "SMTPPROBE OK - mx example.com port 25: 1/1 ok") {
				t.Errorf("Write(nagios, quiet) = %q, want the status line", b.String())
			}
		} else if b.Len() != 0 {
			t.Errorf("Write(%s, quiet, OK) = %q, want nothing", format, b.String())
		}
		if m, err := os.ReadFile(pf); err != nil || !strings.Contains(string(m), `smtpprobe_success{command="mx",module="",target="example.com"} 1`) {
			t.Errorf("metrics file of %s = %q, %v", format, m, err)
		}
	}
	// Not OK: quiet prints the report.
	rep := okReport()
	rep.Results[0].Outcome, rep.Outcome = probe.Refused, probe.Refused
	var b bytes.Buffer
	if st, _ := output.Write(&b, rep, nil, output.Options{Format: "text", Quiet: true}); st != probe.StatusCritical || !strings.HasPrefix(b.String(), "mx example.com port 25: CRITICAL") {
		t.Errorf("Write(quiet, CRITICAL) = %v, %q", st, b.String())
	}
}

func TestWriteFileError(t *testing.T) {
	var b bytes.Buffer
	_, err := output.Write(&b, okReport(), nil, output.Options{Format: "text", PromFile: filepath.Join(t.TempDir(), "no", "such", "x.prom")})
	var fe *output.FileError
	if !errors.As(err, &fe) || b.Len() != 0 {
		t.Errorf("Write(bad prom file) = %v, output %q; want a *FileError and nothing printed", err, b.String())
	}
}

// Colour only when asked: the status word in ANSI green.
func TestWriteColor(t *testing.T) {
	var b bytes.Buffer
	output.Write(&b, okReport(), nil, output.Options{Format: "text", Options: render.Options{Color: true}})
	if !strings.Contains(b.String(), ": \x1b[32mOK\x1b[0m, outcome ok") {
		t.Errorf("Write(color) = %q", b.String())
	}
	b.Reset()
	output.Write(&b, okReport(), nil, output.Options{Format: "text"})
	if strings.Contains(b.String(), "\x1b") {
		t.Errorf("Write(no color) = %q", b.String())
	}
}
