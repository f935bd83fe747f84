package batch

// Tests of Run against go-smtp servers on loopback (probe/probetest) and
// an in-process DNS server; no traffic leaves 127.0.0.1.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/assess"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// testChecks loads a configuration with one session module over a
// healthy server and a closed port, and returns its checks in order.
func testChecks(t testing.TB) (*config.Config, []*Check) {
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	text := fmt.Sprintf(`
modules:
  send:
    command: session
    resolver: %s
    connect_timeout: 2s
    timeout: 5s
    to: [someone@example.com]
targets:
  - target: %s
    module: send
  - target: %s
    module: send
`, dns.Addr, srv.Addr, closed)
	path := filepath.Join(t.TempDir(), "check.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	var checks []*Check
	for _, tg := range cfg.Targets {
		m := cfg.Modules[tg.Modules[0]]
		j, err := m.Job(tg.Target)
		if err != nil {
			t.Fatalf("Module.Job(%q): %v", tg.Target, err)
		}
		checks = append(checks, &Check{Target: tg.Target, Module: m, Job: j, Warn: m.Warn, Crit: m.Crit})
	}
	return cfg, checks
}

func TestRun(t *testing.T) {
	cfg, checks := testChecks(t)
	var calls, last atomic.Int64
	rep, err := Run(context.Background(), cfg.Path, checks, Options{
		Parallel: 2, PerHost: 1,
		Progress: func(done, total int) {
			calls.Add(1)
			if total != 2 {
				t.Errorf("Progress(_, total = %d), want 2", total)
			}
			if int64(done) > last.Load() {
				last.Store(int64(done))
			}
		},
	})
	if err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if calls.Load() != 2 || last.Load() != 2 {
		t.Errorf("Progress called %d times, last done %d, want 2 and 2", calls.Load(), last.Load())
	}
	if rep.Command != "check" || rep.Target != cfg.Path {
		t.Errorf("Run().Command, Target = %q, %q, want check, %q", rep.Command, rep.Target, cfg.Path)
	}
	if len(rep.Checks) != 2 {
		t.Fatalf("Run() has %d checks, want 2", len(rep.Checks))
	}
	wantStatus := []probe.Status{probe.StatusOK, probe.StatusCritical}
	for i, c := range rep.Checks {
		if c.Target != checks[i].Target || c.Module != "send" || c.Status != wantStatus[i] {
			t.Errorf("Run().Checks[%d] = %s %s %s, want %s send %s", i, c.Target, c.Module, c.Status, checks[i].Target, wantStatus[i])
		}
	}
	if got := rep.Status(); got != probe.StatusCritical {
		t.Errorf("Run().Status() = %s, want CRITICAL (the worst run's)", got)
	}
	for _, r := range rep.Results {
		if r.Module != "send" || (r.Target != checks[0].Target && r.Target != checks[1].Target) {
			t.Errorf("result %s: Target, Module = %q, %q, want a check's target and send", r.Address, r.Target, r.Module)
		}
	}
	for _, f := range rep.Findings {
		if !strings.HasPrefix(f.Message, "[send ") {
			t.Errorf("finding %s = %q, want it prefixed with [send TARGET]", f.Code, f.Message)
		}
	}
	if checks[0].Report == nil || checks[0].Err != nil {
		t.Errorf("checks[0] = report %v, err %v, want a report and no error", checks[0].Report != nil, checks[0].Err)
	}
}

func TestRunCancelled(t *testing.T) {
	cfg, checks := testChecks(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	rep, err := Run(ctx, cfg.Path, checks, Options{Parallel: 1, PerHost: 1})
	if !errors.Is(err, context.Canceled) || rep != nil {
		t.Errorf("Run(cancelled) = %v, %v, want nil, context.Canceled", rep, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run(cancelled) took %s, want it to return at once", d)
	}
}

func TestOverlay(t *testing.T) {
	base := assess.Thresholds{Time: time.Second, Timeout: time.Minute, MTU: 1400, CertDays: 14}
	for _, tc := range []struct {
		name      string
		top, want assess.Thresholds
	}{
		{"none", assess.Thresholds{}, base},
		{"time", assess.Thresholds{Time: 2 * time.Second}, assess.Thresholds{Time: 2 * time.Second, Timeout: time.Minute, MTU: 1400, CertDays: 14}},
		{"all", assess.Thresholds{Time: 3, Timeout: 4, MTU: 5, CertDays: 6}, assess.Thresholds{Time: 3, Timeout: 4, MTU: 5, CertDays: 6}},
	} {
		if got := Overlay(base, tc.top); got != tc.want {
			t.Errorf("Overlay(%v, %s) = %+v, want %+v", base, tc.name, got, tc.want)
		}
	}
}
