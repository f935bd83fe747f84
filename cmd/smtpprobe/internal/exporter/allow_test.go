package exporter

// The exporter's second allowlist check, of every address a probe
// connects to (Job.Allow): a name that serve.allow admits but whose MX
// leads outside its networks gets 403, and the server there sees no
// connection. On loopback: DNS and go-smtp servers on 127.0.0.2-3.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

func TestProbeAllowsEveryAddress(t *testing.T) {
	t.Parallel()
	// One port on 127.0.0.2 (inside serve.allow) and 127.0.0.3 (outside).
	var inside, outside *probetest.SMTPServer
	for try := 0; try < 20 && outside == nil; try++ {
		a, err := probetest.StartSMTP("127.0.0.2:0", probetest.SMTPOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := probetest.StartSMTP(fmt.Sprintf("127.0.0.3:%d", a.Addr.Port()), probetest.SMTPOptions{})
		if err != nil {
			a.Close()
			continue
		}
		inside, outside = a, b
	}
	if outside == nil {
		t.Fatal("no port free on both 127.0.0.2 and 127.0.0.3")
	}
	t.Cleanup(func() { inside.Close(); outside.Close() })
	port := inside.Addr.Port()
	dns, err := probetest.StartDNS("127.0.0.1:0", `
in.example.    300 IN MX 10 mx.in.example.
mx.in.example. 300 IN A 127.0.0.2
out.example.   300 IN MX 10 mx.out.example.
mx.out.example. 300 IN A 127.0.0.3
`)
	if err != nil {
		t.Fatalf("StartDNS: %v", err)
	}
	t.Cleanup(func() { dns.Close() })
	path := probetest.WriteConfig(t, fmt.Sprintf(`
modules:
  mx:
    command: mx
    resolver: %s
    connect_timeout: 2s
    timeout: 5s
    no_ptr: true
    no_policy: true
serve:
  allow: ["in.example:%[2]d", "out.example:%[2]d", "127.0.0.2/32:%[2]d"]
`, dns.Addr, port))
	cfg, err := config.LoadServe(path)
	if err != nil {
		t.Fatalf("LoadServe: %v", err)
	}
	e := New(Options{Config: cfg})
	for _, tc := range []struct {
		target string
		code   int
		want   string // in the body
		in     int64  // connections to 127.0.0.2 after the request
	}{
		{"in.example", http.StatusOK, "smtpprobe_success", 1},
		// The name is allowed, the address its MX leads to is not.
		{"out.example", http.StatusForbidden, "127.0.0.3", 1},
	} {
		code, body, _ := get(t, e, http.MethodGet, fmt.Sprintf("/probe?module=mx&target=%s:%d", tc.target, port))
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET /probe?target=%s:%d = %d %q; want %d containing %q", tc.target, port, code, probetest.Truncate(body, 300), tc.code, tc.want)
		}
		if got := inside.Sessions(); got != tc.in {
			t.Errorf("after %s: %d connections to 127.0.0.2, want %d", tc.target, got, tc.in)
		}
	}
	if got := outside.Sessions(); got != 0 {
		t.Errorf("the server on 127.0.0.3, outside serve.allow, accepted %d connections; want none", got)
	}
}
