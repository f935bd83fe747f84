package exporter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// featureLab is a go-smtp server that never times an idle session out,
// a DNS server, and the text of a configuration with a session module
// and a timeout module against them.
type featureLab struct {
	addr, dns string
	port      uint16
	path      string // the configuration file
}

func startFeatureLab(t testing.TB) *featureLab {
	t.Helper()
	srv, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{})
	if err != nil {
		t.Fatalf("StartSMTP: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	dns, err := probetest.StartDNS("127.0.0.1:0", "")
	if err != nil {
		t.Fatalf("StartDNS: %v", err)
	}
	t.Cleanup(func() { dns.Close() })
	l := &featureLab{addr: srv.Addr.String(), dns: dns.Addr, port: srv.Addr.Port(),
		path: filepath.Join(t.TempDir(), "serve.yaml")}
	l.write(t, "")
	return l
}

// write writes the configuration, with extra modules appended.
func (l *featureLab) write(t testing.TB, extra string) {
	t.Helper()
	text := fmt.Sprintf(`modules:
  session:
    command: session
    resolver: %[1]s
    connect_timeout: 2s
    timeout: 5s
    to: [someone@example.com]
  idle:
    command: timeout
    resolver: %[1]s
    phase: ehlo
    max_wait: 1m
%[3]sserve:
  allow: ["127.0.0.1/32:%[2]d"]
`, l.dns, l.port, extra)
	if err := os.WriteFile(l.path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (l *featureLab) load() (*config.Config, error) {
	c, err := config.Load(l.path)
	if err != nil {
		return nil, err
	}
	return c, c.CheckServe()
}

func (l *featureLab) exporter(t testing.TB) (*Exporter, *bytes.Buffer) {
	t.Helper()
	cfg, err := l.load()
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	e := New(Options{Config: cfg, Log: log.New(&logBuf, "", 0), Version: "v0.0.0-test", Load: l.load,
		Timeline: func(w io.Writer, rep *probe.Report) { fmt.Fprintf(w, "TIMELINE %s %s\n", rep.Command, rep.Outcome) }})
	return e, &logBuf
}

// scrape serves one request with a scrape timeout header.
func scrape(t testing.TB, h http.Handler, method, target, timeout string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if timeout != "" {
		req.Header.Set(scrapeTimeoutHeader, timeout)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// TestDeadlineIsUnknown: a timeout module cut short by the scrape
// deadline (the server never closes an idle session; max_wait 1m, the
// deadline 1s) is UNKNOWN with smtpprobe_probe_deadline_exceeded 1, not
// a CRITICAL reply-timeout of the target.
func TestDeadlineIsUnknown(t *testing.T) {
	t.Parallel()
	l := startFeatureLab(t)
	e, logBuf := l.exporter(t)
	e.offset = 0
	start := time.Now()
	code, body := scrape(t, e, "GET", "/probe?target="+l.addr+"&module=idle", "1")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the probe took %s with a deadline of 1s", took)
	}
	for _, want := range []string{
		`smtpprobe_status{command="timeout",module="idle",target="127.0.0.1"} 3`,
		`smtpprobe_success{command="timeout",module="idle",target="127.0.0.1"} 0`,
		"smtpprobe_probe_deadline_exceeded 1",
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("cut probe: %d, body lacks %q:\n%s", code, want, body)
		}
	}
	if strings.Contains(body, "reply-timeout") || strings.Contains(body, "} 2\n") {
		t.Errorf("cut probe exports a failure of the target:\n%s", body)
	}
	if !strings.Contains(logBuf.String(), "the deadline of 1s cut the probe short") {
		t.Errorf("log lacks the deadline: %q", logBuf.String())
	}
	_, metrics := scrape(t, e, "GET", "/metrics", "")
	if !strings.Contains(metrics, `smtpprobe_exporter_deadline_exceeded_total{module="idle"} 1`) {
		t.Errorf("/metrics lacks the cut probe:\n%s", metrics)
	}
	// A probe that ends in time says so with 0.
	code, body = scrape(t, e, "GET", "/probe?target="+l.addr+"&module=session", "5")
	if code != 200 || !strings.Contains(body, "smtpprobe_probe_deadline_exceeded 0") ||
		!strings.Contains(body, `smtpprobe_status{command="session",module="session",target="127.0.0.1"} 0`) {
		t.Errorf("probe in time: %d\n%s", code, body)
	}
}

// TestDebug: debug=true answers the probe's log, timeline, metrics and
// module as text; a bad debug value is a 400.
func TestDebug(t *testing.T) {
	t.Parallel()
	l := startFeatureLab(t)
	e, _ := l.exporter(t)
	code, body := scrape(t, e, "GET", "/probe?target="+l.addr+"&module=session&debug=true", "5")
	for _, want := range []string{"Logs for the probe:\n", "probe module=session target=" + l.addr + " command=session deadline=5s",
		"status=OK", "\nTimeline:\nTIMELINE session ok\n", "\nMetrics that would have been returned:\n",
		`smtpprobe_success{command="session",module="session",target="127.0.0.1"} 1`,
		"\nModule configuration:\nmodule: session\n  command: session\n", "  to: [someone@example.com]\n"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("debug=true: %d, body lacks %q:\n%s", code, want, body)
		}
	}
	if code, body := scrape(t, e, "GET", "/probe?target="+l.addr+"&module=session&debug=maybe", "5"); code != 400 || !strings.Contains(body, `debug="maybe": want debug=true`) {
		t.Errorf("debug=maybe: %d %q, want 400", code, body)
	}
}

// TestLandingPage: / is HTML with the modules and the recent probes,
// every value escaped, the list bounded; /logs?id= has a probe's debug
// text.
func TestLandingPage(t *testing.T) {
	t.Parallel()
	l := startFeatureLab(t)
	e, _ := l.exporter(t)
	if code, _ := scrape(t, e, "GET", "/probe?target="+l.addr+"&module=session", "5"); code != 200 {
		t.Fatalf("probe: %d", code)
	}
	code, page := scrape(t, e, "GET", "/", "")
	for _, want := range []string{"<!DOCTYPE html>", "<td>idle</td><td>timeout</td>", "phase: ehlo",
		"<td>session</td><td>" + l.addr + "</td><td>OK</td><td>ok</td>", `<a href="logs?id=1">`} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("GET /: %d, lacks %q:\n%s", code, want, page)
		}
	}
	if code, logs := scrape(t, e, "GET", "/logs?id=1", ""); code != 200 || !strings.Contains(logs, "Logs for the probe:") {
		t.Errorf("/logs?id=1: %d %q", code, logs)
	}
	if code, _ := scrape(t, e, "GET", "/logs?id=99", ""); code != 404 {
		t.Errorf("/logs?id=99: %d, want 404", code)
	}
	for i := 0; i < 40; i++ {
		e.recent.add(record{Time: time.Now(), Module: "session", Target: "<script>alert(1)</script>", Status: "OK"})
	}
	_, page = scrape(t, e, "GET", "/", "")
	if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("GET /: the target is not escaped")
	}
	if n := strings.Count(page, "logs?id="); n != 32 {
		t.Errorf("GET /: %d recent probes, want the ring's 32", n)
	}
}

