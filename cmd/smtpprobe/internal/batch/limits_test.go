package batch

// Tests of what Checks keeps (only these modules, only these targets, the
// thresholds overlaid) and of Run's per-host limit, against go-smtp
// servers on loopback and the demo lab (probe/probetest).

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/assess"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// countingProxy forwards TCP connections to backend and notes when each
// was accepted.
type countingProxy struct {
	addr string
	mu   sync.Mutex
	at   []time.Time
}

func startCountingProxy(t testing.TB, backend string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.at = append(p.at, time.Now())
			p.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				b, err := net.DialTimeout("tcp", backend, 5*time.Second)
				if err != nil {
					return
				}
				defer b.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(b, c); b.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				go func() { io.Copy(c, b); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				<-done
				<-done
			}()
		}
	}()
	return p
}

func (p *countingProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.at)
}

// maxWithin returns the most connections accepted within any window of
// length d. A session holds its per-host slot from before its connect
// until after the greeting, which the server sends d after accepting, so
// no more than PerHost connections can be accepted within any window
// shorter than d.
func (p *countingProxy) maxWithin(d time.Duration) int {
	p.mu.Lock()
	at := slices.Clone(p.at)
	p.mu.Unlock()
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	most := 0
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < d; j++ {
			n++
		}
		most = max(most, n)
	}
	return most
}

// loadChecks loads text as a check configuration and returns Checks of it.
func loadChecks(t testing.TB, text string, modules, targets []string, warn, crit assess.Thresholds) (*config.Config, []*Check) {
	t.Helper()
	cfg, err := config.Load(probetest.WriteConfig(t, text))
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	checks, err := Checks(cfg, modules, targets, warn, crit)
	if err != nil {
		t.Fatalf("Checks: %v", err)
	}
	return cfg, checks
}

// With PerHost n, six sessions to one server (that greets late) with 16
// checks in parallel open at most n connections at once, and take at
// least 6/n greeting delays.
func TestRunPerHost(t *testing.T) {
	t.Parallel()
	const greet = 300 * time.Millisecond
	const n = 6
	for _, perHost := range []int{1, 3} {
		t.Run(fmt.Sprint("per-host=", perHost), func(t *testing.T) {
			t.Parallel()
			s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{GreetDelay: greet})
			if err != nil {
				t.Fatalf("StartSMTP: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			px := startCountingProxy(t, s.Addr.String())
			var cfg strings.Builder
			cfg.WriteString("modules:\n")
			var mods []string
			for i := range n {
				fmt.Fprintf(&cfg, "  s%d:\n    command: session\n    timeout: 5s\n    to: [postmaster@check.example]\n", i)
				mods = append(mods, fmt.Sprintf("s%d", i))
			}
			fmt.Fprintf(&cfg, "targets:\n  - target: %s\n    modules: [%s]\n", px.addr, strings.Join(mods, ", "))
			c, checks := loadChecks(t, cfg.String(), nil, nil, assess.Thresholds{}, assess.Thresholds{})
			start := time.Now()
			rep, err := Run(context.Background(), c.Path, checks, Options{Parallel: 16, PerHost: perHost})
			elapsed := time.Since(start)
			if err != nil || rep.Status() != probe.StatusOK {
				t.Fatalf("Run(PerHost %d) = %v, status %v; want nil and OK", perHost, err, rep.Status())
			}
			if got := px.count(); got != n {
				t.Errorf("Run(PerHost %d) opened %d sessions, want %d", perHost, got, n)
			}
			if got := px.maxWithin(greet - 20*time.Millisecond); got != perHost {
				t.Errorf("Run(PerHost %d): at most %d sessions at once to %s, want %d", perHost, got, px.addr, perHost)
			}
			if minWall := time.Duration(n/perHost) * greet; elapsed < minWall {
				t.Errorf("Run(PerHost %d) took %v, want at least %v", perHost, elapsed, minWall)
			}
		})
	}
}

// demoChecks is a check over the demo lab: a healthy server (OK), a
// server whose idle timeout (1 s) is below the module's critical
// threshold (CRITICAL) and a closed port (CRITICAL).
const demoChecks = `
modules:
  send:
    command: session
    resolver: DNS
    connect_timeout: 2s
    timeout: 5s
    to: [postmaster@demo.example]
  idle:
    command: timeout
    resolver: DNS
    phase: ehlo
    max_wait: 5s
    critical: timeout=30s
targets:
  - target: 127.0.0.2:PORT
    module: send
  - target: 127.0.0.4:PORT
    module: idle
  - target: 127.0.0.5:PORT
    modules: [send]
`

// Checks keeps only the modules and targets asked for, and overlays the
// thresholds given on each module's key by key.
func TestChecksOnly(t *testing.T) {
	t.Parallel()
	lab := probetest.DemoLabFor(t, time.Second)
	p := fmt.Sprint(lab.Port)
	text := strings.NewReplacer("DNS", lab.DNS.Addr, "PORT", p).Replace(demoChecks)
	type want struct {
		target, module string
		status         probe.Status
		outcome        probe.Outcome
	}
	halfSecond, err := assess.ParseThresholds("timeout=500ms")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name             string
		modules, targets []string
		crit             assess.Thresholds
		want             []want
	}{
		{"module send", []string{"send"}, nil, assess.Thresholds{},
			[]want{{"127.0.0.2:" + p, "send", probe.StatusOK, probe.OK}, {"127.0.0.5:" + p, "send", probe.StatusCritical, probe.Refused}}},
		{"target 127.0.0.2", nil, []string{"127.0.0.2:" + p}, assess.Thresholds{},
			[]want{{"127.0.0.2:" + p, "send", probe.StatusOK, probe.OK}}},
		// timeout=500ms overrides the module's critical timeout=30s: the
		// 1 s idle timeout passes, and only the warning that it is below
		// RFC 5321's 5 minutes is left.
		{"module idle, critical timeout=500ms", []string{"idle"}, nil, halfSecond,
			[]want{{"127.0.0.4:" + p, "idle", probe.StatusWarning, probe.ServerTimeout}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, checks := loadChecks(t, text, tc.modules, tc.targets, assess.Thresholds{}, tc.crit)
			rep, err := Run(context.Background(), c.Path, checks, Options{Parallel: 4, PerHost: 4})
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
			var got []want
			for _, c := range rep.Checks {
				got = append(got, want{c.Target, c.Module, c.Status, c.Outcome})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Run().Checks = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
