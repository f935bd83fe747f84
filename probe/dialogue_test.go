package probe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

func TestDefaultRecipient(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"Example.COM.", "postmaster@example.com"},
		{"mx1.example.com", "postmaster@mx1.example.com"},
		{"192.0.2.1", "postmaster"},
		{"2001:db8::1", "postmaster"},
		{"[2001:db8::1]", "postmaster"},
		{"", "postmaster"},
		{"bad..name", "postmaster"},
	} {
		if got := DefaultRecipient(tc.host); got != tc.want {
			t.Errorf("DefaultRecipient(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
}

// A recipient refused at RCPT gets the same finding from every probe kind
// that sends RCPT: which recipient, the reply, and the option to change.
// go-smtp refuses the bare "postmaster" (RFC 5321 §4.1.1.3 says a server
// must accept it), as some real servers do.
func TestRcptRefusedEveryCommand(t *testing.T) {
	t.Parallel()
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{ReadTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := &Prober{ReplyTimeout: 3 * time.Second, Helo: "probe.example.com"}
	tgt := Target{Host: "mx.example.com", Addr: s.Addr, Preference: -1}
	for _, tc := range []struct {
		name string
		run  func(context.Context) []Result
		want []bool // per result: refused at RCPT
	}{
		{"session", func(ctx context.Context) []Result {
			r, _ := p.Session(ctx, tgt, SessionOptions{To: []string{"postmaster"}, Size: 100})
			return []Result{r}
		}, []bool{true}},
		{"session pipelined", func(ctx context.Context) []Result {
			r, _ := p.Session(ctx, tgt, SessionOptions{To: []string{"postmaster@example.com", "postmaster"}, Size: 100, Pipelining: true})
			return []Result{r}
		}, []bool{true}},
		{"timeout all", func(ctx context.Context) []Result {
			return timeoutPhases(ctx, p, tgt, TimeoutPhases, TimeoutOptions{MaxWait: 100 * time.Millisecond, To: "postmaster"})
		}, []bool{false, false, false, true, true, true}},
		{"mtu", func(ctx context.Context) []Result {
			r, err := p.MTU(ctx, tgt, MTUOptions{Min: 576, Max: 1500, Parallel: 2, To: "postmaster"})
			if err != nil {
				t.Fatal(err)
			}
			return []Result{r}
		}, []bool{true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			start := time.Now()
			rs := tc.run(ctx)
			if took := time.Since(start); took > 1500*time.Millisecond {
				t.Errorf("%s took %s, want well under quitTimeout (no QUIT sent into DATA, no reply awaited)", tc.name, took)
			}
			if len(rs) != len(tc.want) {
				t.Fatalf("%s: %d results, want %d", tc.name, len(rs), len(tc.want))
			}
			for i, r := range rs {
				var got []Finding
				for _, f := range r.Findings {
					if f.Code == dnscheck.CodeRcptRefused {
						got = append(got, f)
					}
				}
				if !tc.want[i] {
					if len(got) > 0 {
						t.Errorf("%s result %d (phase %q): findings %+v, want no rcpt-refused", tc.name, i, r.Phase, got)
					}
					continue
				}
				if len(got) != 1 || got[0].Option != OptionTo || got[0].Severity != SevWarning ||
					!strings.Contains(got[0].Message, "refused the recipient <postmaster> (5") ||
					!strings.Contains(got[0].Message, "give a recipient the server accepts") {
					t.Errorf("%s result %d (phase %q, %s: %s): rcpt-refused findings %+v, want one naming <postmaster>, its 5yz reply and option %q",
						tc.name, i, r.Phase, r.Outcome, r.Error, got, OptionTo)
				}
				if r.Outcome != Rejected || r.FailedPhase != "rcpt" {
					t.Errorf("%s result %d = %s in phase %q, want rejected in rcpt", tc.name, i, r.Outcome, r.FailedPhase)
				}
			}
		})
	}
}
