package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// okReport is a one-address report whose status is OK.
func okReport() *probe.Report {
	return &probe.Report{Command: "mx", Target: "example.com", Started: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC),
		Duration: 3 * time.Millisecond, Outcome: probe.OK, Findings: []probe.Finding{},
		Results: []probe.Result{{Host: "mx1.example.com", Address: "192.0.2.10", Port: 25, Outcome: probe.OK,
			Phases: map[string]time.Duration{"connect": 400 * time.Microsecond}, PhaseOrder: []string{"connect"}, Timeline: []wire.Event{}}}}
}

func TestEmitQuiet(t *testing.T) {
	var buf bytes.Buffer
	code, err := emit(okReport(), &outputFlags{Output: job.Output{Format: "json"}, quiet: true}, &buf)
	if code != 0 || err != nil || buf.Len() != 0 {
		t.Errorf("emit(OK, quiet) = %d, %v, %q; want 0, nil, nothing", code, err, buf.String())
	}
}

// emit hands each format to its writer in probe/render (whose golden
// files pin the output).
func TestEmitFormats(t *testing.T) {
	for _, tc := range []struct {
		format string
		write  func(*bytes.Buffer, *probe.Report) error
	}{
		{"text", func(b *bytes.Buffer, r *probe.Report) error { return render.Text(b, r, render.Options{}) }},
		{"json", func(b *bytes.Buffer, r *probe.Report) error { return render.JSON(b, r) }},
		{"nagios", func(b *bytes.Buffer, r *probe.Report) error { return render.Nagios(b, r, render.Options{}) }},
	} {
		var got, want bytes.Buffer
		code, err := emit(okReport(), &outputFlags{Output: job.Output{Format: tc.format}}, &got)
		if code != 0 || err != nil {
			t.Errorf("emit(%s) = %d, %v; want 0, nil", tc.format, code, err)
		}
		if err := tc.write(&want, okReport()); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("emit(%s) =\n%s\nwant\n%s", tc.format, got.String(), want.String())
		}
	}
}
