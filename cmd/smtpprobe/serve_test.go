package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// serveLab is the demo lab with an idle server that stays quiet far
// longer than any test waits, and a configuration for it.
type serveLab struct {
	lab  *probetest.DemoLab
	port string
}

// startServeLab starts the demo lab for a serve test.
func startServeLab(t testing.TB) *serveLab {
	t.Helper()
	lab := probetest.DemoLabFor(t, time.Minute)
	return &serveLab{lab: lab, port: fmt.Sprint(lab.Port)}
}

// config returns a serve configuration for the lab; extra goes under
// serve:.
func (l *serveLab) config(t testing.TB, extra string) string {
	t.Helper()
	return probetest.WriteConfig(t, fmt.Sprintf(`
modules:
  mx:
    command: mx
    resolver: %[1]s
    connect_timeout: 2s
    timeout: 5s
    helo: probe.demo.example
  session:
    command: session
    resolver: %[1]s
    connect_timeout: 2s
    timeout: 5s
    helo: probe.demo.example
    to: [postmaster@demo.example]
  idle:
    command: timeout
    resolver: %[1]s
    phase: ehlo
    max_wait: 30s
    helo: probe.demo.example
serve:
  allow: ["demo.example:%[3]s", "127.0.0.0/8:%[3]s"]
%[2]s`, l.lab.DNS.Addr, extra, l.port))
}

// exporterRun is a runServe running in the background.
type exporterRun struct {
	addr   string // host:port it listens on
	stderr *probetest.LockedBuffer
	cancel context.CancelFunc
	done   chan int // exit code, once runServe returned
}

var listeningRE = regexp.MustCompile(`smtpprobe serve: listening on (\S+) \(`)

// startServe runs `smtpprobe serve --listen 127.0.0.1:0 args...` until
// the test ends, and waits for its "listening on" line.
func startServe(t testing.TB, args ...string) *exporterRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &exporterRun{stderr: &probetest.LockedBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args = append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	go func() {
		r.done <- run(ctx, args, io.Discard, r.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not return 20s after its context ended")
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(r.stderr.String()); m != nil {
			r.addr = m[1]
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("serve stderr:\n%s", r.stderr.String())
				}
			})
			return r
		}
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("serve %v = %d before listening; stderr %q", args, code, r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve %v: no \"listening on\" line within 5s; stderr %q", args, r.stderr.String())
	return nil
}

// get requests path (with its query) with an optional scrape timeout
// header, as Prometheus does.
func (r *exporterRun) get(t testing.TB, path, scrapeTimeout string) probetest.ScrapeResult {
	t.Helper()
	return r.do(t, http.MethodGet, path, scrapeTimeout)
}

func (r *exporterRun) do(t testing.TB, method, path, scrapeTimeout string) probetest.ScrapeResult {
	t.Helper()
	return probetest.Scrape(t, method, "http://"+r.addr+path, scrapeTimeout)
}