// TestReload: POST /-/reload puts a new configuration in force; a bad
// one keeps the old, answers 500 with the reason, logs it and sets
// smtpprobe_config_last_reload_successful 0.
func TestReload(t *testing.T) {
	t.Parallel()
	l := startFeatureLab(t)
	e, logBuf := l.exporter(t)
	l.write(t, "  extra:\n    command: mx\n")
	if code, body := scrape(t, e, "POST", "/-/reload", ""); code != 200 || !strings.Contains(body, "reloaded: 3 modules (extra, idle, session)") {
		t.Errorf("reload: %d %q", code, body)
	}
	if _, ok := e.Config().Modules["extra"]; !ok {
		t.Errorf("module extra not in force after the reload")
	}
	l.write(t, "  broken:\n    command: mx\n    min: 1200\n")
	code, body := scrape(t, e, "POST", "/-/reload", "")
	if code != 500 || !strings.Contains(body, `serve.yaml:15: key "min" does not apply to module "broken" (command mx)`) {
		t.Errorf("bad reload: %d %q, want 500 with the file's error", code, body)
	}
	if !strings.Contains(logBuf.String(), `reload failed, keeping the configuration loaded`) {
		t.Errorf("log lacks the failed reload: %q", logBuf.String())
	}
	if _, ok := e.Config().Modules["extra"]; !ok {
		t.Errorf("a bad reload replaced the configuration in force")
	}
	_, metrics := scrape(t, e, "GET", "/metrics", "")
	if !strings.Contains(metrics, "smtpprobe_config_last_reload_successful 0") {
		t.Errorf("/metrics lacks smtpprobe_config_last_reload_successful 0")
	}
	if code, _ := scrape(t, e, "GET", "/probe?target="+l.addr+"&module=session", "5"); code != 200 {
		t.Errorf("probe after a bad reload: %d", code)
	}
	if code, _ := scrape(t, e, "GET", "/-/reload", ""); code != 405 {
		t.Errorf("GET /-/reload: %d, want 405", code)
	}
	l.write(t, "")
	if code, _ := scrape(t, e, "POST", "/-/reload", ""); code != 200 {
		t.Errorf("good reload after a bad one: %d", code)
	}
	_, metrics = scrape(t, e, "GET", "/metrics", "")
	if !strings.Contains(metrics, "smtpprobe_config_last_reload_successful 1") {
		t.Errorf("/metrics lacks smtpprobe_config_last_reload_successful 1 after a good reload")
	}
}

