package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

func runArgs(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = run(ctx, args, &o, &e)
	return o.String(), e.String(), code
}

func TestRunBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string // substring of the one stderr line
	}{
		{nil, "Usage"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"mx"}, "want exactly one DOMAIN"},
		{[]string{"mx", ""}, "empty target"},
		{[]string{"mx", "ex ample.com"}, "invalid domain"},
		{[]string{"mx", "example.com:70000"}, "out of range 1-65535"},
		{[]string{"mx", "example.com:0"}, "out of range 1-65535"},
		{[]string{"mx", "example.com:smtp"}, "out of range"},
		{[]string{"mx", "a..b"}, "invalid domain"},
		{[]string{"mx", "example.com", "--timeout", "-1s"}, "--timeout -1s"},
		{[]string{"mx", "example.com", "--connect-timeout", "soon"}, `--connect-timeout "soon": want a duration such as 500ms`},
		{[]string{"mx", "example.com", "--format", "xml"}, `--format "xml"`},
		{[]string{"mx", "example.com", "-4", "-6"}, "exclude each other"},
		{[]string{"mx", "example.com", "--parallel", "0"}, "--parallel 0"},
		{[]string{"mx", "example.com", "--resolver", "not a server"}, "--resolver"},
		{[]string{"mx", "example.com", "--bogus"}, "unknown flag"},
		{[]string{"mx", "a.example", "b.example"}, "got 2 arguments"},
		{[]string{"session"}, "want exactly one TARGET"},
		{[]string{"session", "example.com", "--chunk-size", "0"}, "--chunk-size 0"},
		{[]string{"session", "example.com", "--pause-after-data", "-1s"}, "--pause-after-data -1s"},
		{[]string{"session", "example.com", "--pause-before-data", "soon"}, `--pause-before-data "soon": want a duration`},
		{[]string{"session", "example.com", "--size", "0"}, "--size 0"},
		{[]string{"session", "example.com", "--to", "a b@example.com"}, "--to"},
		{[]string{"session", "example.com", "--from", "<x@example.com>"}, "--from"},
		{[]string{"session", "[2001:db8::1]:99999"}, "out of range"},
		{[]string{"timeout", "example.com", "--phase", "lunch"}, `--phase "lunch"`},
		{[]string{"timeout", "example.com", "--max-wait", "0s"}, "--max-wait 0s"},
		{[]string{"timeout", "example.com", "--chunk-pause", "-5s"}, "--chunk-pause -5s"},
		{[]string{"mx", "example.com", "--warning", "speed=1"}, "--warning"},
		{[]string{"mx", "example.com", "--critical", "mtu=big"}, "--critical"},
		{[]string{"mx", "example.com", "--prom-file", "/nonexistent/dir/smtpprobe.prom"}, "does not exist"},
		{[]string{"mx", "example.com", "--save-baseline", "/nonexistent/dir/base.json"}, "does not exist"},
		{[]string{"mx", "example.com", "--baseline", "/nonexistent/base.json"}, "--baseline"},
		{[]string{"mx", "example.com", "--format", "yaml"}, "want text, json, nagios or prom"},
		{[]string{"mtu", "example.com", "--min", "100"}, "--min 100"},
		{[]string{"mtu", "example.com", "--max", "70000"}, "--max 70000"},
		{[]string{"mtu", "example.com", "--min", "1400", "--max", "1300"}, "above --max"},
		{[]string{"mtu", "example.com", "--min", "0"}, "--min 0"},
	}
	for _, tc := range tests {
		stdout, stderr, code := runArgs(t, tc.args...)
		if code != 3 {
			t.Errorf("run(%q) = %d, want 3 (stderr %q)", tc.args, code, stderr)
		}
		if tc.args != nil && (stdout != "" || strings.Count(stderr, "\n") != 1) {
			t.Errorf("run(%q) printed stdout %q, stderr %q; want one stderr line and no stdout", tc.args, stdout, stderr)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("run(%q) stderr = %q, want it to contain %q", tc.args, stderr, tc.want)
		}
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	stdout, _, code := runArgs(t, "mx", "--help")
	if code != 0 || !strings.Contains(stdout, "--connect-timeout") {
		t.Errorf("run(mx --help) = %d, %q; want 0 and the flag list", code, stdout)
	}
}

