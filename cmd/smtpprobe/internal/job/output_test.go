package job

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe"
)

func TestOutputCheck(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.json")
	if err := SaveReport(base, &probe.Report{Command: "mx", Target: "example.com", Findings: []probe.Finding{}}); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.json")
	if err := os.WriteFile(junk, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no", "x")
	for _, tc := range []struct {
		name  string
		in    Output
		field string // of the *FieldError; "" for none
		want  string // its message with flag names, or the format for no error
	}{
		{"json", Output{Format: "TEXT", JSON: true, Command: "mx"}, "", "json"},
		{"case", Output{Format: "Nagios", Command: "mx"}, "", "nagios"},
		{"format", Output{Format: "jsn", Command: "mx"}, "format", `--format "jsn": want text, json, nagios or prom; did you mean "json"?`},
		{"warning", Output{Format: "text", Warning: "bad=1", Command: "mx"}, "warning", `--warning: unknown threshold "bad": want time, timeout, mtu, cert or transient`},
		{"critical key", Output{Format: "text", Critical: "mtu=1400", Command: "mx"}, "critical", "--critical mtu=...: mx does not measure that; its keys are time, cert, transient"},
		{"prom file", Output{Format: "prom", PromFile: missing, Command: "mx"}, "prom_file", "--prom-file " + missing + ": directory " + filepath.Dir(missing) + " does not exist"},
		{"save baseline", Output{Format: "text", SaveBaseline: missing, Command: "mx"}, "save_baseline", "--save-baseline " + missing + ": directory " + filepath.Dir(missing) + " does not exist"},
		{"baseline junk", Output{Format: "text", Baseline: junk, Command: "mx"}, "baseline", "--baseline " + junk + ": not a saved report (<nil>)"},
		{"baseline", Output{Format: "text", Baseline: base, Warning: "time=2s", Command: "mx"}, "", "text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.in
			err := o.Check()
			var fe *FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Check = %v, want nil", err)
			case tc.field == "" && o.Format != tc.want:
				t.Errorf("Format = %q, want %q", o.Format, tc.want)
			case tc.field != "" && !errors.As(err, &fe):
				t.Fatalf("Check = %v, want a *FieldError for %s", err, tc.field)
			case tc.field != "" && (fe.Field != tc.field || fe.Format(flag) != tc.want):
				t.Errorf("Check = field %q, %q; want %q, %q", fe.Field, fe.Format(flag), tc.field, tc.want)
			}
		})
	}
	o := Output{Format: "text", Baseline: base, Warning: "time=2s", Critical: "cert=7", Command: "mx"}
	if err := o.Check(); err != nil || o.Base == nil || o.Base.Command != "mx" || o.Warn.Time != 2*time.Second || o.Crit.CertDays != 7 {
		t.Errorf("Check = %v; Base %v, Warn %+v, Crit %+v; want the baseline and both thresholds read", err, o.Base, o.Warn, o.Crit)
	}
}

// flag spells a field as the command line does.
func flag(field string) string {
	return map[string]string{"format": "--format", "warning": "--warning", "critical": "--critical", "prom_file": "--prom-file",
		"save_baseline": "--save-baseline", "baseline": "--baseline"}[field]
}