func TestServeProbe(t *testing.T) {
	t.Parallel()
	l := startServeLab(t)
	srv := startServe(t, "--config", l.config(t, ""))
	p := l.port

	tests := []struct {
		name    string
		method  string
		query   string
		timeout string // X-Prometheus-Scrape-Timeout-Seconds
		code    int
		reason  string        // substring of a 4xx/5xx body
		success float64       // smtpprobe_success for a 200
		status  []float64     // smtpprobe_status for a 200: one of these
		within  time.Duration // the answer's deadline, when set
		// outcomes by address, for a 200
		outcomes map[string]string
		// smtpprobe_probe_deadline_exceeded for a 200
		deadlineCut float64
	}{
		{name: "mx with a closed address", query: "target=demo.example:" + p + "&module=mx", code: 200,
			success: 0, status: []float64{1}, outcomes: map[string]string{
				"127.0.0.2": "ok", "127.0.0.3": "ok", "127.0.0.4": "ok", "127.0.0.5": string(probe.Refused)}},
		{name: "session to the healthy server", query: "target=127.0.0.2:" + p + "&module=session", code: 200,
			success: 1, status: []float64{0}, outcomes: map[string]string{"127.0.0.2": "ok"}},
		{name: "scrape timeout ends a long probe", query: "target=127.0.0.4:" + p + "&module=idle", timeout: "1",
			// The deadline cuts the quiet wait: UNKNOWN, with
			// smtpprobe_probe_deadline_exceeded 1 and no session series
			// (the cut session's reply-timeout is the exporter's own
			// deadline, not a failure of the server).
			code: 200, success: 0, status: []float64{3}, outcomes: map[string]string{}, deadlineCut: 1,
			within: 1500 * time.Millisecond},
		{name: "address outside the allowlist", query: "target=198.51.100.1&module=session", code: 403,
			reason: "target 198.51.100.1:25: 198.51.100.1 is outside every network in serve.allow"},
		{name: "IPv6 address outside the allowlist", query: "target=[2001:db8::25]:25&module=session", code: 403,
			reason: "target [2001:db8::25]:25: 2001:db8::25 is outside every network in serve.allow"},
		{name: "allowed domain on another port", query: "target=demo.example:2525&module=mx", code: 403,
			reason: "target demo.example: port 2525 is not in serve.allow (its entries allow port " + p + ")"},
		{name: "allowed network on another port", query: "target=127.0.0.2&module=session", code: 403,
			reason: "port 25 of 127.0.0.2 is not in serve.allow"},
		{name: "scrape timeout below the minimum", query: "target=demo.example:" + p + "&module=mx", timeout: "0.3", code: 400,
			reason: "below the minimum of 250ms"},
		{name: "domain outside the allowlist", query: "target=example.net&module=mx", code: 403,
			reason: "target example.net is not in serve.allow"},
		{name: "domain that only ends like an allowed one", query: "target=notdemo.example&module=mx", code: 403,
			reason: "not in serve.allow"},
		{name: "unknown module", query: "target=demo.example&module=nope", code: 400,
			reason: `unknown module "nope" (modules: idle, mx, session)`},
		{name: "missing target", query: "module=mx", code: 400, reason: "missing target"},
		{name: "missing module", query: "target=demo.example", code: 400, reason: "missing module"},
		{name: "invalid target", query: "target=demo..example&module=mx", code: 400, reason: "empty label"},
		{name: "bad port", query: "target=demo.example:99999&module=mx", code: 400, reason: "out of range"},
		{name: "bad timeout header", query: "target=demo.example&module=mx", timeout: "soon", code: 400,
			reason: "X-Prometheus-Scrape-Timeout-Seconds"},
		{name: "POST", method: http.MethodPost, query: "target=demo.example&module=mx", code: 405, reason: "GET only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			res := srv.do(t, method, "/probe?"+tc.query, tc.timeout)
			if res.Code != tc.code {
				t.Fatalf("serve(%s /probe?%s) = %d %q, want %d", method, tc.query, res.Code, res.Body, tc.code)
			}
			if tc.within > 0 && res.Took > tc.within {
				t.Errorf("serve(/probe?%s, scrape timeout %ss) took %s, want at most %s", tc.query, tc.timeout, res.Took, tc.within)
			}
			if tc.code != 200 {
				if !strings.Contains(res.Body, tc.reason) || strings.Count(strings.TrimSpace(res.Body), "\n") != 0 {
					t.Errorf("serve(/probe?%s) body = %q, want one line with %q", tc.query, res.Body, tc.reason)
				}
				return
			}
			samples := probetest.ParseExposition(t, res.Body)
			if v, ok := probetest.SeriesValue(samples, "smtpprobe_success", nil); !ok || v != tc.success {
				t.Errorf("serve(/probe?%s) smtpprobe_success = %v (found %v), want %v\n%s", tc.query, v, ok, tc.success, res.Body)
			}
			if v, ok := probetest.SeriesValue(samples, "smtpprobe_status", nil); !ok || !slices.Contains(tc.status, v) {
				t.Errorf("serve(/probe?%s) smtpprobe_status = %v (found %v), want %v\n%s", tc.query, v, ok, tc.status, res.Body)
			}
			module := strings.TrimPrefix(regexp.MustCompile(`module=\w+`).FindString(tc.query), "module=")
			if s := probetest.FindSeries(samples, "smtpprobe_success", map[string]string{"module": module}); len(s) != 1 {
				t.Errorf("serve(/probe?%s) smtpprobe_success{module=%q}: %d series, want 1", tc.query, module, len(s))
			}
			if v, ok := probetest.SeriesValue(samples, "smtpprobe_probe_deadline_exceeded", nil); !ok || v != tc.deadlineCut {
				t.Errorf("serve(/probe?%s) smtpprobe_probe_deadline_exceeded = %v (found %v), want %v", tc.query, v, ok, tc.deadlineCut)
			}
			if tc.outcomes != nil {
				got := map[string]string{}
				for _, s := range probetest.FindSeries(samples, "smtpprobe_result_outcome", nil) {
					got[s.Labels["address"]] = s.Labels["outcome"]
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.outcomes) {
					t.Errorf("serve(/probe?%s) smtpprobe_result_outcome = %v, want %v", tc.query, got, tc.outcomes)
				}
			}
		})
	}

	// The exporter's own metrics count what happened above.
	res := srv.get(t, "/metrics", "")
	if res.Code != 200 {
		t.Fatalf("serve(/metrics) = %d, want 200", res.Code)
	}
	samples := probetest.ParseExposition(t, res.Body)
	counts := []struct {
		module, result string
		want           float64
	}{
		{"mx", "failure", 1},
		{"session", "success", 1},
		{"idle", "failure", 1},
		{"mx", "rejected", 7},      // 403 ×3 (two names, a port), invalid target, port, bad header, short header
		{"session", "rejected", 3}, // 403 ×3
		{"", "rejected", 4},        // unknown module, missing target, missing module, POST: no module label
		{"idle", "rejected", 0},
	}
	for _, c := range counts {
		v, ok := probetest.SeriesValue(samples, "smtpprobe_exporter_probes_total", map[string]string{"module": c.module, "result": c.result})
		if !ok || v != c.want {
			t.Errorf("serve(/metrics) smtpprobe_exporter_probes_total{module=%q,result=%q} = %v (found %v), want %v",
				c.module, c.result, v, ok, c.want)
		}
	}
	if v, ok := probetest.SeriesValue(samples, "smtpprobe_exporter_probe_duration_seconds", map[string]string{"module": "mx"}); !ok || v != 1 {
		t.Errorf("serve(/metrics) smtpprobe_exporter_probe_duration_seconds{module=mx} count = %v, want 1", v)
	}
	for _, name := range []string{"smtpprobe_exporter_probes_in_flight", "go_goroutines", "process_open_fds", "smtpprobe_exporter_max_concurrent"} {
		if len(probetest.FindSeries(samples, name, nil)) == 0 {
			t.Errorf("serve(/metrics) lacks %s", name)
		}
	}
	if v, _ := probetest.SeriesValue(samples, "smtpprobe_exporter_max_concurrent", nil); v != 8 {
		t.Errorf("serve(/metrics) smtpprobe_exporter_max_concurrent = %v, want 8 (the default)", v)
	}

	// One log line per probe, rejected ones included, and nothing else
	// but the start.
	logLines := strings.Split(strings.TrimSpace(srv.stderr.String()), "\n")
	if want := 1 + len(tests); len(logLines) != want {
		t.Errorf("serve stderr has %d lines, want %d:\n%s", len(logLines), want, srv.stderr.String())
	}
	if !strings.Contains(srv.stderr.String(), "probe module=mx target=demo.example:"+p+" status=WARNING outcome=refused") {
		t.Errorf("serve stderr lacks the mx probe's line:\n%s", srv.stderr.String())
	}

	idx := srv.get(t, "/", "")
	for _, w := range []string{"/probe?target=", "/metrics", "mx", "session", "idle"} {
		if idx.Code != 200 || !strings.Contains(idx.Body, w) {
			t.Errorf("serve(/) = %d %q, want 200 and %q", idx.Code, idx.Body, w)
		}
	}
	if res := srv.get(t, "/nothing", ""); res.Code != 404 {
		t.Errorf("serve(/nothing) = %d, want 404", res.Code)
	}
}

