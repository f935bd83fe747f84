package exporter

// Tests of the exporter's slots (serve.max_concurrent) and of its bounds
// on what a request may cost, through Serve on 127.0.0.1:0 over the demo
// lab (probetest: DNS for demo.example, go-smtp servers on 127.0.0.2-5).

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// demoServe is Serve running over the demo lab until the test ends.
type demoServe struct {
	base string // http://host:port
	port string // the demo lab's SMTP port
	logs *probetest.LockedBuffer
}

// startDemoServe runs Serve with modules mx, session and idle over the
// demo lab (whose idle server stays quiet for a minute); extra goes under
// serve:, and maxConcurrent (if > 0) overrides serve.max_concurrent.
func startDemoServe(t *testing.T, extra string, maxConcurrent int) *demoServe {
	t.Helper()
	lab := probetest.DemoLabFor(t, time.Minute)
	port := fmt.Sprint(lab.Port)
	path := probetest.WriteConfig(t, fmt.Sprintf(`
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
%[2]s`, lab.DNS.Addr, extra, port))
	cfg, err := config.LoadServe(path)
	if err != nil {
		t.Fatalf("LoadServe: %v", err)
	}
	s := &demoServe{port: port, logs: &probetest.LockedBuffer{}}
	addrs := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServeOptions{Listen: "127.0.0.1:0", Ready: func(a net.Addr) { addrs <- a },
			Exporter: Options{Config: cfg, MaxConcurrent: maxConcurrent, Offset: 500 * time.Millisecond,
				Log: log.New(s.logs, "serve: ", 0)}})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("Serve did not return 20s after its context ended")
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", s.logs.String())
		}
	})
	select {
	case a := <-addrs:
		s.base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("Serve returned before listening: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve: not listening within 5s")
	}
	return s
}

func (s *demoServe) get(t testing.TB, path, scrapeTimeout string) probetest.ScrapeResult {
	t.Helper()
	return probetest.Scrape(t, http.MethodGet, s.base+path, scrapeTimeout)
}

// With one slot, a probe that cannot get it before its deadline gets 503;
// one with time to spare waits for the slot and runs.
func TestServeConcurrency(t *testing.T) {
	t.Parallel()
	// Options.MaxConcurrent overrides serve.max_concurrent.
	srv := startDemoServe(t, "  max_concurrent: 4\n", 1)
	p := srv.port

	var wg sync.WaitGroup
	var first, waiter probetest.ScrapeResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Holds the slot for its whole deadline of 2.5s.
		first = srv.get(t, "/probe?target=127.0.0.4:"+p+"&module=idle", "3")
	}()
	probetest.WaitInFlight(t, srv.base, 1)

	busy := srv.get(t, "/probe?target=127.0.0.2:"+p+"&module=session", "1")
	if busy.Code != http.StatusServiceUnavailable || !strings.Contains(busy.Body, "max_concurrent") {
		t.Errorf("serve(second probe, deadline 0.5s, slot taken) = %d %q, want 503 naming max_concurrent", busy.Code, busy.Body)
	}
	if busy.Took > 1500*time.Millisecond {
		t.Errorf("serve(second probe, deadline 0.5s) took %s, want about 0.5s", busy.Took)
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		waiter = srv.get(t, "/probe?target=127.0.0.2:"+p+"&module=session", "10")
	}()
	wg.Wait()
	if first.Code != 200 {
		t.Errorf("serve(first probe) = %d %q, want 200", first.Code, first.Body)
	}
	if waiter.Code != 200 {
		t.Fatalf("serve(probe waiting for the slot, deadline 9.5s) = %d %q, want 200", waiter.Code, waiter.Body)
	}
	if v, ok := probetest.SeriesValue(probetest.ParseExposition(t, waiter.Body), "smtpprobe_success", nil); !ok || v != 1 {
		t.Errorf("serve(probe waiting for the slot) smtpprobe_success = %v, want 1", v)
	}
	samples := probetest.ParseExposition(t, srv.get(t, "/metrics", "").Body)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"smtpprobe_exporter_max_concurrent", nil, 1},
		{"smtpprobe_exporter_probes_in_flight", nil, 0},
		{"smtpprobe_exporter_probes_total", map[string]string{"module": "session", "result": "rejected"}, 1},
		{"smtpprobe_exporter_probes_total", map[string]string{"module": "session", "result": "success"}, 1},
	} {
		if v, ok := probetest.SeriesValue(samples, c.name, c.labels); !ok || v != c.want {
			t.Errorf("serve(/metrics) %s%v = %v (found %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
}

// TestServeShortDeadlineNeverBusy: an idle exporter takes a free slot at
// once, so the shortest deadline it accepts never gets a false 503.
func TestServeShortDeadlineNeverBusy(t *testing.T) {
	t.Parallel()
	srv := startDemoServe(t, "", 0)
	for i := 0; i < 20; i++ {
		res := srv.get(t, "/probe?target=127.0.0.2:"+srv.port+"&module=session", "0.5") // 250ms, the minimum
		if res.Code != http.StatusOK {
			t.Fatalf("scrape %d with a 250ms deadline on an idle exporter = %d %q, want 200", i, res.Code, res.Body)
		}
	}
}

// TestServeBoundedLog: a request with a huge query costs a log line and
// an answer of bounded size, not a copy of the query.
func TestServeBoundedLog(t *testing.T) {
	t.Parallel()
	srv := startDemoServe(t, "", 0)
	before := len(srv.logs.String())
	huge := strings.Repeat("a", 500_000)
	for _, q := range []string{"target=" + huge + "&module=mx", "target=demo.example&module=" + huge, "target=" + huge} {
		res := srv.get(t, "/probe?"+q, "")
		if res.Code != http.StatusBadRequest || len(res.Body) > 1024 {
			t.Errorf("GET /probe with a %d-byte query = %d, %d-byte body; want 400 and at most 1 KiB", len(q), res.Code, len(res.Body))
		}
	}
	if grown := len(srv.logs.String()) - before; grown > 3*1024 {
		t.Errorf("three requests with 500 kB queries wrote %d bytes to the log, want at most 3 KiB", grown)
	}
}
