package e2e

// Helpers of the end-to-end tests, which only run the built binary: nothing
// here can reach the command's internals. What the command's in-process
// tests also need (configuration files, perfdata and exposition checks,
// scrapes) is in probe/probetest, once.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// exporterRun is a running `smtpprobe serve` binary.
type exporterRun struct {
	addr   string // host:port it listens on
	stderr *probetest.LockedBuffer
}

// listeningRE finds the address in serve's "listening on" line.
var listeningRE = regexp.MustCompile(`smtpprobe serve: listening on (\S+) \(`)

// get requests path (with its query) with an optional scrape timeout
// header, as Prometheus does.
func (r *exporterRun) get(t testing.TB, path, scrapeTimeout string) probetest.ScrapeResult {
	t.Helper()
	return probetest.Scrape(t, http.MethodGet, "http://"+r.addr+path, scrapeTimeout)
}

// waitInFlight polls /metrics until n probes are in flight.
func (r *exporterRun) waitInFlight(t testing.TB, n float64) {
	t.Helper()
	probetest.WaitInFlight(t, "http://"+r.addr, n)
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
	return probetest.WriteConfig(t, fmt.Sprintf(`
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

// sv is the value of a JSON string field, "" when absent or null.
func sv(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// runInLab runs `bin cmd args...` with the environment env added, in the
// lab's client namespace, killed after kill. A run that did not finish
// fails the test; a panic on stderr is an error. The run's in is the
// quoted arguments.
func runInLab(t *testing.T, l *Lab, kill time.Duration, env []string, bin, cmd string, args ...string) mxRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kill)
	defer cancel()
	argv := append(append(slices.Clone(env), bin, cmd), args...)
	start := time.Now()
	stdout, stderr, exit := l.Exec(t, ctx, "env", argv...)
	r := mxRun{in: strings.Join(quoteArgs(args), " "), stdout: stdout, stderr: stderr, exit: exit, elapsed: time.Since(start)}
	if exit == -1 {
		t.Fatalf("%s(%s) did not finish within %v: %s", cmd, r.in, kill, stderr)
	}
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("%s(%s) stderr = %q, want no panic", cmd, r.in, stderr)
	}
	return r
}
