package probetest

// Assertions and small helpers that the command's tests, its end-to-end
// tests (cmd/smtpprobe/e2e) and the run layer's tests share, so that each
// exists once. They take a T rather than a *testing.T, so that the demo
// command, which links this package, does not link the testing package.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// T is the part of testing.TB the helpers use.
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	TempDir() string
}

// WriteConfig writes text as check.yaml in a new temporary directory of t
// and returns its path.
func WriteConfig(t T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "check.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatalf("%v", err)
	}
	return p
}

var (
	perfItem  = regexp.MustCompile(`^'([^'=]+)'=-?[0-9.]+(s|B|%|KB|MB|TB|c)?(;[0-9.:~@]*){0,4}$`)
	perfItems = regexp.MustCompile(`'[^']*'=\S*`)
)

// WantPerfdata checks the Monitoring Plugins guidelines' perfdata syntax:
// 'label'=value[UOM];[warn];[crit];[min];[max], space-separated, unique
// labels.
func WantPerfdata(t T, perf string) {
	t.Helper()
	items := perfItems.FindAllString(perf, -1)
	if len(items) == 0 || len(strings.Join(items, " ")) != len(perf) {
		t.Errorf("nagios perfdata %q is not a space-separated list of 'label'=value items", perf)
	}
	seen := map[string]bool{}
	for _, it := range items {
		m := perfItem.FindStringSubmatch(it)
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

// ContainsAll reports whether s contains every one of subs.
func ContainsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// Truncate shortens s to at most n bytes (on a rune boundary) for a test
// failure message, noting the full length.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:cut], len(s))
}

// LockedBuffer is a bytes.Buffer safe for a server's goroutines (or a
// command's output goroutine) and the test reading it.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ScrapeTimeoutHeader is what Prometheus sends with every scrape.
const ScrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// ScrapeResult is one HTTP answer of an exporter.
type ScrapeResult struct {
	Code int
	Body string
	Took time.Duration
}

// Scrape sends method url with the scrape timeout header (unless
// scrapeTimeout is empty), as Prometheus does, on a fresh connection, and
// reads the answer. A transport error is a test error and a zero result.
func Scrape(t T, method, url, scrapeTimeout string) ScrapeResult {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if scrapeTimeout != "" {
		req.Header.Set(ScrapeTimeoutHeader, scrapeTimeout)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return ScrapeResult{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("%s %s: reading the body: %v", method, url, err)
	}
	return ScrapeResult{Code: resp.StatusCode, Body: string(b), Took: time.Since(start)}
}

// Series is one time series of a scrape (a histogram gives its count).
type Series struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseExposition parses a text exposition with Prometheus's own parser;
// one that does not parse fails the test.
func ParseExposition(t T, body string) []Series {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	var out []Series
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := Series{Name: name, Labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.Gauge != nil:
				s.Value = m.GetGauge().GetValue()
			case m.Counter != nil:
				s.Value = m.GetCounter().GetValue()
			case m.Untyped != nil:
				s.Value = m.GetUntyped().GetValue()
			case m.Histogram != nil:
				s.Value = float64(m.GetHistogram().GetSampleCount())
			}
			out = append(out, s)
		}
	}
	return out
}

// FindSeries returns the samples named name whose labels include want.
func FindSeries(samples []Series, name string, want map[string]string) []Series {
	var out []Series
next:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for k, v := range want {
			if s.Labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// SeriesValue returns the value of the one sample named name with labels
// want, and whether there is exactly one.
func SeriesValue(samples []Series, name string, want map[string]string) (float64, bool) {
	s := FindSeries(samples, name, want)
	if len(s) != 1 {
		return 0, false
	}
	return s[0].Value, true
}

// WaitInFlight polls the exporter's /metrics at base (http://host:port)
// until n probes are in flight, for at most 5 s.
func WaitInFlight(t T, base string, n float64) {
	t.Helper()
	const name = "smtpprobe_exporter_probes_in_flight"
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		res := Scrape(t, http.MethodGet, base+"/metrics", "")
		if v, ok := SeriesValue(ParseExposition(t, res.Body), name, nil); ok && v == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not reach %v within 5s", name, n)
}

// CleanupT is a T that also registers cleanups, as testing.TB does.
type CleanupT interface {
	T
	Cleanup(func())
}

// DemoLabFor starts the demo lab (StartDemoLab) for the test and closes it
// when the test ends.
//
// StartDemoLab can fail when its DNS server's TCP port is taken, and can
// hang when it closes a go-smtp server that has not yet registered its
// listener (SMTPServer.Close waits for a Serve that never returns). Both
// are rare under parallel tests; three bounded attempts keep them from
// failing or hanging a test.
func DemoLabFor(t CleanupT, idleFor time.Duration) *DemoLab {
	t.Helper()
	type started struct {
		lab *DemoLab
		err error
	}
	var lastErr error
	for try := 0; try < 3; try++ {
		ch := make(chan started, 1)
		go func() {
			lab, err := StartDemoLab(idleFor)
			ch <- started{lab, err}
		}()
		select {
		case s := <-ch:
			if s.err != nil {
				lastErr = s.err
				continue
			}
			t.Cleanup(s.lab.Close)
			return s.lab
		case <-time.After(10 * time.Second):
			lastErr = fmt.Errorf("StartDemoLab did not return within 10s")
		}
	}
	t.Fatalf("StartDemoLab: %v (3 attempts)", lastErr)
	return nil
}
