package probe

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

func startSMTP(tb testing.TB, opt probetest.SMTPOptions) netip.AddrPort {
	tb.Helper()
	s, err := probetest.StartSMTP("127.0.0.1:0", opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s.Addr
}

func TestMX(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		addr        func(tb testing.TB) netip.AddrPort
		prober      Prober
		want        Outcome
		wantPhases  []string
		wantErr     string // substring of Result.Error
		wantFailed  string // Result.FailedPhase, when set; none when want is OK
		wantCode    int    // last reply code, 0 to skip
		wantFinding string
	}{{
		name: "healthy with STARTTLS",
		addr: func(tb testing.TB) netip.AddrPort {
			return startSMTP(tb, probetest.SMTPOptions{Domain: "mx.example.com", TLS: true})
		},
		want:        OK,
		wantPhases:  []string{"connect", "banner", "ehlo", "starttls", "ehlo_tls", "quit"},
		wantCode:    221,
		wantFinding: dnscheck.CodeTLSVerifyFailed,
	}, {
		name: "no-starttls skips TLS",
		addr: func(tb testing.TB) netip.AddrPort {
			return startSMTP(tb, probetest.SMTPOptions{TLS: true})
		},
		prober:     Prober{NoStartTLS: true},
		want:       OK,
		wantPhases: []string{"connect", "banner", "ehlo", "quit"},
		wantCode:   221,
	}, {
		name: "late greeting is fine",
		addr: func(tb testing.TB) netip.AddrPort {
			return startSMTP(tb, probetest.SMTPOptions{GreetDelay: 300 * time.Millisecond})
		},
		want:       OK,
		wantPhases: []string{"connect", "banner", "ehlo", "quit"},
	}, {
		name:       "closed port",
		addr:       closedPort,
		want:       Refused,
		wantErr:    "connection refused",
		wantFailed: "connect",
	}, {
		name: "no greeting within the reply timeout",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) { time.Sleep(2 * time.Second) })
		},
		prober:     Prober{ReplyTimeout: 300 * time.Millisecond},
		want:       ReplyTimeout,
		wantErr:    "banner",
		wantFailed: "banner",
	}, {
		name: "554 greeting is rejected",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				fmt.Fprint(c, "554 5.7.1 go away\r\n")
				if expect(r, "QUIT") {
					fmt.Fprint(c, "221 2.0.0 bye\r\n")
				}
			})
		},
		want:       Rejected,
		wantCode:   554,
		wantErr:    "554 5.7.1 go away",
		wantFailed: "banner",
	}, {
		name: "EHLO 502 falls back to HELO",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				fmt.Fprint(c, "220 old.example.com SMTP\r\n")
				if expect(r, "EHLO") {
					fmt.Fprint(c, "502 5.5.1 unrecognized command\r\n")
				}
				if expect(r, "HELO") {
					fmt.Fprint(c, "250 old.example.com\r\n")
				}
				if expect(r, "QUIT") {
					fmt.Fprint(c, "221 bye\r\n")
				}
			})
		},
		want:        OK,
		wantPhases:  []string{"connect", "banner", "helo", "quit"},
		wantFinding: dnscheck.CodeEHLORejected,
	}, {
		name: "EHLO and HELO rejected",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
				for i := 0; i < 3; i++ {
					if !expect(r, "") {
						return
					}
					fmt.Fprint(c, "554 5.7.1 <probe>: Helo command rejected: Access denied\r\n")
				}
			})
		},
		want:       Rejected,
		wantCode:   554,
		wantErr:    "helo: rejected",
		wantFailed: "helo",
	}, {
		name: "FIN after greeting",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
				expect(r, "EHLO")
			})
		},
		want:       Closed,
		wantErr:    "ehlo",
		wantFailed: "ehlo",
	}, {
		name: "RST after greeting",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
				expect(r, "EHLO")
				resetConn(c)
			})
		},
		want:       Reset,
		wantErr:    "ehlo",
		wantFailed: "ehlo",
	}, {
		name: "banner that never ends",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				for i := 0; i < 10000; i++ {
					if _, err := fmt.Fprintf(c, "220-line %d\r\n", i); err != nil {
						return
					}
				}
			})
		},
		want:    ProtocolError,
		wantErr: "reply never ends",
	}, {
		name: "banner that never ends, slowly",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				for i := 0; i < 100; i++ {
					if _, err := fmt.Fprintf(c, "220-line %d\r\n", i); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			})
		},
		prober:  Prober{ReplyTimeout: 400 * time.Millisecond},
		want:    ReplyTimeout,
		wantErr: "banner",
	}, {
		name: "reply line over 4 KiB",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				fmt.Fprintf(c, "220 %s\r\n", strings.Repeat("x", 5000))
			})
		},
		want:    ProtocolError,
		wantErr: "longer than 4096 bytes",
	}, {
		name: "binary garbage",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
			})
		},
		want:    ProtocolError,
		wantErr: "3-digit code",
	}, {
		name: "NUL bytes",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				c.Write([]byte("220 a\x00b\r\n"))
			})
		},
		want:    ProtocolError,
		wantErr: "binary",
	}, {
		// Not an idle timeout: the client never paused (issue 8 item
		// 5); the 421 is the answer EHLO gets, a transient rejection.
		name: "unsolicited 421 before EHLO, no pause behind it, is a rejection",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				fmt.Fprint(c, "220 mx.example.com ESMTP\r\n421 4.4.2 mx.example.com Error: timeout exceeded\r\n")
			})
		},
		want:     Rejected,
		wantCode: 421,
		wantErr:  "421 4.4.2 mx.example.com Error: timeout exceeded",
	}, {
		name: "bytes injected after the STARTTLS 220",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
				expect(r, "EHLO")
				fmt.Fprint(c, "250-mx.example.com\r\n250 STARTTLS\r\n")
				expect(r, "STARTTLS")
				fmt.Fprint(c, "220 go ahead\r\n250 injected\r\n")
				time.Sleep(500 * time.Millisecond)
			})
		},
		want:    ProtocolError,
		wantErr: "after the STARTTLS 220",
	}, {
		name: "TLS handshake failure",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
				expect(r, "EHLO")
				fmt.Fprint(c, "250-mx.example.com\r\n250 STARTTLS\r\n")
				expect(r, "STARTTLS")
				fmt.Fprint(c, "220 2.0.0 Ready to start TLS\r\n")
				r.Read(make([]byte, 512)) // the ClientHello
				c.Write([]byte("this is not TLS\r\n"))
			})
		},
		want:       TLSError,
		wantErr:    "TLS handshake failed",
		wantFailed: "starttls",
	}, {
		name: "STARTTLS refused continues in the clear",
		addr: func(tb testing.TB) netip.AddrPort {
			return scriptPeer(tb, func(c net.Conn, r *bufio.Reader) {
				fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
				expect(r, "EHLO")
				fmt.Fprint(c, "250-mx.example.com\r\n250 STARTTLS\r\n")
				expect(r, "STARTTLS")
				fmt.Fprint(c, "454 4.7.0 TLS not available due to local problem\r\n")
				if expect(r, "QUIT") {
					fmt.Fprint(c, "221 bye\r\n")
				}
			})
		},
		want:       Rejected,
		wantCode:   454,
		wantErr:    "starttls",
		wantFailed: "starttls",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := tc.addr(t)
			p := tc.prober
			if p.ConnectTimeout == 0 {
				p.ConnectTimeout = 2 * time.Second
			}
			if p.ReplyTimeout == 0 {
				p.ReplyTimeout = 3 * time.Second
			}
			p.Helo = "probe.example.com"
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			start := time.Now()
			r, _ := p.MX(ctx, Target{Host: "mx.example.com", Addr: addr, Preference: 10}, MXOptions{})
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("MX took %s", el)
			}
			if r.Outcome != tc.want {
				t.Fatalf("MX(%s).Outcome = %s (%s), want %s\ntimeline: %s", tc.name, r.Outcome, r.Error, tc.want, dump(r.Timeline))
			}
			// An empty wantErr means no error; it does not match anything.
			switch {
			case tc.wantErr == "" && r.Error != "":
				t.Errorf("MX(%s).Error = %q, want none", tc.name, r.Error)
			case tc.wantErr != "" && !strings.Contains(r.Error, tc.wantErr):
				t.Errorf("MX(%s).Error = %q, want it to contain %q", tc.name, r.Error, tc.wantErr)
			}
			if (tc.want == OK || tc.wantFailed != "") && r.FailedPhase != tc.wantFailed {
				t.Errorf("MX(%s).FailedPhase = %q, want %q", tc.name, r.FailedPhase, tc.wantFailed)
			}
			if tc.wantPhases != nil && strings.Join(r.PhaseOrder, ",") != strings.Join(tc.wantPhases, ",") {
				t.Errorf("MX(%s).PhaseOrder = %v, want %v", tc.name, r.PhaseOrder, tc.wantPhases)
			}
			for _, ph := range r.PhaseOrder {
				if v, ok := r.Phases[ph]; !ok || v < 0 {
					t.Errorf("MX(%s).Phases[%s] = %v, %v; want a duration", tc.name, ph, v, ok)
				}
			}
			if tc.wantCode != 0 && (r.Reply == nil || r.Reply.Code != tc.wantCode) {
				t.Errorf("MX(%s).Reply = %+v, want code %d", tc.name, r.Reply, tc.wantCode)
			}
			if tc.wantFinding != "" && !hasFinding(r.Findings, tc.wantFinding) {
				t.Errorf("MX(%s).Findings = %+v, want code %s", tc.name, r.Findings, tc.wantFinding)
			}
			if len(r.Timeline) == 0 && tc.want != Refused {
				t.Errorf("MX(%s).Timeline is empty", tc.name)
			}
		})
	}
}

