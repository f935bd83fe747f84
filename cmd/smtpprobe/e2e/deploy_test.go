package e2e

// Tests of the shipped integration in deploy/: the alerting rules with
// promtool (check and unit tests), the scrape configuration, and the
// systemd units' command lines against the built binary.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// deployDir is cmd/smtpprobe/deploy relative to this package's directory
// (the cwd of `go test`).
const deployDir = "../deploy"

// promtool returns the path of promtool; under CI=true its absence fails
// the test (.ci/run installs it), elsewhere it skips.
func promtool(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if inCI() {
			t.Fatalf("promtool not found (the prometheus package installs it): %v", err)
		}
		t.Skipf("promtool not found: %v", err)
	}
	return p
}

// runTool runs name args in dir (bounded) and returns its output.
func runTool(t testing.TB, dir, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestDeployPromtool(t *testing.T) {
	tool := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "smtpprobe.rules.yml"},
		{"test", "rules", "smtpprobe.rules.test.yml"},
		{"check", "config", "prometheus.yml"},
	} {
		out, err := runTool(t, deployDir, tool, args...)
		if err != nil || !strings.Contains(out, "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestDeployRulesNameMetrics: every smtpprobe_* metric the rules and
// the scrape configuration name is one the code exports, so that a
// renamed metric cannot leave a rule that never fires.
func TestDeployRulesNameMetrics(t *testing.T) {
	var src strings.Builder
	for _, glob := range []string{"../../../probe/render/prom/*.go", "../internal/exporter/*.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	names := regexp.MustCompile(`\bsmtpprobe_[a-z_]+[a-z]`)
	for _, f := range []string{"smtpprobe.rules.yml", "prometheus.yml"} {
		b, err := os.ReadFile(filepath.Join(deployDir, f))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, n := range names.FindAllString(string(b), -1) {
			if strings.HasPrefix(n, "smtpprobe_mx") || strings.HasPrefix(n, "smtpprobe_idle") || strings.HasPrefix(n, "smtpprobe_path") ||
				n == "smtpprobe_exporter" || n == "smtpprobe_relabel" || seen[n] {
				continue // job names and the YAML anchor
			}
			seen[n] = true
			if !strings.Contains(src.String(), `"`+n+`"`) {
				t.Errorf("%s names %s, which neither probe/render/prom nor cmd/smtpprobe/internal/exporter exports", f, n)
			}
		}
		if f == "smtpprobe.rules.yml" && len(seen) < 6 {
			t.Errorf("%s: found only %d metric names (%v); the pattern is broken", f, len(seen), seen)
		}
	}
}

// TestDeploySystemdCommands runs the units' ExecStart command lines
// with the built binary, --validate added and the configuration files
// replaced by a test's: the flags they use exist and the binary takes
// them. With systemd-analyze, the units also verify.
func TestDeploySystemdCommands(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("e2e: builds the binary; skipped with -short")
	}
	bin := smtpprobeBinary(t)
	cfg := probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\ntargets:\n  - target: example.invalid\n    module: mx\nserve:\n  allow: [192.0.2.0/24]\n")
	dir := t.TempDir()
	for _, unit := range []string{"smtpprobe.service", "smtpprobe-check.service"} {
		b, err := os.ReadFile(filepath.Join(deployDir, "systemd", unit))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, line := range strings.Split(string(b), "\n") {
			cmdline, ok := strings.CutPrefix(line, "ExecStart=")
			if !ok {
				cmdline, ok = strings.CutPrefix(line, "ExecStartPre=")
			}
			if ok {
				args := strings.Fields(cmdline)
				if args[0] != "/usr/local/bin/smtpprobe" {
					t.Fatalf("%s: %q does not start /usr/local/bin/smtpprobe", unit, line)
				}
				args = args[1:]
				for i := range args {
					if i > 0 && args[i-1] == "--config" {
						args[i] = cfg
					}
					if i > 0 && args[i-1] == "--prom-file" {
						args[i] = filepath.Join(dir, "smtpprobe.prom")
					}
				}
				if !strings.Contains(cmdline, "--validate") {
					args = append(args, "--validate")
				}
				out, err := runTool(t, ".", bin, args...)
				if err != nil || !strings.Contains(out, ": OK: 1 module (mx)") {
					t.Errorf("%s: smtpprobe %s: %v\n%s", unit, strings.Join(args, " "), err, out)
				}
				line = strings.Replace(line, "/usr/local/bin/smtpprobe", bin, 1)
			}
			if strings.HasPrefix(line, "Documentation=") {
				continue // man:smtpprobe(1) is not installed here
			}
			lines = append(lines, line)
		}
		if err := os.WriteFile(filepath.Join(dir, unit), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	timer, err := os.ReadFile(filepath.Join(deployDir, "systemd", "smtpprobe-check.timer"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "smtpprobe-check.timer"), timer, 0o644); err != nil {
		t.Fatal(err)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if inCI() {
			t.Fatalf("systemd-analyze not found (CI=true: the systemd package must be installed): %v", err)
		}
		t.Skipf("systemd-analyze not found; the units' command lines pass, their syntax is not verified: %v", err)
	}
	for _, unit := range []string{"smtpprobe.service", "smtpprobe-check.service", "smtpprobe-check.timer"} {
		out, err := runTool(t, dir, analyze, "verify", filepath.Join(dir, unit))
		// The check unit's User=prometheus may not exist on a test machine.
		out = regexp.MustCompile(`(?m)^.*(User=|user prometheus|prometheus: ).*$\n?`).ReplaceAllString(out, "")
		if strings.TrimSpace(out) != "" {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
	}
}