func TestServeBadInput(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	modules := "modules:\n  mx:\n    command: mx\n"
	noAllow := probetest.WriteConfig(t, modules)
	good := probetest.WriteConfig(t, modules+"serve:\n  allow: [example.com, 192.0.2.0/24]\n")
	namesOnly := probetest.WriteConfig(t, modules+"serve:\n  allow: [example.com]\n")
	deliver := probetest.WriteConfig(t, "modules:\n  send:\n    command: session\n    deliver: true\nserve:\n  allow: [192.0.2.0/24]\n")
	tests := []struct {
		args []string
		want string // substring of the one stderr line
	}{
		{[]string{"--config", noAllow}, "no serve.allow: add serve: {allow: [DOMAIN or CIDR, ...]}"},
		{nil, "--config FILE is required"},
		{[]string{"--config", namesOnly}, "serve.allow names no network"},
		{[]string{"--config", deliver}, "module send: deliver: true: serve never delivers mail"},
		{[]string{"--config", good, "--listen", busy.Addr().String()}, "--listen " + busy.Addr().String() + ": cannot listen: bind: address already in use"},
		{[]string{"--config", good, "--listen", "nowhere"}, "--listen nowhere: cannot listen"},
		{[]string{"--config", good, "--max-concurrent", "0"}, "--max-concurrent 0: want 1 to 1024"},
		{[]string{"--config", good, "--timeout-offset", "-1s"}, "--timeout-offset -1s"},
		{[]string{"--config", good, "example.com"}, "serve takes no arguments"},
		{[]string{"--config", good + ".missing"}, "--config"},
	}
	for _, tc := range tests {
		stdout, stderr, code := runArgs(t, append([]string{"serve"}, tc.args...)...)
		if code != 3 || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("serve(%q) = %d, stdout %q, stderr %q; want 3 and one line with %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
	stdout, _, code := runArgs(t, "serve", "--help")
	if code != 0 || !strings.Contains(stdout, "loopback") || !strings.Contains(stdout, "--timeout-offset") {
		t.Errorf("serve(--help) = %d, %q; want 0 and the flags, saying the default is loopback", code, stdout)
	}
}
