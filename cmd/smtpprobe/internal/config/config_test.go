package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
)

func writeConfig(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "check.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodConfig = `
parallel: 32
per_host: 2
modules:
  mx:
    command: mx
    resolver: 192.0.2.53
    timeout: 10s
    warning: time=2s,cert=14
  idle:
    command: timeout
    phase: data
    max_wait: 2m
  path:
    command: mtu
    ipv4: true
    min: 1200
targets:
  - target: example.com
    modules: [mx, idle]
  - target: 192.0.2.25
    module: path
serve:
  allow: [example.com, 192.0.2.0/24, 2001:db8::1]
`

func TestLoadConfig(t *testing.T) {
	c, err := Load(writeConfig(t, goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Parallel != 32 || c.PerHost != 2 || len(c.Modules) != 3 || len(c.Targets) != 2 {
		t.Fatalf("loadConfig = parallel %d, per_host %d, %d modules, %d targets; want 32, 2, 3, 2", c.Parallel, c.PerHost, len(c.Modules), len(c.Targets))
	}
	if got := c.Targets[0].Modules; strings.Join(got, ",") != "mx,idle" {
		t.Errorf("targets[0].modules = %v, want [mx idle]", got)
	}
	if got := c.Targets[1].Modules; strings.Join(got, ",") != "path" {
		t.Errorf("targets[1].modules = %v, want [path]", got)
	}
	j, err := c.Modules["idle"].Job("example.com")
	if err != nil || j.Phase != "data" || j.Timeout.MaxWait.String() != "2m0s" {
		t.Errorf("module idle job = %+v, %v; want phase data, max_wait 2m", j, err)
	}
	if c.Modules["mx"].Warn.Time.String() != "2s" || c.Modules["mx"].Warn.CertDays != 14 {
		t.Errorf("module mx warning = %+v, want time 2s, cert 14", c.Modules["mx"].Warn)
	}
	for target, want := range map[string]bool{
		"example.com": true, "mx1.example.com": true, "badexample.com": false, "example.net": false,
		"192.0.2.99": true, "192.0.2.99:2525": false, "198.51.100.1": false, "[2001:db8::1]:25": true, "2001:db8::2": false,
	} {
		host, port, err := job.SplitTarget(target, 25)
		if err != nil {
			t.Fatalf("SplitTarget(%q): %v", target, err)
		}
		if got := c.Serve.Allowlist.CheckTarget(host, port) == nil; got != want {
			t.Errorf("checkTarget(%q) allowed = %v, want %v", target, got, want)
		}
	}
}

// retry_deferral (issue 18) reaches both probe kinds that can meet
// postscreen's deferral, and no other.
func TestLoadConfigRetryDeferral(t *testing.T) {
	c, err := Load(writeConfig(t, `
modules:
  s:
    command: session
    retry_deferral: true
  idle:
    command: timeout
    retry_deferral: true
  plain:
    command: session
targets:
  - target: example.com
    modules: [s, idle, plain]
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"s": true, "idle": true, "plain": false} {
		j, err := c.Modules[name].Job("example.com")
		if err != nil {
			t.Fatalf("module %s: %v", name, err)
		}
		if got := j.Session.RetryDeferral || j.Timeout.RetryDeferral; got != want {
			t.Errorf("module %s: retry_deferral = %v, want %v", name, got, want)
		}
	}
	if _, err := Load(writeConfig(t, "modules:\n  m:\n    command: mx\n    retry_deferral: true\ntargets:\n  - target: example.com\n    module: m\n")); err == nil {
		t.Errorf("retry_deferral in an mx module: no error, want one (session and timeout only)")
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"syntax", "modules:\n  mx:\n    command: mx\n\ttimeout: 1s\n", ":3: found a tab character"}, // yaml.v3 names the line before the tab
		{"negative parallel", "modules:\n  mx:\n    command: mx\n    parallel: -1\n", ":4: parallel -1: want 1 to 1024 (module mx)"},
		{"unknown field", "modules:\n  mx:\n    command: mx\n    colour: blue\n", `:4: unknown key "colour" in module "mx" (smtpprobe help config lists the keys)`},
		{"bad duration", "modules:\n  mx:\n    command: mx\n    timeout: soon\n", `:4: timeout: "soon": want a duration such as 500ms, 30s or 10m`},
		{"bad type", "parallel: many\nmodules:\n  mx:\n    command: mx\n", ":1: cannot use text"},
		{"unknown command", "modules:\n  m:\n    command: ping\n", `:3: module "m": unknown command "ping" (want mx, session, timeout, mtu, path)`},
		{"no modules", "targets: []\n", "no modules"},
		{"unknown module", "modules:\n  mx:\n    command: mx\ntargets:\n  - target: example.com\n    module: nope\n", `:5: target example.com: unknown module "nope"`},
		{"bad target", "modules:\n  mx:\n    command: mx\ntargets:\n  - target: bad..example\n    module: mx\n", ":5: target bad..example, module mx: mx: invalid domain"},
		{"module option", "modules:\n  s:\n    command: session\n    size: -5\n", ":4: size -5: want 1 to 268435456 bytes (module s)"},
		{"direction", "modules:\n  p:\n    command: mtu\n    direction: sideways\n", `:4: direction "sideways": want out, in or both (module p)`},
		{"threshold", "modules:\n  s:\n    command: mx\n    warning: speed=1\n", `:4: warning: unknown threshold "speed"`},
		{"allow", "modules:\n  mx:\n    command: mx\nserve:\n  allow: [\"not a domain!\"]\n", ":4: serve.allow \"not a domain!\": want DOMAIN, CIDR"},
		{"allow port", "modules:\n  mx:\n    command: mx\nserve:\n  allow: [\"192.0.2.0/24:0\"]\n", `:4: serve.allow "192.0.2.0/24:0": port "0"`},
		{"empty file", "", "check.yaml: the file is empty"},
		{"only comments", "# nothing yet\n", "no settings, only comments"},
		{"misspelt key", "modules:\n  mx:\n    comand: mx\n", `:3: unknown key "comand" in module "mx" (did you mean "command"?)`},
		{"misspelt top key", "module:\n  mx:\n    command: mx\n", `:1: unknown key "module" at the top level (did you mean "modules"?)`},
		{"swapped letters", "modules:\n  mx:\n    command: mx\n    timeuot: 5s\n", `:4: unknown key "timeuot" in module "mx" (did you mean "timeout"?)`},
		{"dash for underscore", "modules:\n  mx:\n    command: mx\n    connect-timeout: 5s\n", `(did you mean "connect_timeout"?)`},
		{"key in wrong section", "allow: [example.com]\nmodules:\n  mx:\n    command: mx\n", `:1: unknown key "allow" at the top level (allow goes under serve:)`},
		{"serve key", "modules:\n  mx:\n    command: mx\nserve:\n  max_concurent: 4\n", `:5: unknown key "max_concurent" in serve (did you mean "max_concurrent"?)`},
		{"target key", "modules:\n  mx:\n    command: mx\ntargets:\n  - target: example.com\n    modul: mx\n", `:6: unknown key "modul" in a target entry (did you mean "module"?)`},
		{"key not for command", "modules:\n  mx:\n    command: mx\n    min: 1200\n", `:4: key "min" does not apply to module "mx" (command mx): min is for mtu`},
		{"session key in timeout", "modules:\n  t:\n    command: timeout\n    bdat: true\n", `:4: key "bdat" does not apply to module "t" (command timeout): bdat is for session`},
		{"no command", "modules:\n  mx:\n    timeout: 5s\n", `:2: module "mx" has no command: want command: mx|session|timeout|mtu`},
		{"misspelt command", "modules:\n  s:\n    command: sesion\n", `:3: module "s": unknown command "sesion" (want mx, session, timeout, mtu, path) (did you mean "session"?)`},
		{"empty module", "modules:\n  mx:\n", `:2: module "mx" is empty`},
		{"bare number duration", "modules:\n  mx:\n    command: mx\n    timeout: 3\n", `:4: timeout: "3": a duration needs a unit: did you mean 3s?`},
		{"zero timeout", "modules:\n  mx:\n    command: mx\n    timeout: 0s\n", `:4: timeout 0s: want a positive duration such as 60s (module mx)`},
		{"zero parallel", "parallel: 0\nmodules:\n  mx:\n    command: mx\n", `:1: parallel 0: want 1 to 1024`},
		{"two recipients for timeout", "modules:\n  t:\n    command: timeout\n    to: [a@example.com, b@example.com]\n", `:4: to: timeout takes one recipient, not 2 (module "t")`},
		{"misspelt module of target", "modules:\n  mx:\n    command: mx\ntargets:\n  - target: example.com\n    module: m\n", `:5: target example.com: unknown module "m" (did you mean "mx"?)`},
		{"not a mapping", "- modules\n", `:1: want a mapping of keys such as modules:, not a list`},
		{"threshold not for command", "modules:\n  mx:\n    command: mx\n    warning: time=2s,mtu=1400\n", `:4: warning: mtu=1400 does not apply to module "mx" (command mx): only an mtu module measures a path MTU`},
		{"timeout threshold", "modules:\n  s:\n    command: session\n    critical: timeout=300s\n", `:4: critical: timeout=300s does not apply to module "s" (command session): only a timeout module measures`},
		{"max_connections", "modules:\n  mx:\n    command: mx\nserve:\n  max_connections: -1\n", ":4: serve.max_connections -1: want 1 to 4096"},
	}
	for _, tc := range tests {
		_, err := Load(writeConfig(t, tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Load(%s) = %v, want one line containing %q", tc.name, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "check.yaml") {
			t.Errorf("Load(%s) = %v, want the file named", tc.name, err)
		}
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("Load(%s) = %#v, want a *config.Error", tc.name, err)
		}
		if err != nil && strings.Contains(err.Error(), " --") {
			t.Errorf("Load(%s) = %v, want the YAML keys, not flags", tc.name, err)
		}
	}
}