func hasFinding(fs []Finding, code string) bool {
	for _, f := range fs {
		if f.Code == code {
			return true
		}
	}
	return false
}

func dump(tl []wire.Event) string {
	var b strings.Builder
	for _, e := range tl {
		fmt.Fprintf(&b, "\n  %8.3f %s %s", units.MS(e.At), e.Kind, e.Text)
		if e.Reply != nil {
			b.WriteString(" " + e.Reply.String())
		}
	}
	return b.String()
}

func TestMXTLSDetails(t *testing.T) {
	t.Parallel()
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{Domain: "mx.example.com", TLS: true, CertTTL: 5 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Untrusted: reported, not fatal.
	r, _ := (&Prober{Helo: "probe.example.com"}).MX(ctx, Target{Host: "mx.example.com", Addr: s.Addr, Preference: -1}, MXOptions{})
	if r.Outcome != OK || r.TLS == nil {
		t.Fatalf("MX(untrusted) = %s %+v, want ok with TLS", r.Outcome, r.TLS)
	}
	if r.TLS.Verified || r.TLS.VerifyError == "" {
		t.Errorf("MX(untrusted).TLS.Verified = %v (%q), want false with a reason", r.TLS.Verified, r.TLS.VerifyError)
	}
	if r.TLS.DaysLeft != 4 && r.TLS.DaysLeft != 5 {
		t.Errorf("MX(5-day cert).TLS.DaysLeft = %d, want 4 or 5", r.TLS.DaysLeft)
	}
	// Judged by the default thresholds: assess.TestApplyMXCert.
	if r.Preference != nil {
		t.Errorf("MX(Preference -1).Preference = %v, want nil", *r.Preference)
	}

	// Trusted, and the name matches.
	pool := x509CertPool(s)
	r, _ = (&Prober{Helo: "probe.example.com", RootCAs: pool}).MX(ctx, Target{Host: "mx.example.com", Addr: s.Addr, Preference: 10}, MXOptions{})
	if !r.TLS.Verified {
		t.Errorf("MX(trusted).TLS = %+v, want verified", r.TLS)
	}
	if r.TLS.Version == "" || r.TLS.Cipher == "" || len(r.TLS.Names) != 1 || r.TLS.Names[0] != "mx.example.com" {
		t.Errorf("MX(trusted).TLS = %+v, want version, cipher and names [mx.example.com]", r.TLS)
	}
	// Trusted, but the MX name differs.
	r, _ = (&Prober{Helo: "probe.example.com", RootCAs: pool}).MX(ctx, Target{Host: "other.example.net", Addr: s.Addr, Preference: 10}, MXOptions{})
	if r.TLS.Verified || !strings.Contains(r.TLS.VerifyError, "other.example.net") {
		t.Errorf("MX(wrong name).TLS = %+v, want a name mismatch", r.TLS)
	}
}

func TestDaysLeft(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		left time.Duration
		want int
	}{
		{14 * 24 * time.Hour, 14}, {14*24*time.Hour - time.Second, 13}, {time.Second, 0},
		{0, 0}, {-time.Second, -1}, {-24 * time.Hour, -1}, {-24*time.Hour - time.Second, -2},
	} {
		if got := daysLeft(now.Add(tt.left), now); got != tt.want {
			t.Errorf("daysLeft(now%+v) = %d, want %d", tt.left, got, tt.want)
		}
	}
}
