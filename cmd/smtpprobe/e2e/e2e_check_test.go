package e2e

// End-to-end tests of `smtpprobe check`: the real binary in the lab's client
// namespace (lab_test.go), over real Postfix, dnsmasq and nftables, with one
// configuration of many targets and modules. And the pre-change validation
// story of the README's monitoring section: a baseline saved on the lab's open path and compared
// on the black-holed path reports a regression and exits 2.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// checkReport is the JSON document of `smtpprobe check --json`: a report
// (README "JSON") with one summary per check.
type checkReport struct {
	Command    string          `json:"command"`
	Target     string          `json:"target"`
	Started    string          `json:"started"`
	DurationMS *float64        `json:"duration_ms"`
	Outcome    string          `json:"outcome"`
	Results    []checkResult   `json:"results"`
	Findings   []mxFinding     `json:"findings"`
	Checks     []checkSummaryJ `json:"checks"`
}

type checkResult struct {
	Target    string   `json:"target"`
	Module    string   `json:"module"`
	Address   string   `json:"address"`
	Outcome   string   `json:"outcome"`
	Phase     string   `json:"phase"`
	TimeoutMS *float64 `json:"timeout_ms"`
	ClosedBy  string   `json:"closed_by"`
	PathMTU   *int     `json:"path_mtu"`
	Verdict   *string  `json:"verdict"`
}

type checkSummaryJ struct {
	Target     string   `json:"target"`
	Module     string   `json:"module"`
	Command    string   `json:"command"`
	Status     string   `json:"status"`
	Outcome    string   `json:"outcome"`
	DurationMS *float64 `json:"duration_ms"`
	Error      string   `json:"error"`
}

// checkKill ends a hung check; the slowest check here (a 3 s idle timeout,
// an MTU bracket, 2 s connect timeouts) needs well under 30 s.
const checkKill = 90 * time.Second

// runCheckBinary runs `smtpprobe check ARGS...` in the client namespace,
// trusting the lab's certificate.
func runCheckBinary(t *testing.T, l *Lab, bin string, args ...string) probeRun {
	t.Helper()
	return runLabBinary(t, l, bin, "check", args...)
}

// runLabBinary runs `smtpprobe CMD ARGS...` in the client namespace.
func runLabBinary(t *testing.T, l *Lab, bin, cmd string, args ...string) probeRun {
	t.Helper()
	r := runInLab(t, l, checkKill, []string{"SSL_CERT_FILE=" + l.TLSCert}, bin, cmd, args...)
	r.in = cmd + "(" + r.in + ")"
	return r
}

// decodeCheckReport parses stdout as exactly one combined report.
func decodeCheckReport(t *testing.T, r probeRun) checkReport {
	t.Helper()
	var rep checkReport
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("%s stdout is not JSON: %v\nstdout:\n%s\nstderr:\n%s", r.in, err, r.stdout, r.stderr)
	}
	if dec.More() {
		t.Errorf("%s stdout holds more than one JSON document", r.in)
	}
	if rep.Command != "check" || rep.DurationMS == nil || !slices.Contains(outcomes, rep.Outcome) {
		t.Errorf("%s command, duration_ms, outcome = %q, %v, %q; want check, a number, an outcome of the taxonomy", r.in, rep.Command, rep.DurationMS, rep.Outcome)
	}
	if _, err := time.Parse(time.RFC3339, rep.Started); err != nil {
		t.Errorf("%s started = %q, want RFC 3339", r.in, rep.Started)
	}
	for _, res := range rep.Results {
		if res.Target == "" || res.Module == "" || !slices.Contains(outcomes, res.Outcome) {
			t.Errorf("%s result %+v: want target, module and an outcome of the taxonomy", r.in, res)
		}
	}
	for _, f := range rep.Findings {
		if !strings.HasPrefix(f.Message, "[") || !strings.Contains(f.Message, "] ") {
			t.Errorf("%s finding %q: want its message to start with [module target]", r.in, f.Message)
		}
	}
	return rep
}

