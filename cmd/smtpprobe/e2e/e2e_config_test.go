package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// runBinary runs the built smtpprobe (bounded) and returns its output
// and exit code.
func runBinary(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var o, e strings.Builder
	cmd := exec.CommandContext(ctx, smtpprobeBinary(t), args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("smtpprobe %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// TestE2EConfigValidate: help config and --validate through the built
// binary. No probe runs: the targets are .invalid names and documentation
// networks, and a probe would not finish in the bound anyway.
func TestE2EConfigValidate(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds the binary; skipped with -short")
	}
	t.Parallel()
	out, _, code := runBinary(t, "help", "config")
	for _, want := range []string{"Module keys", "  command (mx, session, timeout, mtu or path)", "  max_wait (duration) [timeout]",
		"      default: 10m", "      example: allow: [example.com, 192.0.2.0/24]"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("help config: exit %d, lacks %q", code, want)
		}
	}
	good := probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\n    timeout: 10s\ntargets:\n  - target: example.invalid\n    module: mx\n"+
		"serve:\n  allow: [example.invalid, 192.0.2.0/24]\n")
	tests := []struct {
		args       []string
		code       int
		out, inErr string
	}{
		{[]string{"check", "--config", good, "--validate"}, 0, ": OK: 1 module (mx), 1 target, 1 check\n", ""},
		{[]string{"serve", "--config", good, "--validate"}, 0, ": OK: 1 module (mx), serve.allow example.invalid, 192.0.2.0/24\n", ""},
		{[]string{"check", "--validate", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    comand: mx\n")}, 3, "",
			`check.yaml:3: unknown key "comand" in module "mx" (did you mean "command"?)`},
		{[]string{"check", "--validate", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\n    min: 1200\n")}, 3, "",
			`check.yaml:4: key "min" does not apply to module "mx" (command mx): min is for mtu`},
		{[]string{"serve", "--validate", "--config", probetest.WriteConfig(t, "")}, 3, "", "check.yaml: the file is empty"},
		{[]string{"check", "--validate", "--config", probetest.WriteConfig(t, "modules:\n  t:\n    command: timeout\n    max_wait: 10\n")}, 3, "",
			`check.yaml:4: max_wait: "10": a duration needs a unit: did you mean 10s?`},
		{[]string{"check", "--validate", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\n    timeout: 0s\n")}, 3, "",
			"check.yaml:4: timeout 0s: want a positive duration such as 60s (module mx)"},
	}
	for _, tc := range tests {
		out, errOut, code := runBinary(t, tc.args...)
		if code != tc.code || !strings.HasSuffix(out, tc.out) || (tc.out == "" && out != "") {
			t.Errorf("smtpprobe %v: exit %d, stdout %q; want %d, %q", tc.args[:2], code, out, tc.code, tc.out)
		}
		if tc.inErr != "" && (!strings.Contains(errOut, tc.inErr) || strings.Count(errOut, "\n") != 1 || strings.Contains(errOut, "--timeout")) {
			t.Errorf("smtpprobe %v: stderr %q, want one line with %q", tc.args[:2], errOut, tc.inErr)
		}
	}
}