// miniLab starts a DNS zone and go-smtp servers on loopback addresses
// that share one port, as the demo does.
func miniLab(t testing.TB) (resolver string, port uint16) {
	t.Helper()
	lab := probetest.DemoLabFor(t, time.Second)
	return lab.DNS.Addr, lab.Port
}

func TestRunMXExitCodes(t *testing.T) {
	t.Parallel()
	resolver, port := miniLab(t)
	p := fmt.Sprint(port)
	tests := []struct {
		domain string
		want   int
		out    string
	}{
		{"demo.example:" + p, 1, string(probe.Refused)}, // one of four addresses refuses
		{"missing.example:" + p, 2, "dns-error"},        // NXDOMAIN at the resolver
	}
	for _, tc := range tests {
		stdout, stderr, code := runArgs(t, "mx", tc.domain, "--resolver", resolver, "--json", "--connect-timeout", "2s", "--timeout", "5s")
		if code != tc.want {
			t.Errorf("mx(%s) = %d, want %d (stderr %q)", tc.domain, code, tc.want, stderr)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("mx(%s) JSON: %v\n%s", tc.domain, err, stdout)
		}
		for _, k := range []string{"command", "target", "started", "duration_ms", "outcome", "results", "findings"} {
			if _, ok := doc[k]; !ok {
				t.Errorf("mx(%s) JSON lacks %q", tc.domain, k)
			}
		}
		if doc["outcome"] != tc.out {
			t.Errorf("mx(%s).outcome = %v, want %s", tc.domain, doc["outcome"], tc.out)
		}
	}
	// -q prints nothing when OK, and the report when not.
	stdout, _, code := runArgs(t, "mx", "demo.example:"+p, "--resolver", resolver, "-q", "--connect-timeout", "2s")
	if code != 1 || !strings.Contains(stdout, string(probe.Refused)) {
		t.Errorf("mx -q (warning) = %d, %q; want 1 and the report", code, stdout)
	}
}

func TestRunDemo(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runArgs(t, "demo", "--idle-timeout", "500ms")
	if code != 0 {
		t.Fatalf("demo = %d, stderr %q", code, stderr)
	}
	// slow greets after 1.5 s: its banner phase reads 1.5 s or a little more.
	if !regexp.MustCompile(`banner 1\.[5-9]\d\ds`).MatchString(stdout) {
		t.Errorf("demo output lacks slow's banner of about 1.5 s:\n%s", stdout)
	}
	if !regexp.MustCompile(`127\.0\.0\.5:\d+ +refused`).MatchString(stdout) {
		t.Errorf("demo output lacks the refused 127.0.0.5:PORT:\n%s", stdout)
	}
	for _, want := range []string{"MX 10 mx1.demo.example", "starttls", "421 4.4.2", "FIN from peer", "outcome server-timeout"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
}

// TestRunSessionCapabilityErrors: options the server cannot honour are
// bad input, found only after EHLO: one line, exit 3, nothing on stdout.
func TestRunSessionCapabilityErrors(t *testing.T) {
	t.Parallel()
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{MaxBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	target := fmt.Sprintf("127.0.0.1:%d", s.Addr.Port())
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--size", "10000"}, "SIZE 4096"},
	}
	for _, tc := range tests {
		args := append([]string{"session", target, "--to", "postmaster@example.com"}, tc.args...)
		stdout, stderr, code := runArgs(t, args...)
		if code != 3 || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 3, one line with %q", args, code, stdout, stderr, tc.want)
		}
	}
	// And a session that fits is delivered only with --deliver.
	_, stderr, code := runArgs(t, "session", target, "--to", "postmaster@example.com", "--size", "1000", "--json")
	if code != 0 || s.Messages() != 0 {
		t.Errorf("session (no --deliver) = %d (%s), %d messages; want 0, none delivered", code, stderr, s.Messages())
	}
	_, stderr, code = runArgs(t, "session", target, "--to", "postmaster@example.com", "--size", "1000", "--deliver", "--json")
	time.Sleep(50 * time.Millisecond)
	if code != 0 || s.Messages() != 1 {
		t.Errorf("session --deliver = %d (%s), %d messages; want 0, one delivered", code, stderr, s.Messages())
	}
}

