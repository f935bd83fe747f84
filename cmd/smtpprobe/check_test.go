package main

// Tests of `smtpprobe check` in process, against the embedded demo lab
// (demo.go: DNS for demo.example and go-smtp servers on 127.0.0.2-5) and
// go-smtp servers of their own on loopback. No root, no network.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// startSMTP starts a go-smtp server on 127.0.0.1 for the test.
func startSMTP(t testing.TB, opt probetest.SMTPOptions) *probetest.SMTPServer {
	t.Helper()
	s, err := probetest.StartSMTP("127.0.0.1:0", opt)
	if err != nil {
		t.Fatalf("StartSMTP: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// demoConfig is a check over the demo lab: a domain with a refused MX and
// an unverifiable certificate (WARNING), a healthy server (OK), a server
// whose idle timeout is below the module's critical threshold (CRITICAL)
// and a closed port (CRITICAL).
const demoConfig = `
parallel: 4
per_host: 4
modules:
  mx:
    command: mx
    resolver: DNS
    connect_timeout: 2s
    timeout: 5s
    no_ptr: true
  send:
    command: session
    resolver: DNS
    connect_timeout: 2s
    timeout: 5s
    to: [postmaster@demo.example] # go-smtp refuses postmaster@[127.0.0.2]
  idle:
    command: timeout
    resolver: DNS
    phase: ehlo
    max_wait: 5s
    critical: timeout=30s
targets:
  - target: demo.example:PORT
    module: mx
  - target: 127.0.0.2:PORT
    module: send
  - target: 127.0.0.4:PORT
    module: idle
  - target: 127.0.0.5:PORT
    modules: [send]
`

func demoCheckConfig(t testing.TB, lab *probetest.DemoLab) string {
	t.Helper()
	text := strings.NewReplacer("DNS", lab.DNS.Addr, "PORT", fmt.Sprint(lab.Port)).Replace(demoConfig)
	return probetest.WriteConfig(t, text)
}

// decodeCheck parses stdout as exactly one combined check report.
func decodeCheck(t testing.TB, stdout string) probe.Report {
	t.Helper()
	var rep probe.Report
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("check stdout is not JSON: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("check stdout holds more than one JSON document:\n%s", stdout)
	}
	return rep
}

type checkWant struct {
	target, module, status string
	outcome                probe.Outcome
}

func wantChecks(t testing.TB, rep probe.Report, want []checkWant) {
	t.Helper()
	var got []checkWant
	for _, c := range rep.Checks {
		got = append(got, checkWant{c.Target, c.Module, c.Status.String(), c.Outcome})
	}
	if !slices.Equal(got, want) {
		t.Errorf("check checks = %+v\nwant %+v", got, want)
	}
}

func TestCheckCombined(t *testing.T) {
	t.Parallel()
	lab := probetest.DemoLabFor(t, time.Second)
	cfg := demoCheckConfig(t, lab)
	p := fmt.Sprint(lab.Port)
	stdout, stderr, code := runArgs(t, "check", "--config", cfg, "--json")
	if code != 2 {
		t.Errorf("check(demo) = %d, want 2 (the worst check is CRITICAL)\nstderr: %s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("check(demo) stderr = %q, want nothing (no terminal, no progress)", stderr)
	}
	rep := decodeCheck(t, stdout)
	if rep.Command != "check" || rep.Target != cfg {
		t.Errorf("check(demo) command, target = %q, %q; want check, %q", rep.Command, rep.Target, cfg)
	}
	wantChecks(t, rep, []checkWant{
		{"demo.example:" + p, "mx", "WARNING", probe.Refused},
		{"127.0.0.2:" + p, "send", "OK", probe.OK},
		{"127.0.0.4:" + p, "idle", "CRITICAL", probe.ServerTimeout},
		{"127.0.0.5:" + p, "send", "CRITICAL", probe.Refused},
	})
	if rep.Outcome != probe.Refused {
		t.Errorf("check(demo) outcome = %q, want %q (the worst)", rep.Outcome, probe.Refused)
	}
	if rep.Status() != probe.StatusCritical {
		t.Errorf("check(demo) status = %v, want CRITICAL", rep.Status())
	}
	// Every result names its check; the mx check has four addresses.
	perCheck := map[string]int{}
	for _, r := range rep.Results {
		if r.Target == "" || r.Module == "" {
			t.Errorf("check(demo) result %s has target %q, module %q; want both", r.Address, r.Target, r.Module)
		}
		perCheck[r.Module+" "+r.Target]++
	}
	wantN := map[string]int{"mx demo.example:" + p: 4, "send 127.0.0.2:" + p: 1, "idle 127.0.0.4:" + p: 1, "send 127.0.0.5:" + p: 1}
	for k, n := range wantN {
		if perCheck[k] != n {
			t.Errorf("check(demo) results of %s = %d, want %d (all: %v)", k, perCheck[k], n, perCheck)
		}
	}
	// Findings say which check they belong to.
	prefix := regexp.MustCompile(`^\[(mx|send|idle) [^ \]]+\] `)
	var codes []string
	for _, f := range rep.Findings {
		if !prefix.MatchString(f.Message) {
			t.Errorf("check(demo) finding %q, want its message to start with [module target]", f.Message)
		}
		codes = append(codes, string(f.Severity)+" "+f.Code+" "+strings.SplitN(f.Message, "]", 2)[0]+"]")
	}
	for _, want := range []string{"critical threshold-timeout [idle 127.0.0.4:" + p + "]", "info tls-verify-failed [mx demo.example:" + p + "]"} { // info: opportunistic TLS (issue 12)
		if !slices.Contains(codes, want) {
			t.Errorf("check(demo) findings = %q, want one %q", codes, want)
		}
	}
	if rep.Findings[0].Severity != probe.SevCritical {
		t.Errorf("check(demo) first finding = %+v, want critical findings first", rep.Findings[0])
	}
}

func TestCheckFormats(t *testing.T) {
	t.Parallel()
	lab := probetest.DemoLabFor(t, time.Second)
	cfg := demoCheckConfig(t, lab)
	p := fmt.Sprint(lab.Port)

	t.Run("prom", func(t *testing.T) {
		stdout, stderr, code := runArgs(t, "check", "--config", cfg, "--format", "prom")
		if code != 2 || stderr != "" {
			t.Errorf("check(--format prom) = %d, stderr %q; want 2 and nothing", code, stderr)
		}
		parser := expfmt.NewTextParser(model.LegacyValidation)
		mfs, err := parser.TextToMetricFamilies(strings.NewReader(stdout))
		if err != nil {
			t.Fatalf("check(--format prom) does not parse: %v\n%s", err, stdout)
		}
		status := map[string]float64{}
		for _, m := range mfs["smtpprobe_status"].GetMetric() {
			status[labelOf(m, "module")+" "+labelOf(m, "target")+" "+labelOf(m, "command")] = m.GetGauge().GetValue()
		}
		want := map[string]float64{"mx demo.example:" + p + " mx": 1, "send 127.0.0.2:" + p + " session": 0,
			"idle 127.0.0.4:" + p + " timeout": 2, "send 127.0.0.5:" + p + " session": 2}
		if !mapsEqual(status, want) {
			t.Errorf("check(--format prom) smtpprobe_status = %v, want %v (one series per check)", status, want)
		}
		idle := 0
		for _, m := range mfs["smtpprobe_server_timeout_seconds"].GetMetric() {
			if labelOf(m, "module") == "idle" && labelOf(m, "idle_phase") == "ehlo" {
				idle++
				if v := m.GetGauge().GetValue(); v < 0.9 || v > 1.5 {
					t.Errorf("smtpprobe_server_timeout_seconds{module=idle} = %v, want about 1 (the demo server's ReadTimeout)", v)
				}
			}
		}
		if idle != 1 {
			t.Errorf("check(--format prom) has %d smtpprobe_server_timeout_seconds series of module idle, want 1", idle)
		}
	})

	t.Run("nagios", func(t *testing.T) {
		stdout, _, code := runArgs(t, "check", "--config", cfg, "--format", "nagios")
		if code != 2 {
			t.Errorf("check(--format nagios) = %d, want 2", code)
		}
		first, rest, _ := strings.Cut(stdout, "\n")
		status, perf, ok := strings.Cut(first, " | ")
		if !ok || !strings.HasPrefix(status, "SMTPPROBE CRITICAL - check "+cfg+": 4 checks, 1 OK, 1 WARNING, 2 CRITICAL") {
			t.Errorf("check(--format nagios) first line = %q, want SMTPPROBE CRITICAL - check FILE: 4 checks, 1 OK, 1 WARNING, 2 CRITICAL ... | perfdata", first)
		}
		probetest.WantPerfdata(t, perf)
		if !strings.Contains(perf, "'idle 127.0.0.4:"+p+" 127.0.0.4:"+p+" ehlo server_timeout'=") || !strings.Contains(perf, ";30:;0") {
			t.Errorf("check(--format nagios) perfdata = %q, want the idle check's server_timeout with its module's critical range 30:", perf)
		}
		if !strings.Contains(rest, "CRITICAL send 127.0.0.5:"+p+": outcome refused") {
			t.Errorf("check(--format nagios) long text = %q, want a line for the refused check", rest)
		}
	})

	t.Run("text", func(t *testing.T) {
		stdout, _, code := runArgs(t, "check", "--config", cfg)
		if code != 2 {
			t.Errorf("check(text) = %d, want 2", code)
		}
		lines := strings.Split(stdout, "\n")
		if !strings.HasPrefix(lines[0], "check "+cfg+": CRITICAL, outcome refused, 4 checks") {
			t.Errorf("check(text) first line = %q", lines[0])
		}
		table := regexp.MustCompile(`(?m)^  TARGET +MODULE +STATUS +OUTCOME +DURATION\n  demo\.example:\d+ +mx +WARNING +refused .*\n(      policy: .*\n)?  127\.0\.0\.2:\d+ +send +OK +ok .*\n  127\.0\.0\.4:\d+ +idle +CRITICAL +server-timeout .*\n  127\.0\.0\.5:\d+ +send +CRITICAL +refused `)
		if !table.MatchString(stdout) {
			t.Errorf("check(text) has no summary table of the four checks:\n%s", stdout)
		}
		// Issue 20: the table, then only the problems of each check that
		// has some, in order; the OK check says nothing more.
		if i, j := strings.Index(stdout, "[mx] demo.example:"+p+": WARNING\n"), strings.Index(stdout, "[idle] 127.0.0.4:"+p+": CRITICAL\n"); i < 0 || j < i {
			t.Errorf("check(text) = \n%s\nwant each failing check's problems in order", stdout)
		}
		if strings.Contains(stdout, "[send] 127.0.0.2") || strings.Contains(stdout, "banner:") || strings.Contains(stdout, "\ninfo ") {
			t.Errorf("check(text) = \n%s\nwant no details of the OK check, no banners and no info findings (those are -v's)", stdout)
		}
		verbose, _, code := runArgs(t, "check", "--config", cfg, "-v")
		if code != 2 {
			t.Errorf("check(-v) = %d, want 2", code)
		}
		if i, j := strings.Index(verbose, "[mx] mx demo.example:"+p+": WARNING"), strings.Index(verbose, "[idle] timeout 127.0.0.4:"+p+": CRITICAL"); i < 0 || j < i ||
			!strings.Contains(verbose, "[send] session 127.0.0.2:"+p+": OK") {
			t.Errorf("check(-v) = \n%s\nwant every check's full report in order", verbose)
		}
	})

	t.Run("prom-file", func(t *testing.T) {
		pf := filepath.Join(t.TempDir(), "smtpprobe.prom")
		stdout, _, code := runArgs(t, "check", "--config", cfg, "--json", "--prom-file", pf)
		if code != 2 {
			t.Errorf("check(--prom-file) = %d, want 2", code)
		}
		decodeCheck(t, stdout)
		b, err := os.ReadFile(pf)
		if err != nil || !strings.Contains(string(b), `smtpprobe_status{command="timeout",module="idle",target="127.0.0.4:`+p+`"} 2`) {
			t.Errorf("--prom-file %s = %v\n%s\nwant the idle check's status 2", pf, err, b)
		}
	})
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestCheckQuiet(t *testing.T) {
	t.Parallel()
	s := startSMTP(t, probetest.SMTPOptions{Domain: "mx.check.example"})
	cfg := probetest.WriteConfig(t, fmt.Sprintf(`
modules:
  send:
    command: session
    timeout: 5s
    to: [postmaster@check.example]
  quick:
    command: timeout
    phase: banner
    max_wait: 200ms
targets:
  - target: %s
    modules: [send, quick]
`, s.Addr))
	for _, format := range []string{"text", "json", "prom"} {
		stdout, stderr, code := runArgs(t, "check", "--config", cfg, "-q", "--format", format)
		if code != 0 || stdout != "" || stderr != "" {
			t.Errorf("check(all OK, -q, %s) = %d, stdout %q, stderr %q; want 0 and nothing", format, code, stdout, stderr)
		}
	}
	// A Nagios plugin prints its status line always, -q or not.
	if stdout, stderr, code := runArgs(t, "check", "--config", cfg, "-q", "--format", "nagios"); code != 0 || !strings.HasPrefix(stdout, "SMTPPROBE OK - ") || stderr != "" {
		t.Errorf("check(all OK, -q, nagios) = %d, stdout %q, stderr %q; want 0 and the SMTPPROBE OK status line", code, stdout, stderr)
	}
	stdout, _, code := runArgs(t, "check", "--config", cfg)
	if code != 0 || !strings.Contains(stdout, ": OK, outcome ok, 2 checks: 2 OK") {
		t.Errorf("check(all OK) = %d\n%s\nwant 0 and a summary of 2 OK checks", code, stdout)
	}
}

// A check that cannot run (a message above the server's SIZE) is UNKNOWN,
// with a critical finding; the others still run.
func TestCheckJobError(t *testing.T) {
	t.Parallel()
	s := startSMTP(t, probetest.SMTPOptions{MaxBytes: 1000})
	cfg := probetest.WriteConfig(t, fmt.Sprintf(`
modules:
  big:
    command: session
    size: 5000
    to: [postmaster@check.example]
  small:
    command: session
    size: 500
    to: [postmaster@check.example]
targets:
  - target: %s
    modules: [big, small]
`, s.Addr))
	stdout, stderr, code := runArgs(t, "check", "--config", cfg, "--json")
	if code != 3 || stderr != "" {
		t.Errorf("check(one usage error) = %d, stderr %q; want 3 (UNKNOWN, the worst) and nothing on stderr", code, stderr)
	}
	rep := decodeCheck(t, stdout)
	wantChecks(t, rep, []checkWant{{s.Addr.String(), "big", "UNKNOWN", ""}, {s.Addr.String(), "small", "OK", probe.OK}})
	if len(rep.Checks) == 2 && !strings.Contains(rep.Checks[0].Error, "SIZE 1000") {
		t.Errorf("check(one usage error) checks[0].error = %q, want the SIZE problem", rep.Checks[0].Error)
	}
	if len(rep.Results) != 1 || rep.Results[0].Module != "small" || rep.Results[0].Outcome != probe.OK {
		t.Errorf("check(one usage error) results = %+v, want the small check's one ok result", rep.Results)
	}
	if len(rep.Findings) == 0 || rep.Findings[0].Code != dnscheck.CodeCheckFailed || rep.Findings[0].Severity != probe.SevCritical ||
		!strings.HasPrefix(rep.Findings[0].Message, "[big "+s.Addr.String()+"] ") {
		t.Errorf("check(one usage error) findings = %+v, want a critical check-failed for [big %s] first", rep.Findings, s.Addr)
	}
	// The metrics say UNKNOWN for the run that could not be made.
	stdout, _, _ = runArgs(t, "check", "--config", cfg, "--format", "prom")
	if !strings.Contains(stdout, `smtpprobe_status{command="session",module="big",target="`+s.Addr.String()+`"} 3`) {
		t.Errorf("check(one usage error, prom) =\n%s\nwant smtpprobe_status 3 for module big", stdout)
	}
}

func TestCheckBaseline(t *testing.T) {
	t.Parallel()
	s := startSMTP(t, probetest.SMTPOptions{})
	cfg := probetest.WriteConfig(t, fmt.Sprintf(`
modules:
  send:
    command: session
    connect_timeout: 2s
    to: [postmaster@check.example]
targets:
  - target: %s
    module: send
`, s.Addr))
	base := filepath.Join(t.TempDir(), "base.json")
	if _, stderr, code := runArgs(t, "check", "--config", cfg, "--save-baseline", base, "-q"); code != 0 {
		t.Fatalf("check(--save-baseline) = %d, want 0\n%s", code, stderr)
	}
	if stdout, _, code := runArgs(t, "check", "--config", cfg, "--baseline", base, "--json"); code != 0 {
		t.Errorf("check(--baseline, unchanged) = %d, want 0\n%s", code, stdout)
	}
	s.Close() // the change: the server is gone, the port refuses
	stdout, _, code := runArgs(t, "check", "--config", cfg, "--baseline", base, "--json")
	if code != 2 {
		t.Errorf("check(--baseline, server gone) = %d, want 2", code)
	}
	rep := decodeCheck(t, stdout)
	found := false
	for _, f := range rep.Findings {
		found = found || (f.Code == dnscheck.CodeRegressionOutcome && f.Severity == probe.SevCritical && strings.HasPrefix(f.Message, "[send "+s.Addr.String()+"] "))
	}
	if !found {
		t.Errorf("check(--baseline, server gone) findings = %+v, want a critical regression-outcome of [send %s]", rep.Findings, s.Addr)
	}

	// A baseline of another command is bad input.
	other := filepath.Join(t.TempDir(), "mx.json")
	if err := os.WriteFile(other, []byte(`{"command":"mx","target":"example.com","results":[],"findings":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runArgs(t, "check", "--config", cfg, "--baseline", other)
	if code != 3 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "is a mx report") {
		t.Errorf("check(--baseline of mx) = %d, stdout %q, stderr %q; want 3 and one line", code, stdout, stderr)
	}
}

func TestCheckBadInput(t *testing.T) {
	t.Parallel()
	good := probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\ntargets:\n  - target: example.com\n    module: mx\n")
	tests := []struct {
		name string
		args []string
		want string // substring of the one stderr line
	}{
		{"no config", []string{"check"}, "--config FILE is required"},
		{"missing file", []string{"check", "--config", "/nonexistent/check.yaml"}, "/nonexistent/check.yaml"},
		{"bad line", []string{"check", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\n    timeout: soon\n")}, `check.yaml:4: timeout: "soon": want a duration`},
		{"unknown module", []string{"check", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\ntargets:\n  - target: example.com\n    module: nope\n")}, `check.yaml:5: target example.com: unknown module "nope"`},
		{"duplicate", []string{"check", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\ntargets:\n  - target: example.com\n    module: mx\n  - target: example.com\n    module: mx\n")}, "check.yaml:7: target example.com with module mx is already listed at line 5"},
		{"no targets", []string{"check", "--config", probetest.WriteConfig(t, "modules:\n  mx:\n    command: mx\n")}, "no targets"},
		{"argument", []string{"check", "--config", good, "example.com"}, "takes no arguments"},
		{"parallel", []string{"check", "--config", good, "--parallel", "0"}, "--parallel 0"},
		{"per-host", []string{"check", "--config", good, "--per-host", "100"}, "--per-host 100"},
		{"only-module", []string{"check", "--config", good, "--only-module", "nope"}, `--only-module "nope"`},
		{"only-target", []string{"check", "--config", good, "--only-target", "example.net"}, `--only-target "example.net"`},
		{"format", []string{"check", "--config", good, "--format", "xml"}, `--format "xml"`},
		{"warning", []string{"check", "--config", good, "--warning", "speed=1"}, "--warning"},
	}
	for _, tc := range tests {
		stdout, stderr, code := runArgs(t, tc.args...)
		if code != 3 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("check(%s) = %d, stdout %q, stderr %q; want 3, no stdout, one line containing %q", tc.name, code, stdout, stderr, tc.want)
		}
	}
}