// labCheckConfig is a check over the lab: DNS at the lab's dnsmasq, short
// connect timeouts so that dropped SYNs cost 2 s.
func labCheckConfig(t *testing.T, l *Lab) string {
	t.Helper()
	text := fmt.Sprintf(`# smtpprobe check over lab %[1]s
parallel: 8
per_host: 4
modules:
  mx:
    command: mx
    resolver: %[2]s:53
    connect_timeout: 2s
    timeout: 10s
    # Without STARTTLS: Postfix's certificate flight is the only thing that
    # sends full-size segments towards the client. It would teach the
    # server's kernel the path MTU, and Postfix's next SYN-ACKs then carry
    # an MSS of 1360, so the path module's large probes come out "clamped"
    # and its verdict depends on which check ran first (see TestE2ECheck).
    no_starttls: true
  idle:
    command: timeout
    resolver: %[2]s:53
    ipv4: true
    phase: data
    max_wait: 10s
  path:
    command: mtu
    resolver: %[2]s:53
  toobig:
    command: mtu
    min: 9000
targets:
  - target: ok.lab.example
    modules: [mx, idle]
  - target: mixed.lab.example
    module: mx
  - target: down.lab.example
    module: mx
  - target: nullmx.lab.example
    module: mx
  - target: missing.lab.example
    module: mx
  - target: %[3]s
    modules: [path, toobig]
`, l.ID, l.DNS, labMX1v4)
	p := filepath.Join(l.Dir, "check-"+strings.ReplaceAll(t.Name(), "/", "-")+".yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestE2ECheck(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--smtpd-timeout", labSMTPDTimeout.String(), "--mtu", "1400", "--icmp", "allow")
	bin := smtpprobeBinary(t)
	cfg := labCheckConfig(t, l)
	flushPMTU(t, l)
	flushServerPMTU(t, l)

	t.Run("combined", func(t *testing.T) {
		r := runCheckBinary(t, l, bin, "--config", cfg, "--only-module", "mx,idle,path", "--json")
		wantExit(t, r, 2)
		if r.stderr != "" {
			t.Errorf("%s stderr = %q, want nothing (not a terminal: no progress)", r.in, r.stderr)
		}
		rep := decodeCheckReport(t, r)
		if rep.Target != cfg {
			t.Errorf("%s target = %q, want the configuration %q", r.in, rep.Target, cfg)
		}
		type want struct{ target, module, status, outcome string }
		var got []want
		for _, c := range rep.Checks {
			got = append(got, want{c.Target, c.Module, c.Status, c.Outcome})
		}
		wantChecks := []want{
			{"ok.lab.example", "mx", "OK", "ok"},
			// A measured idle timeout is a good result; 3 s is below RFC 5321's 5 minutes: WARNING.
			{"ok.lab.example", "idle", "WARNING", "server-timeout"},
			{"mixed.lab.example", "mx", "WARNING", "connect-timeout"},
			{"down.lab.example", "mx", "CRITICAL", "connect-timeout"},
			{"nullmx.lab.example", "mx", "CRITICAL", string(probe.NullMX)},
			{"missing.lab.example", "mx", "CRITICAL", "dns-error"},
			{labMX1v4, "path", "OK", "ok"},
		}
		if !slices.Equal(got, wantChecks) {
			t.Errorf("%s checks =\n%+v\nwant\n%+v\nstdout:\n%s", r.in, got, wantChecks, r.stdout)
		}
		if rep.Outcome != string(probe.NullMX) {
			t.Errorf("%s outcome = %q, want null-mx (the worst of the checks)", r.in, rep.Outcome)
		}
		idle, paths := 0, 0
		for _, res := range rep.Results {
			switch res.Module {
			case "idle":
				idle++
				if res.Phase != "data" || res.TimeoutMS == nil || !withinTolerance(*res.TimeoutMS, labSMTPDTimeout) {
					t.Errorf("%s idle result = phase %q, timeout_ms %s; want data and %v ± %v", r.in, res.Phase, ptrString(res.TimeoutMS), labSMTPDTimeout, timeoutTolerance(labSMTPDTimeout))
				}
			case "path":
				paths++
				if res.Verdict == nil || *res.Verdict != "pmtud-working" || res.PathMTU == nil || *res.PathMTU != 1400 {
					t.Errorf("%s path result = verdict %s, path_mtu %s; want pmtud-working, 1400", r.in, strp(res.Verdict), intp(res.PathMTU))
				}
			}
		}
		if idle != 1 || paths != 1 {
			t.Errorf("%s has %d idle and %d path results, want 1 and 1", r.in, idle, paths)
		}
		if !slices.ContainsFunc(rep.Findings, func(f mxFinding) bool {
			return f.Code == dnscheck.CodeNullMX && strings.HasPrefix(f.Message, "[mx nullmx.lab.example] ")
		}) {
			t.Errorf("%s findings = %+v, want null-mx of [mx nullmx.lab.example]", r.in, rep.Findings)
		}
		if r.elapsed > 30*time.Second {
			t.Errorf("%s took %v, want the checks to run concurrently (well under 30 s)", r.in, r.elapsed)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		// An MTU range above the interface is a usage error of that check:
		// UNKNOWN, and the other checks still run.
		r := runCheckBinary(t, l, bin, "--config", cfg, "--only-target", labMX1v4, "--json")
		wantExit(t, r, 3)
		rep := decodeCheckReport(t, r)
		if len(rep.Checks) != 2 || rep.Checks[0].Status != "OK" || rep.Checks[1].Status != "UNKNOWN" || rep.Checks[1].Error == "" {
			t.Errorf("%s checks = %+v, want path OK and toobig UNKNOWN with an error", r.in, rep.Checks)
		}
	})

	// The Nagios output of a lab check against the plugin guidelines: one
	// status line "SMTPPROBE STATUS - text | perfdata", perfdata syntax, and
	// exit codes 0, 1, 2, 3 matching the status.
	t.Run("nagios", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			args   []string
			status string
			exit   int
		}{
			{"ok", []string{"--only-target", "ok.lab.example", "--only-module", "mx"}, "OK", 0},
			{"warning", []string{"--only-target", "mixed.lab.example"}, "WARNING", 1},
			{"critical", []string{"--only-target", "down.lab.example,ok.lab.example", "--only-module", "mx"}, "CRITICAL", 2},
			{"unknown", []string{"--only-module", "toobig"}, "UNKNOWN", 3},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := runCheckBinary(t, l, bin, append([]string{"--config", cfg, "--format", "nagios"}, tc.args...)...)
				wantExit(t, r, tc.exit)
				first, rest, _ := strings.Cut(r.stdout, "\n")
				status, perf, hasPerf := strings.Cut(first, " | ")
				if !strings.HasPrefix(status, "SMTPPROBE "+tc.status+" - check "+cfg+": ") {
					t.Errorf("%s first line = %q, want SMTPPROBE %s - check FILE: ...", r.in, first, tc.status)
				}
				if strings.Contains(rest, "|") {
					t.Errorf("%s long text = %q, want no perfdata separator after the first line", r.in, rest)
				}
				if tc.status != "UNKNOWN" {
					if !hasPerf {
						t.Errorf("%s first line = %q, want perfdata", r.in, first)
					}
					probetest.WantPerfdata(t, perf)
				}
				if tc.status != "OK" && strings.TrimSpace(rest) == "" {
					t.Errorf("%s = %q, want a line per problem after the status line", r.in, r.stdout)
				}
			})
		}
	})

	t.Run("bad-config", func(t *testing.T) {
		bad := filepath.Join(l.Dir, "bad.yaml")
		if err := os.WriteFile(bad, []byte("modules:\n  mx:\n    command: mx\ntargets:\n  - target: ok.lab.example\n    module: mz\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runCheckBinary(t, l, bin, "--config", bad, "--format", "nagios")
		wantProbeUsageError(t, r, bad+":5: ")
	})
}

// flushServerPMTU makes the server forget the path MTU it learned towards the
// client: a cached one lowers the MSS Postfix advertises.
func flushServerPMTU(t *testing.T, l *Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, fam := range []string{"-4", "-6"} {
		if _, errOut, exit := l.ExecNS(t, ctx, l.ServerNS, "ip", fam, "route", "flush", "cache"); exit != 0 {
			t.Fatalf("ip %s route flush cache (server) exit = %d: %s", fam, exit, errOut)
		}
	}
}

// TestE2ECheckBaseline: "A baseline saved on the lab's open path and compared on
// the black-holed path reports a regression and exits 2", for `mtu` and for
// `check` with an mtu module.
func TestE2ECheckBaseline(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--mtu", "1400", "--icmp", "allow")
	bin := smtpprobeBinary(t)
	dir := t.TempDir()

	open := func(t *testing.T) {
		l.SetICMP(t, "allow")
		flushPMTU(t, l)
		flushServerPMTU(t, l)
	}
	blackhole := func(t *testing.T) {
		l.SetICMP(t, "drop")
		flushPMTU(t, l)
		flushServerPMTU(t, l)
	}

	t.Run("mtu", func(t *testing.T) {
		base := filepath.Join(dir, "mtu-baseline.json")
		open(t)
		r := runLabBinary(t, l, bin, "mtu", labMX1v4, "--json", "--save-baseline", base)
		wantExit(t, r, 0)
		res := oneMTUResult(t, r, decodeMTU(t, r), labMX1v4)
		if res.Verdict == nil || *res.Verdict != "pmtud-working" {
			t.Fatalf("%s verdict = %s, want pmtud-working on the open path", r.in, strp(res.Verdict))
		}
		if b, err := os.ReadFile(base); err != nil || !strings.Contains(string(b), `"pmtud-working"`) {
			t.Fatalf("--save-baseline %s = %v, want the saved report with verdict pmtud-working", base, err)
		}

		blackhole(t)
		r = runLabBinary(t, l, bin, "mtu", labMX1v4, "--json", "--baseline", base)
		wantExit(t, r, 2)
		rep := decodeProbe(t, r, "mtu")
		wantProbeFinding(t, r, rep, dnscheck.CodeRegressionPMTUBlackhole, "critical")
	})

	t.Run("check", func(t *testing.T) {
		cfg := filepath.Join(l.Dir, "check-baseline.yaml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("modules:\n  path:\n    command: mtu\n    ipv4: true\ntargets:\n  - target: %s\n    module: path\n", labMX1v4)), 0o644); err != nil {
			t.Fatal(err)
		}
		base := filepath.Join(dir, "check-baseline.json")
		open(t)
		r := runCheckBinary(t, l, bin, "--config", cfg, "--json", "--save-baseline", base)
		wantExit(t, r, 0)
		rep := decodeCheckReport(t, r)
		if len(rep.Results) != 1 || rep.Results[0].Verdict == nil || *rep.Results[0].Verdict != "pmtud-working" {
			t.Fatalf("%s results = %+v, want one with verdict pmtud-working on the open path", r.in, rep.Results)
		}

		blackhole(t)
		r = runCheckBinary(t, l, bin, "--config", cfg, "--json", "--baseline", base)
		wantExit(t, r, 2)
		rep = decodeCheckReport(t, r)
		if len(rep.Checks) != 1 || rep.Checks[0].Status != "CRITICAL" || rep.Checks[0].Outcome != string(probe.PMTUBlackhole) {
			t.Errorf("%s checks = %+v, want path CRITICAL, pmtu-blackhole", r.in, rep.Checks)
		}
		if !slices.ContainsFunc(rep.Findings, func(f mxFinding) bool {
			return f.Code == dnscheck.CodeRegressionPMTUBlackhole && f.Severity == "critical" && strings.HasPrefix(f.Message, "[path "+labMX1v4+"] ")
		}) {
			t.Errorf("%s findings = %+v, want a critical regression-pmtu-blackhole of [path %s]", r.in, rep.Findings, labMX1v4)
		}
	})
}