// A baseline saved while every address answered, compared after one went
// away: a regression, exit 2. The prom file is written atomically beside.
func TestRunBaselineRegression(t *testing.T) {
	t.Parallel()
	lab := probetest.DemoLabFor(t, time.Second)
	dir := t.TempDir()
	base := dir + "/base.json"
	prom := dir + "/smtpprobe.prom"
	target := fmt.Sprintf("demo.example:%d", lab.Port)
	common := []string{"mx", target, "--resolver", lab.DNS.Addr, "--connect-timeout", "2s", "--timeout", "5s", "--no-ptr"}
	_, stderr, code := runArgs(t, append(common, "--save-baseline", base, "--prom-file", prom, "-q")...)
	if code != 1 { // the closed address makes the baseline a WARNING already
		t.Fatalf("mx --save-baseline = %d (%s), want 1", code, stderr)
	}
	if b, err := os.ReadFile(prom); err != nil || !strings.Contains(string(b), "smtpprobe_result_success") {
		t.Errorf("--prom-file wrote %q, %v; want metrics", b, err)
	}
	if leftovers, _ := filepath.Glob(dir + "/.*tmp*"); len(leftovers) != 0 {
		t.Errorf("--prom-file left temporary files %v", leftovers)
	}
	lab.Servers[0].Close() // mx1 goes away
	stdout, stderr, code := runArgs(t, append(common, "--baseline", base, "--json")...)
	if code != 2 {
		t.Errorf("mx --baseline after mx1 went away = %d (%s), want 2", code, stderr)
	}
	if !strings.Contains(stdout, dnscheck.CodeRegressionOutcome) || !strings.Contains(stdout, "mx1.demo.example") {
		t.Errorf("mx --baseline output lacks the regression of mx1:\n%s", stdout)
	}
	// A baseline of another command is refused.
	_, stderr, code = runArgs(t, "timeout", "127.0.0.2:1", "--baseline", base)
	if code != 3 || !strings.Contains(stderr, "is a mx report") {
		t.Errorf("timeout --baseline (mx report) = %d, %q; want 3 and why", code, stderr)
	}
}

// Every command of the table is in the help overview, man page and
// completion, and did-you-mean knows it.
func TestReferenceCoversCommands(t *testing.T) {
	names := map[string]bool{}
	for _, c := range cli(context.Background()).Reference() {
		names[c.Name] = true
	}
	for _, name := range commandNames() {
		if !names[name] {
			t.Errorf("command %s is missing from the reference", name)
		}
	}
}

// Every probe kind of the registry has its flags file, which runs it,
// and no flags file runs what is not a kind.
func TestKindsHaveFlagsFiles(t *testing.T) {
	for _, name := range job.KindNames() {
		if kindCommands[name] == nil {
			t.Errorf("kind %s has no flags file (one that puts its command in kindCommands)", name)
		}
		if commands[name] != nil {
			t.Errorf("kind %s is in commands too", name)
		}
	}
	for name := range kindCommands {
		if _, ok := job.KindOf(name); !ok {
			t.Errorf("kindCommands has %s, which is no kind of job.Kinds", name)
		}
	}
}
