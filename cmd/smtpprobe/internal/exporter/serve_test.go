package exporter

// Tests of Serve on a listener at 127.0.0.1:0: no traffic leaves loopback.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// serveConfig writes a configuration the exporter accepts and returns
// its path and the loaded configuration.
func serveConfig(t *testing.T, modules ...string) (string, *config.Config) {
	t.Helper()
	text := "modules:\n"
	for _, m := range modules {
		text += "  " + m + ":\n    command: session\n    timeout: 5s\n"
	}
	text += "serve:\n  allow: [\"127.0.0.1/32\"]\n  max_concurrent: 3\n"
	path := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadServe(path)
	if err != nil {
		t.Fatalf("LoadServe: %v", err)
	}
	return path, cfg
}

func getURL(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond every 10ms for up to 5s.
func waitFor(cond func() bool) bool {
	for i := 0; i < 500; i++ {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// Serve listens, logs its address, answers /metrics with
// Options.MaxConcurrent in force, reloads for each value on Reload (also
// with the override), and returns nil once its context ends.
func TestServe(t *testing.T) {
	path, cfg := serveConfig(t, "one")
	var logs probetest.LockedBuffer
	reload := make(chan os.Signal, 1)
	addrs := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServeOptions{Listen: "127.0.0.1:0", Reload: reload,
			Ready: func(a net.Addr) { addrs <- a },
			Exporter: Options{Config: cfg, MaxConcurrent: 5, Log: log.New(&logs, "serve: ", 0),
				Load: func() (*config.Config, error) { return config.LoadServe(path) }}})
	}()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("Serve returned before listening: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve: not listening within 5s")
	}
	if want := "serve: listening on " + addr.String() + " (1 modules, allowlist: 127.0.0.1/32)\n"; logs.String() != want {
		t.Errorf("log = %q, want %q", logs.String(), want)
	}
	base := "http://" + addr.String()
	code, body := getURL(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, "\nsmtpprobe_exporter_max_concurrent 5\n") ||
		!strings.Contains(body, `smtpprobe_exporter_probes_total{module="one",result="success"} 0`) {
		t.Errorf("/metrics = %d, want 200 with max_concurrent 5 and module one; body:\n%s", code, body)
	}

	// A second module in the file, then a reload through the channel.
	text, _ := os.ReadFile(path)
	text = bytes.Replace(text, []byte("modules:\n"), []byte("modules:\n  two:\n    command: session\n"), 1)
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	reload <- syscall.SIGHUP
	if !waitFor(func() bool { return strings.Contains(logs.String(), "reloaded "+path) }) {
		t.Fatalf("no reload logged within 5s; log %q", logs.String())
	}
	code, body = getURL(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, `smtpprobe_exporter_probes_total{module="two",result="success"} 0`) ||
		!strings.Contains(body, "\nsmtpprobe_exporter_max_concurrent 5\n") {
		t.Errorf("/metrics after reload = %d, want module two and max_concurrent still 5; body:\n%s", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5s of its context ending")
	}
	c := &http.Client{Timeout: time.Second}
	if resp, err := c.Get(base + "/metrics"); err == nil {
		resp.Body.Close()
		t.Errorf("GET after shutdown answered %d, want no listener", resp.StatusCode)
	}
}

// A listen address that cannot be used is a *ListenError with the bare
// cause, before anything is served; a bad web configuration is a
// *WebConfigError.
func TestServeErrors(t *testing.T) {
	_, cfg := serveConfig(t, "one")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	missing := filepath.Join(t.TempDir(), "web.yml")
	bad := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: /nonexistent/cert.pem\n  key_file: /nonexistent/key.pem\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		opt       ServeOptions
		listen    string // want a *ListenError at this address
		cause     error  // and errors.Is this, if set
		webConfig string // want a *WebConfigError naming this file
	}{
		{name: "busy", opt: ServeOptions{Listen: busy.Addr().String()}, listen: busy.Addr().String(), cause: syscall.EADDRINUSE},
		{name: "no port", opt: ServeOptions{Listen: "nowhere"}, listen: "nowhere"},
		{name: "missing web config", opt: ServeOptions{Listen: "127.0.0.1:0", WebConfigFile: missing}, webConfig: missing},
		{name: "bad web config", opt: ServeOptions{Listen: "127.0.0.1:0", WebConfigFile: bad}, webConfig: bad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Exporter = Options{Config: cfg}
			ready := false
			tc.opt.Ready = func(net.Addr) { ready = true }
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := Serve(ctx, tc.opt)
			if ready {
				t.Errorf("Serve listened before failing with %v", err)
			}
			var le *ListenError
			var we *WebConfigError
			switch {
			case tc.listen != "":
				if !errors.As(err, &le) || le.Addr != tc.listen || (tc.cause != nil && !errors.Is(err, tc.cause)) {
					t.Fatalf("Serve = %v, want a *ListenError at %s (cause %v)", err, tc.listen, tc.cause)
				}
				var oe *net.OpError
				if errors.As(le.Err, &oe) {
					t.Errorf("ListenError.Err = %v, want the cause without net.OpError", le.Err)
				}
			default:
				if !errors.As(err, &we) || we.File != tc.webConfig || we.Err == nil {
					t.Fatalf("Serve = %v, want a *WebConfigError for %s", err, tc.webConfig)
				}
			}
		})
	}
	if err := CheckWebConfig(""); err != nil {
		t.Errorf(`CheckWebConfig("") = %v, want nil`, err)
	}
}

