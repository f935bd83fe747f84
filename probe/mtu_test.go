//go:build linux

package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// On loopback nothing is lost and no ICMP comes: every size up to --max
// passes, and the clamp shows in TCP_INFO as the packet size sent.
// Black holes and working PMTUD need a routed path: the lab tests
// (cmd/smtpprobe/e2e_mtu_test.go) cover them.
func TestMTULoopbackNoBottleneck(t *testing.T) {
	t.Parallel()
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := &Prober{ReplyTimeout: 3 * time.Second, Helo: "probe.example.com"}
	r, err := p.MTU(ctx, Target{Host: "mx.example.com", Addr: s.Addr, Preference: -1},
		MTUOptions{Min: 576, Max: 1500, To: "postmaster@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	m := r.MTUInfo
	if r.Outcome != OK || m == nil || m.Verdict != mtu.VerdictNoBottleneck {
		t.Fatalf("MTU(loopback) = %s (%s), %+v; want ok, no-bottleneck", r.Outcome, r.Error, m)
	}
	if m.PathMTU == nil || *m.PathMTU != 1500 || m.Bracket[1] != nil || m.Rounds != 1 {
		t.Errorf("MTU(loopback) path_mtu %v, bracket %v, rounds %d; want 1500, [1500, null], 1 round", m.PathMTU, m.Bracket, m.Rounds)
	}
	for _, pr := range m.Probes {
		if !pr.OK || pr.Sent != pr.Size || pr.Result != "delivered" {
			t.Errorf("probe %+v: want delivered at the requested size", pr)
		}
	}
	if got := s.Messages(); got != 0 {
		t.Errorf("MTU delivered %d messages, want 0 (no final dot)", got)
	}
}

func TestMTURecipientRefused(t *testing.T) {
	t.Parallel()
	addr := scriptPeer(t, func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
		if expect(r, "EHLO") {
			fmt.Fprint(c, "250 mx.example.com\r\n")
		}
		if expect(r, "MAIL") {
			fmt.Fprint(c, "250 2.1.0 Ok\r\n")
		}
		if expect(r, "RCPT") {
			fmt.Fprint(c, "550 5.1.1 <nobody@example.com>: Recipient address rejected\r\n")
		}
		if expect(r, "QUIT") {
			fmt.Fprint(c, "221 2.0.0 Bye\r\n")
		}
	})
	r, err := (&Prober{ReplyTimeout: 2 * time.Second}).MTU(context.Background(),
		Target{Host: "mx.example.com", Addr: addr, Preference: -1}, MTUOptions{Min: 576, Max: 1500, Parallel: 2, To: "nobody@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Rejected || r.FailedPhase != "rcpt" || !hasFinding(r.Findings, dnscheck.CodeRcptRefused) {
		t.Errorf("MTU(recipient refused) = %s in phase %q (%s), %+v; want rejected in rcpt with rcpt-refused", r.Outcome, r.FailedPhase, r.Error, r.Findings)
	}
}

// TestMTULoopbackDirections: with STARTTLS the outbound probes ride the
// start of a TLS record (no MAIL transaction, no message) and the inbound
// direction is measured through the handshake; without it the outbound
// probes fall back to DATA and the inbound direction is untested, with a
// finding. Loopback has no bottleneck in either direction.
func TestMTULoopbackDirections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		tls          bool
		dir          string
		wantOut      Verdict
		wantIn       Verdict // "" : no reverse object
		wantVia      string
		wantFinding  string
		transactions bool
	}{
		{"starttls both", true, DirectionBoth, mtu.VerdictNoBottleneck, mtu.VerdictNoBottleneck, "starttls", "", false},
		{"starttls in", true, DirectionIn, mtu.VerdictUntested, mtu.VerdictNoBottleneck, "", "", false},
		{"starttls out", true, DirectionOut, mtu.VerdictNoBottleneck, "", "starttls", "", false},
		{"plain both", false, DirectionBoth, mtu.VerdictNoBottleneck, mtu.VerdictUntested, "data", dnscheck.CodeReverseUntested, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{TLS: tc.tls})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p := &Prober{ReplyTimeout: 3 * time.Second, Helo: "probe.example.com"}
			r, err := p.MTU(ctx, Target{Host: "mx.example.com", Addr: s.Addr, Preference: -1},
				MTUOptions{Min: 576, Max: 1500, Parallel: 4, To: "postmaster@example.com", Direction: tc.dir})
			if err != nil {
				t.Fatal(err)
			}
			m := r.MTUInfo
			if r.Outcome != OK || m == nil || m.Verdict != tc.wantOut {
				t.Fatalf("MTU(%s) = %s (%s), verdict %v; want ok, %s", tc.name, r.Outcome, r.Error, m, tc.wantOut)
			}
			for _, pr := range m.Probes {
				if pr.Via != tc.wantVia {
					t.Errorf("MTU(%s) probe %+v via %q, want %q", tc.name, pr, pr.Via, tc.wantVia)
				}
			}
			if got := m.Transactions > 0; got != tc.transactions {
				t.Errorf("MTU(%s) transactions = %d, want > 0: %v", tc.name, m.Transactions, tc.transactions)
			}
			switch {
			case tc.wantIn == "" && m.Reverse != nil:
				t.Errorf("MTU(%s) reverse = %+v, want none", tc.name, m.Reverse)
			case tc.wantIn != "" && (m.Reverse == nil || m.Reverse.Verdict != tc.wantIn):
				t.Errorf("MTU(%s) reverse = %+v, want verdict %s", tc.name, m.Reverse, tc.wantIn)
			case tc.wantIn == mtu.VerdictNoBottleneck:
				rv := m.Reverse
				// probetest's certificate is one small ECDSA
				// certificate: its flight (under 1 KB) fills no
				// 1500-byte packet, and the report must say so.
				wantUpTo := min(1500, rv.FlightBytes+52)
				// Two sessions (Max and a control), unless the Max
				// flight was only slow on a loaded host (-race, CI):
				// judged stalled in the first pair, it passes in the
				// search's first round, which then ends there.
				sessions := 2
				for _, pr := range rv.Probes[:min(2, len(rv.Probes))] { // the first pair, as they ended
					if pr.Size == 1500 && !pr.OK && len(rv.Probes) > 2 {
						sessions = 2 + 4 // MTUOptions.Parallel
					}
				}
				if rv.PathMTU == nil || *rv.PathMTU > wantUpTo || rv.Sessions != sessions || rv.FlightBytes < 300 || rv.TestedUpTo != wantUpTo {
					t.Errorf("MTU(%s) reverse path_mtu %s, sessions %d, flight %d, tested up to %d; want <= %d, %d (Max and a control), a certificate flight, %d",
						tc.name, fmtIntp(rv.PathMTU), rv.Sessions, rv.FlightBytes, rv.TestedUpTo, wantUpTo, sessions, wantUpTo)
				}
				if wantUpTo < 1500 && !hasFinding(r.Findings, dnscheck.CodeReverseTestedUpTo) {
					t.Errorf("MTU(%s) findings %+v, want reverse-tested-up-to (flight %d bytes)", tc.name, r.Findings, rv.FlightBytes)
				}
			}
			if tc.wantFinding != "" && !hasFinding(r.Findings, tc.wantFinding) {
				t.Errorf("MTU(%s) findings %+v, want %s", tc.name, r.Findings, tc.wantFinding)
			}
			if got := s.Messages(); got != 0 {
				t.Errorf("MTU(%s) delivered %d messages, want 0", tc.name, got)
			}
		})
	}
}

