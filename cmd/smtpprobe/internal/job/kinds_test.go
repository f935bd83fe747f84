package job

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// Every row of the registry is complete: a reference entry under its own
// name with a synopsis, a summary and 3 to 5 examples that fit the help's
// width, and a run function; names are unique.
func TestKinds(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds {
		if seen[k.Name] {
			t.Errorf("kind %s twice", k.Name)
		}
		seen[k.Name] = true
		c := k.Help
		if c.Name != k.Name || !strings.HasPrefix(c.Synopsis, "smtpprobe "+k.Name) || c.Summary == "" {
			t.Errorf("%s: help entry %q, synopsis %q, summary %q", k.Name, c.Name, c.Synopsis, c.Summary)
		}
		for _, e := range c.Examples {
			if n := len([]rune(e)); n+2 > help.Width {
				t.Errorf("%s example of %d columns, indented past %d: %q", k.Name, n, help.Width, e)
			}
		}
		if len(c.Examples) < 3 || len(c.Examples) > 5 {
			t.Errorf("%s has %d examples, want 3 to 5", k.Name, len(c.Examples))
		}
		if k.probe == nil {
			t.Errorf("%s has no run function", k.Name)
		}
		if got, ok := KindOf(k.Name); !ok || got.Name != k.Name {
			t.Errorf("KindOf(%s) = %v, %v", k.Name, got.Name, ok)
		}
	}
	if _, ok := KindOf("check"); ok {
		t.Error(`KindOf("check") found a kind; check runs modules, it is not one`)
	}
	if got := strings.Join(KindNames(), ","); got != "mx,session,timeout,mtu,path" {
		t.Errorf("KindNames() = %s", got)
	}
}

// The threshold keys of each command, as before the registry.
func TestThresholdKeys(t *testing.T) {
	for cmd, want := range map[string]string{"mx": "time,cert,transient", "session": "time,cert,transient",
		"timeout": "time,timeout,transient", "mtu": "time,mtu", "path": "", "check": "time,timeout,mtu,cert,transient", "nosuch": ""} {
		if got := strings.Join(ThresholdKeys(cmd), ","); got != want {
			t.Errorf("ThresholdKeys(%s) = %q, want %q", cmd, got, want)
		}
	}
}

// The timeout kind measures every phase of an address in a session of
// its own, all at once: the wall time is about one idle timeout, not
// the sum; each phase is counted as it ends, and the phases' timeouts
// below RFC 5321's 5 minutes are one finding.
func TestRunTimeoutPhasesAtOnce(t *testing.T) {
	idle := 300 * time.Millisecond
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{ReadTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	j := New("timeout")
	j.Target = s.Addr.String()
	j.ReplyTimeout = 3 * time.Second
	j.Timeout.MaxWait = 5 * time.Second
	j.Timeout.To = "postmaster@example.com" // go-smtp refuses the bare postmaster
	var (
		mu          sync.Mutex // Progress comes from every phase's goroutine
		done, total int
	)
	j.Progress = func(d, tot int) {
		mu.Lock()
		done, total = d, tot
		mu.Unlock()
	}
	if err := j.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	rep, err := j.Run(ctx, nil)
	wall := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if wall > idle+time.Second {
		t.Errorf("Run(timeout, all phases) took %s, want about %s (parallel)", wall, idle)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rep.Results) != len(probe.TimeoutPhases) || done != total || total != len(probe.TimeoutPhases) {
		t.Fatalf("Run(timeout) = %d results, progress %d of %d; want %d each", len(rep.Results), done, total, len(probe.TimeoutPhases))
	}
	below := 0
	for i, r := range rep.Results {
		if r.Phase != probe.TimeoutPhases[i] || r.Outcome != probe.ServerTimeout {
			t.Errorf("result %d = phase %q, %s (%s); want %s, server-timeout", i, r.Phase, r.Outcome, r.Error, probe.TimeoutPhases[i])
		}
		for _, f := range r.Findings {
			if f.Code == dnscheck.CodeServerTimeoutBelowRFC {
				below++
				if i != 0 || !strings.Contains(f.Message, fmt.Sprintf("%s after", probe.TimeoutPhases[len(probe.TimeoutPhases)-1])) {
					t.Errorf("finding %q on result %d, want it on the first, naming every phase", f.Message, i)
				}
			}
		}
	}
	if below != 1 {
		t.Errorf("Run(timeout) gave %d server-timeout-below-rfc findings, want 1 for all phases", below)
	}
}
