package exporter

// Tests of the handler with httptest against a go-smtp server and a DNS
// server on 127.0.0.1 (probe/probetest); no traffic leaves loopback.

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// testExporter returns an exporter whose serve.allow is 127.0.0.1 on the
// port of a healthy go-smtp server, the server's address, and the log.
func testExporter(t testing.TB) (*Exporter, string, *bytes.Buffer) {
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
	text := fmt.Sprintf(`
modules:
  session:
    command: session
    resolver: %s
    connect_timeout: 2s
    timeout: 5s
    to: [someone@example.com]
serve:
  allow: ["127.0.0.1/32:%d"]
`, dns.Addr, srv.Addr.Port())
	path := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	if err := cfg.CheckServe(); err != nil {
		t.Fatalf("CheckServe: %v", err)
	}
	var logBuf bytes.Buffer
	e := New(Options{Config: cfg, Log: log.New(&logBuf, "", 0), Version: "v0.0.0-test"})
	return e, srv.Addr.String(), &logBuf
}

// get serves one request and returns the status, body and response.
func get(t testing.TB, h http.Handler, method, target string) (int, string, *http.Response) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Header.Set(scrapeTimeoutHeader, "5")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res
}

func TestHandler(t *testing.T) {
	e, addr, logBuf := testExporter(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	tests := []struct {
		name, method, target string
		code                 int
		want                 string // in the body
	}{
		{"index", "GET", "/", 200, "session"},
		{"not found", "GET", "/nothing", 404, "404 page not found"},
		{"method", "POST", "/probe?target=" + addr + "&module=session", 405, "answers GET only"},
		{"no target", "GET", "/probe?module=session", 400, "missing target"},
		{"no module", "GET", "/probe?target=" + addr, 400, "missing module"},
		{"unknown module", "GET", "/probe?target=" + addr + "&module=nope", 400, `unknown module "nope"`},
		{"not allowed", "GET", "/probe?target=127.0.0.2:" + port + "&module=session", 403, "127.0.0.2"},
		{"probe", "GET", "/probe?target=" + addr + "&module=session", 200,
			`smtpprobe_success{command="session",module="session",target="127.0.0.1"} 1`},
	}
	for _, tc := range tests {
		code, body, res := get(t, e, tc.method, tc.target)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s %s = %d %q, want %d containing %q", tc.name, tc.method, tc.target, code, body, tc.code, tc.want)
		}
		if tc.code == 405 && res.Header.Get("Allow") != "GET" {
			t.Errorf("%s: Allow = %q, want GET", tc.name, res.Header.Get("Allow"))
		}
	}
	if e.Running() != 0 {
		t.Errorf("Running() = %d after every request ended, want 0", e.Running())
	}
	_, metrics, _ := get(t, e, "GET", "/metrics")
	for _, want := range []string{
		`smtpprobe_exporter_probes_total{module="session",result="success"} 1`,
		// Only a request that names a configured module is counted
		// under it: the 403; the 405 and the three 400s under "".
		`smtpprobe_exporter_probes_total{module="session",result="rejected"} 1`,
		`smtpprobe_exporter_probes_total{module="",result="rejected"} 4`,
		`smtpprobe_exporter_max_concurrent 8`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("GET /metrics lacks %q:\n%s", want, metrics)
		}
	}
	if !strings.Contains(logBuf.String(), "probe module=session target="+addr+" status=OK") {
		t.Errorf("log = %q, want a line for the probe with status=OK", logBuf.String())
	}
}