// When its context ends, Serve stops accepting at once but lets a probe
// in flight answer before it returns; with a Grace shorter than the
// probe, it abandons the probe and says so.
func TestServeShutdown(t *testing.T) {
	smtpSrv, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{GreetDelay: 800 * time.Millisecond})
	if err != nil {
		t.Fatalf("StartSMTP: %v", err)
	}
	t.Cleanup(func() { smtpSrv.Close() })
	text := fmt.Sprintf("modules:\n  s:\n    command: session\n    connect_timeout: 2s\n    timeout: 5s\n    to: [someone@example.com]\n"+
		"serve:\n  allow: [\"127.0.0.1/32:%d\"]\n", smtpSrv.Addr.Port())
	path := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		grace time.Duration
		code  int    // of the probe in flight; 0: no answer
		log   string // in the serve log
	}{
		{"graceful", 0, 200, "shutting down: waiting up to 15s for 1 probes in flight"},
		{"grace too short", 100 * time.Millisecond, 0, "shutdown: 1 probes still running after 100ms; abandoning them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.LoadServe(path)
			if err != nil {
				t.Fatal(err)
			}
			var logs probetest.LockedBuffer
			addrs := make(chan net.Addr, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- Serve(ctx, ServeOptions{Listen: "127.0.0.1:0", Grace: tc.grace,
					Ready:    func(a net.Addr) { addrs <- a },
					Exporter: Options{Config: cfg, Log: log.New(&logs, "", 0)}})
			}()
			var base string
			select {
			case a := <-addrs:
				base = "http://" + a.String()
			case <-time.After(5 * time.Second):
				t.Fatal("Serve: not listening within 5s")
			}
			codes := make(chan int, 1)
			go func() {
				c := &http.Client{Timeout: 10 * time.Second}
				resp, err := c.Get(base + "/probe?module=s&target=" + smtpSrv.Addr.String())
				if err != nil {
					codes <- 0
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
			if !waitFor(func() bool {
				_, body := getURL(t, base+"/metrics")
				return strings.Contains(body, "\nsmtpprobe_exporter_probes_in_flight 1\n")
			}) {
				t.Fatal("no probe in flight within 5s")
			}
			cancel()
			// New connections are refused at once, while the probe still runs.
			addr := strings.TrimPrefix(base, "http://")
			closed := false
			for i := 0; i < 200 && !closed; i++ {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					closed = true
					break
				}
				c.Close()
				time.Sleep(5 * time.Millisecond)
			}
			if !closed {
				t.Errorf("Serve still accepts connections on %s after its context ended", addr)
			}
			// A 200 proves that Serve let the handler finish: closing the
			// connections would have cut the answer off.
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve = %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return within 10s")
			}
			select {
			case code := <-codes:
				if code != tc.code {
					t.Errorf("probe in flight = %d, want %d", code, tc.code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the probe in flight got no answer within 10s")
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("log %q lacks %q", logs.String(), tc.log)
			}
		})
	}
}
