package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// TestHelpConfig checks that help config documents every key of the
// table the checker uses, with an example, within 80 columns.
func TestHelpConfig(t *testing.T) {
	var b strings.Builder
	if err := helpConfig(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, k := range config.Keys {
		if !strings.Contains(out, "\n  "+k.Name+" (") {
			t.Errorf("help config: no entry for %s key %q", k.Section, k.Name)
		}
		if !strings.Contains(out, "example: "+k.Name+": "+k.Example) {
			t.Errorf("help config: no example for %q", k.Name)
		}
	}
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("help config line %d is %d columns: %q", i+1, n, line)
		}
	}
}

// TestValidate checks check --validate and serve --validate: a good file
// gets one OK line and exit 0, a bad one its file:line error and exit 3,
// and neither probes (the targets are unroutable documentation names).
func TestValidate(t *testing.T) {
	good := probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\n  idle:\n    command: timeout\n    phase: data\n"+
		"targets:\n  - target: example.invalid\n    modules: [mx, idle]\nserve:\n  allow: [example.invalid, 192.0.2.0/24]\n")
	tests := []struct {
		name       string
		args       []string
		code       int
		out, errSS string
	}{
		{"check ok", []string{"check", "--config", good, "--validate"}, 0, "check.yaml: OK: 2 modules (idle, mx), 1 target, 2 checks\n", ""},
		{"serve ok", []string{"serve", "--config", good, "--validate"}, 0, "check.yaml: OK: 2 modules (idle, mx), serve.allow example.invalid, 192.0.2.0/24\n", ""},
		{"misspelt", []string{"check", "--validate", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    comand: mx\n")}, 3, "",
			`check.yaml:3: unknown key "comand" in module "mx" (did you mean "command"?)`},
		{"not for command", []string{"serve", "--validate", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\n    min: 1200\nserve:\n  allow: [192.0.2.0/24]\n")}, 3, "",
			`check.yaml:4: key "min" does not apply to module "mx" (command mx): min is for mtu`},
		{"empty", []string{"check", "--validate", "--config", probetest.WriteConfig(t, "")}, 3, "", "check.yaml: the file is empty"},
		{"field", []string{"check", "--validate", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\n    timeout: 0s\n")}, 3, "",
			"check.yaml:4: timeout 0s: want a positive duration such as 60s (module mx)"},
		{"serve needs allow", []string{"serve", "--validate", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\n")}, 3, "", "no serve.allow"},
	}
	for _, tc := range tests {
		out, errOut, code := runArgs(t, tc.args...)
		if code != tc.code || !strings.HasSuffix(out, tc.out) || (tc.out == "" && out != "") {
			t.Errorf("%s: exit %d, stdout %q; want %d, %q", tc.name, code, out, tc.code, tc.out)
		}
		if tc.errSS != "" && (!strings.Contains(errOut, tc.errSS) || strings.Count(errOut, "\n") != 1) {
			t.Errorf("%s: stderr %q, want one line containing %q", tc.name, errOut, tc.errSS)
		}
		if tc.errSS == "" && errOut != "" {
			t.Errorf("%s: stderr %q, want none", tc.name, errOut)
		}
		if strings.Contains(errOut, "--timeout") {
			t.Errorf("%s: stderr %q names a flag for a config key", tc.name, errOut)
		}
	}
}
