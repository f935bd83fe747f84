package main_test

// Helpers of the end-to-end tests, which only run the built binary and so
// live in package main_test: nothing here can reach the command's
// internals. A few are twins of helpers of the in-package tests
// (config_test.go, check_test.go, serve_test.go, serve_helpers_test.go),
// because package main_test cannot see those; keep each pair alike.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// writeConfig writes text as check.yaml in a temporary directory (twin
// of config_test.go's).
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "check.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantPerfdata checks the plugin guidelines' perfdata syntax:
// 'label'=value[UOM];[warn];[crit];[min];[max], space-separated, unique
// labels (twin of check_test.go's).
func wantPerfdata(t testing.TB, perf string) {
	t.Helper()
	item := regexp.MustCompile(`^'([^'=]+)'=-?[0-9.]+(s|B|%|KB|MB|TB|c)?(;[0-9.:~@]*){0,4}$`)
	items := regexp.MustCompile(`'[^']*'=\S*`).FindAllString(perf, -1)
	if len(items) == 0 || len(strings.Join(items, " ")) != len(perf) {
		t.Errorf("nagios perfdata %q is not a space-separated list of 'label'=value items", perf)
	}
	seen := map[string]bool{}
	for _, it := range items {
		m := item.FindStringSubmatch(it)
		if m == nil {
			t.Errorf("nagios perfdata item %q does not follow 'label'=value[UOM];warn;crit;min;max", it)
			continue
		}
		if seen[m[1]] {
			t.Errorf("nagios perfdata label %q appears twice", m[1])
		}
		seen[m[1]] = true
	}
}

// truncate shortens s to at most n bytes (on a rune boundary) for a test
// failure message (twin of serve_helpers_test.go's).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:cut], len(s))
}

// lockedBuffer is a bytes.Buffer safe for a command's output goroutine and
// the test reading it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// listeningRE finds the address in serve's "listening on" line.
var listeningRE = regexp.MustCompile(`smtpprobe serve: listening on (\S+) \(`)

// scrapeTimeoutHeader is what Prometheus sends with every scrape.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// exporterRun is a running `smtpprobe serve` binary.
type exporterRun struct {
	addr   string // host:port it listens on
	stderr *lockedBuffer
}

// scrapeResult is one HTTP answer of the exporter.
type scrapeResult struct {
	code int
	body string
	took time.Duration
}

// get requests path (with its query) with an optional scrape timeout
// header, as Prometheus does.
func (r *exporterRun) get(t testing.TB, path, scrapeTimeout string) scrapeResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+r.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if scrapeTimeout != "" {
		req.Header.Set(scrapeTimeoutHeader, scrapeTimeout)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return scrapeResult{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("GET %s: reading the body: %v", path, err)
	}
	return scrapeResult{code: resp.StatusCode, body: string(b), took: time.Since(start)}
}

// waitInFlight polls /metrics until n probes are in flight, reading the
// exposition with Prometheus's own parser.
func (r *exporterRun) waitInFlight(t testing.TB, n float64) {
	t.Helper()
	const name = "smtpprobe_exporter_probes_in_flight"
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		res := r.get(t, "/metrics", "")
		p := expfmt.NewTextParser(model.LegacyValidation)
		mfs, err := p.TextToMetricFamilies(strings.NewReader(res.body))
		if err != nil {
			t.Fatalf("/metrics does not parse: %v\n%s", err, res.body)
		}
		if mf := mfs[name]; mf != nil && len(mf.GetMetric()) == 1 && mf.GetMetric()[0].GetGauge().GetValue() == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not reach %v within 5s", name, n)
}

// serveLab is a small lab for the exporter binary on loopback: DNS for
// demo.example, whose MX are a healthy server and one that greets after
// 1.5 s (so that a probe stays in flight long enough to be seen), sharing
// one port.
type serveLab struct {
	dns  *probetest.DNSServer
	port string
}

// serveLabZone is demo.example; PORT-free, as MX records carry no port.
const serveLabZone = `
demo.example.              300 IN MX 10 mx1.demo.example.
demo.example.              300 IN MX 20 slow.demo.example.
mx1.demo.example.          300 IN A 127.0.0.2
slow.demo.example.         300 IN A 127.0.0.3
`

// startServeLab starts the lab's servers, retrying a few times when the
// port the first one got is taken on the second address.
func startServeLab(t testing.TB) *serveLab {
	t.Helper()
	var lastErr error
	for try := 0; try < 10; try++ {
		mx1, err := probetest.StartSMTP("127.0.0.2:0", probetest.SMTPOptions{Domain: "mx1.demo.example", TLS: true})
		if err != nil {
			lastErr = err
			continue
		}
		port := fmt.Sprint(mx1.Addr.Port())
		slow, err := probetest.StartSMTP(net.JoinHostPort("127.0.0.3", port),
			probetest.SMTPOptions{Domain: "slow.demo.example", GreetDelay: 1500 * time.Millisecond})
		if err != nil {
			mx1.Close()
			lastErr = err
			continue
		}
		dns, err := probetest.StartDNS("127.0.0.1:0", serveLabZone)
		if err != nil {
			mx1.Close()
			slow.Close()
			lastErr = err
			continue
		}
		t.Cleanup(func() {
			mx1.Close()
			slow.Close()
			dns.Close()
		})
		return &serveLab{dns: dns, port: port}
	}
	t.Fatalf("serve lab: %v (10 attempts)", lastErr)
	return nil
}

// config returns a serve configuration for the lab; extra goes under
// serve:.
func (l *serveLab) config(t testing.TB, extra string) string {
	t.Helper()
	return writeConfig(t, fmt.Sprintf(`
modules:
  mx:
    command: mx
    resolver: %[1]s
    connect_timeout: 2s
    timeout: 5s
    helo: probe.demo.example
serve:
  allow: ["demo.example:%[3]s", "127.0.0.0/8:%[3]s"]
%[2]s`, l.dns.Addr, extra, l.port))
}