func fmtIntp(p *int) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// On loopback with no maximum the range reaches the interface MTU, whose
// MSS clamp Linux refuses (TCP_MAXSEG above 32767): MTU says so as a
// *LocalError, with the result not passed off as unreachable.
func TestMTULoopbackClampRefusedIsLocal(t *testing.T) {
	t.Parallel()
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := &Prober{ReplyTimeout: 3 * time.Second}
	r, err := p.MTU(ctx, Target{Host: "127.0.0.1", Addr: s.Addr, Preference: -1}, MTUOptions{To: "postmaster@example.com"})
	var le *wire.LocalError
	if !errors.As(err, &le) || le.Errno() != syscall.EINVAL {
		t.Fatalf("MTU(loopback, no max) = %s (%s), %v; want a *LocalError with EINVAL", r.Outcome, r.Error, err)
	}
	if r.LocalFailure() != le {
		t.Errorf("MTU(loopback, no max).LocalFailure() = %v, want the returned error", r.LocalFailure())
	}
	rep, err := p.Run(ctx, nil, "mtu", "127.0.0.1", RunOptions{Port: s.Addr.Port(), NoPTR: true}, func(ctx context.Context, t Target) []Result {
		r, _ := p.MTU(ctx, t, MTUOptions{To: "postmaster@example.com"})
		return []Result{r}
	})
	if !errors.As(err, &le) || rep == nil {
		t.Errorf("Run(mtu loopback, no max) = %v, want the report and a *LocalError", err)
	}
}