// TestLoadConfigEveryError: one reading lists every mistake of the file,
// one line each in the order of the file (issue 20, item 8: --validate
// used to report one of five per run), and at most MaxErrors of them.
func TestLoadConfigEveryError(t *testing.T) {
	five := "parallel: 0\n" + // 1
		"modules:\n" +
		"  mx:\n" +
		"    command: mx\n" +
		"    timeout: 3\n" + // 5: no unit
		"    warning: time=2s,mtu=1400\n" + // 6: mtu does not apply
		"  s:\n" +
		"    comand: session\n" + // 8: misspelt key
		"targets:\n" +
		"  - target: example.com\n" +
		"    module: mz\n" // 10: unknown module
	_, err := Load(writeConfig(t, five))
	if err == nil {
		t.Fatal("Load(five mistakes) = nil error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`:1: parallel 0: want 1 to 1024`,
		`:5: timeout: "3": a duration needs a unit: did you mean 3s?`,
		`:6: warning: mtu=1400 does not apply to module "mx"`,
		`:8: unknown key "comand" in module "s" (did you mean "command"?)`,
		`:10: target example.com: unknown module "mz"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("Load(five mistakes) = %d lines, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) || !strings.Contains(lines[i], "check.yaml") {
			t.Errorf("Load(five mistakes) line %d = %q, want the file and %q", i+1, lines[i], w)
		}
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 1 || len(ce.Also) != 4 {
		t.Errorf("Load(five mistakes) = %#v, want a *config.Error at line 1 with 4 more", err)
	}

	var many strings.Builder
	many.WriteString("modules:\n  mx:\n    command: mx\n")
	for i := range 30 {
		fmt.Fprintf(&many, "    bogus%d: 1\n", i)
	}
	_, err = Load(writeConfig(t, many.String()))
	lines = strings.Split(fmt.Sprint(err), "\n")
	if len(lines) != MaxErrors+1 || !strings.HasSuffix(lines[MaxErrors], "and 10 more problems (the first 20 are listed)") {
		t.Errorf("Load(30 mistakes) = %d lines ending %q, want %d and a count of the other 10", len(lines), lines[len(lines)-1], MaxErrors+1)
	}
}