// TestFieldErrorInYAMLWords: a module option the server cannot honour
// (size above its SIZE, RFC 1870) is logged and shown with the module's
// YAML key, not a flag, even with a front end whose Explain words errors
// as flags.
func TestFieldErrorInYAMLWords(t *testing.T) {
	t.Parallel()
	srv, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{MaxBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	path := filepath.Join(t.TempDir(), "serve.yaml")
	text := fmt.Sprintf("modules:\n  big:\n    command: session\n    size: 4096\n    to: [someone@example.com]\nserve:\n  allow: [\"127.0.0.1/32:%d\"]\n", srv.Addr.Port())
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	flagWords := func(err error) error {
		var fe *job.FieldError
		if errors.As(err, &fe) {
			return errors.New(fe.Format(func(f string) string { return "--" + f }))
		}
		return err
	}
	var logBuf bytes.Buffer
	e := New(Options{Config: cfg, Log: log.New(&logBuf, "", 0), Explain: flagWords})
	code, body := scrape(t, e, "GET", "/probe?target="+srv.Addr.String()+"&module=big&debug=true", "5")
	if code != 200 || !strings.Contains(body, "status=UNKNOWN") || !strings.Contains(logBuf.String(), "error: size") {
		t.Errorf("probe: %d, log %q, want UNKNOWN with the error on size:\n%s", code, logBuf.String(), body)
	}
	if strings.Contains(logBuf.String()+body, "--size") {
		t.Errorf("the error names the flag --size, not the module's key:\n%s\n%s", logBuf.String(), body)
	}
}

// TestReloadKeepsSlots: a reload that leaves serve.max_concurrent alone
// keeps the slots of the probes in flight; one that changes it sizes new
// ones.
func TestReloadKeepsSlots(t *testing.T) {
	t.Parallel()
	l := startFeatureLab(t)
	e, _ := l.exporter(t)
	before := e.st.Load().sem
	l.write(t, "  extra:\n    command: mx\n")
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if e.st.Load().sem != before {
		t.Errorf("a reload with the same max_concurrent made new slots")
	}
	text, err := os.ReadFile(l.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.path, append(text, []byte("  max_concurrent: 2\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := cap(e.st.Load().sem); got != 2 {
		t.Errorf("after a reload with max_concurrent 2: %d slots", got)
	}
	_, metrics := scrape(t, e, "GET", "/metrics", "")
	if !strings.Contains(metrics, "smtpprobe_exporter_max_concurrent 2") {
		t.Errorf("/metrics lacks smtpprobe_exporter_max_concurrent 2")
	}
}
