package assess

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

func TestParseThresholds(t *testing.T) {
	tests := []struct {
		in      string
		want    Thresholds
		wantErr bool
	}{
		{"", Thresholds{}, false},
		{"time=2s", Thresholds{Time: 2 * time.Second}, false},
		{"time=2s,timeout=300s,mtu=1400,cert=14", Thresholds{Time: 2 * time.Second, Timeout: 300 * time.Second, MTU: 1400, CertDays: 14}, false},
		{"transient=1", Thresholds{Transient: 1}, false},
		{"transient=0", Thresholds{}, true},
		{"mtu=0", Thresholds{}, true},
		{"speed=3", Thresholds{}, true},
		{"time", Thresholds{}, true},
		{"timeout=-1s", Thresholds{}, true},
	}
	for _, tc := range tests {
		got, err := ParseThresholds(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("ParseThresholds(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if !tc.wantErr && tc.in != "" {
			if back, _ := ParseThresholds(got.String()); back != got {
				t.Errorf("ParseThresholds(%q).String() = %q does not round-trip", tc.in, got.String())
			}
		}
	}
}

func TestApply(t *testing.T) {
	mtuOf := func(n int) *probe.MTUInfo { return &probe.MTUInfo{PathMTU: &n, Verdict: mtu.VerdictPMTUDWorking} }
	ms := func(v float64) *time.Duration { d := time.Duration(v * float64(time.Millisecond)); return &d }
	rep := &probe.Report{Results: []probe.Result{
		{Host: "mx1", Address: "192.0.2.1", Outcome: probe.OK, Phases: map[string]time.Duration{"banner": 3500 * time.Millisecond}, PhaseOrder: []string{"banner"}},
		{Host: "mx2", Address: "192.0.2.2", Outcome: probe.ServerTimeout, Phase: "data", Timeout: ms(60000)},
		{Host: "mx3", Address: "192.0.2.3", Outcome: probe.OK, MTUInfo: mtuOf(1400)},
		{Host: "mx4", Address: "192.0.2.4", Outcome: probe.OK, Phases: map[string]time.Duration{"banner": 10 * time.Millisecond}, PhaseOrder: []string{"banner"}},
	}}
	Apply(rep, Thresholds{Time: 2 * time.Second, Timeout: 300 * time.Second, MTU: 1500},
		Thresholds{Time: 5 * time.Second, Timeout: 120 * time.Second, MTU: 1280})
	want := map[string]probe.Severity{dnscheck.CodeThresholdTime: probe.SevWarning, dnscheck.CodeThresholdTimeout: probe.SevCritical, dnscheck.CodeThresholdMTU: probe.SevWarning}
	if len(rep.Findings) != len(want) {
		t.Fatalf("Apply findings = %+v, want %d", rep.Findings, len(want))
	}
	for _, f := range rep.Findings {
		if want[f.Code] != f.Severity {
			t.Errorf("Apply finding %s = %s (%s), want %s", f.Code, f.Severity, f.Message, want[f.Code])
		}
	}
	if s := rep.Status(); s != probe.StatusCritical {
		t.Errorf("probe.Status() = %s, want CRITICAL", s)
	}
}

// TestApplyCert: certificate expiry at every boundary of the
// defaults (a warning with fewer than 14 days left, critical once
// expired), of cert=N at either level and of cert=0, whatever the TLS
// policy. A change to a comparison (< into <=, >= into >) fails a row.
func TestApplyCert(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	parse := func(s string) Thresholds {
		t.Helper()
		th, err := ParseThresholds(s)
		if err != nil {
			t.Fatalf("ParseThresholds(%q): %v", s, err)
		}
		return th
	}
	tests := []struct {
		name       string
		left       time.Duration // NotAfter - now
		verifyErr  string        // opportunistic TLS: info only
		warn, crit string
		want       string // "severity code", or "" for no finding
	}{
		{"defaults, 20 days", 20 * 24 * time.Hour, "", "", "", ""},
		{"defaults, 14 days exactly", 14 * 24 * time.Hour, "", "", "", ""},
		{"defaults, 13 days 23 h", 14*24*time.Hour - time.Hour, "", "", "", "warning tls-cert-expiring"},
		{"defaults, 1 day", 24 * time.Hour, "", "", "", "warning tls-cert-expiring"},
		{"defaults, last hour", time.Hour, "", "", "", "warning tls-cert-expiring"},
		{"defaults, expired an hour ago", -time.Hour, "x509: certificate has expired", "", "", "critical tls-cert-expired"},
		{"defaults, expired 400 days ago", -400 * 24 * time.Hour, "x509: certificate has expired", "", "", "critical tls-cert-expired"},
		{"warning cert=30, 29 days", 29*24*time.Hour + time.Hour, "", "cert=30", "", "warning tls-cert-expiring"},
		{"warning cert=30, 30 days", 30*24*time.Hour + time.Hour, "", "cert=30", "", ""},
		{"warning cert=5, 10 days", 10 * 24 * time.Hour, "", "cert=5", "", ""},
		{"warning cert=5, 4 days", 4*24*time.Hour + time.Hour, "", "cert=5", "", "warning tls-cert-expiring"},
		{"critical cert=7, 6 days", 6*24*time.Hour + time.Hour, "", "", "cert=7", "critical tls-cert-expiring"},
		{"critical cert=7, 7 days", 7*24*time.Hour + time.Hour, "", "", "cert=7", "warning tls-cert-expiring"},
		{"critical cert=7, expired", -time.Hour, "", "", "cert=7", "critical tls-cert-expired"},
		{"warning cert=0, 3 days", 3 * 24 * time.Hour, "", "cert=0", "", ""},
		{"warning cert=0, expired", -time.Hour, "", "cert=0", "", "critical tls-cert-expired"},
		{"critical cert=0, expired", -time.Hour, "", "", "cert=0", "warning tls-cert-expired"},
		{"both cert=0, expired", -time.Hour, "", "cert=0", "cert=0", ""},
	}
	for _, tt := range tests {
		notAfter := now.Add(tt.left)
		res := probe.Result{Address: "192.0.2.10", Host: "mx.example.com", Outcome: probe.OK,
			TLS: &probe.TLSInfo{NotAfter: notAfter, DaysLeft: daysLeft(notAfter, now), VerifyError: tt.verifyErr}}
		rep := &probe.Report{Results: []probe.Result{res}}
		Apply(rep, parse(tt.warn), parse(tt.crit))
		got := ""
		for _, f := range rep.Findings {
			if got != "" {
				t.Errorf("%s: a second finding %s %s", tt.name, f.Severity, f.Code)
			}
			got = string(f.Severity) + " " + f.Code
		}
		if got != tt.want {
			t.Errorf("%s (DaysLeft %d): Apply(%q, %q) = %q, want %q", tt.name, res.TLS.DaysLeft, tt.warn, tt.crit, got, tt.want)
		}
	}
}

// daysLeft is probe's TLSInfo.DaysLeft of a certificate (tested there):
// whole days left, negative once expired.
func daysLeft(notAfter, now time.Time) int {
	return int(math.Floor(notAfter.Sub(now).Hours() / 24))
}

func TestParseThresholdsCert(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want int
		str  string
	}{{"cert=0", CertOff, "cert=0"}, {"cert=21", 21, "cert=21"}, {"", 0, ""}} {
		th, err := ParseThresholds(tt.in)
		if err != nil || th.CertDays != tt.want || th.String() != tt.str {
			t.Errorf("ParseThresholds(%q) = %d (%q), %v; want %d (%q)", tt.in, th.CertDays, th.String(), err, tt.want, tt.str)
		}
	}
	if _, err := ParseThresholds("cert=-1"); err == nil {
		t.Errorf("ParseThresholds(cert=-1) = nil error, want one")
	}
}

// A transient rejection is WARNING, not CRITICAL, unless --critical
// transient=N says so (issue 8 item 6).
func TestStatusTransient(t *testing.T) {
	grey := wire.NewReply(450, []string{"4.2.0 Greylisted"}, 0)
	perm := wire.NewReply(550, []string{"5.1.1 User unknown"}, 0)
	res := func(o probe.Outcome, rp *wire.Reply) probe.Result {
		return probe.Result{Address: "192.0.2.1", Outcome: o, Reply: rp}
	}
	tests := []struct {
		name       string
		results    []probe.Result
		warn, crit string
		want       probe.Status
	}{
		{"one address greylisted", []probe.Result{res(probe.Rejected, &grey)}, "", "", probe.StatusWarning},
		{"all addresses greylisted", []probe.Result{res(probe.Rejected, &grey), res(probe.Rejected, &grey)}, "", "", probe.StatusWarning},
		{"permanent rejection", []probe.Result{res(probe.Rejected, &perm)}, "", "", probe.StatusCritical},
		{"greylisted and refused", []probe.Result{res(probe.Rejected, &grey), res(probe.Refused, nil)}, "", "", probe.StatusCritical},
		{"greylisted and ok", []probe.Result{res(probe.Rejected, &grey), res(probe.OK, nil)}, "", "", probe.StatusWarning},
		{"--critical transient=1", []probe.Result{res(probe.Rejected, &grey)}, "", "transient=1", probe.StatusCritical},
		{"--critical transient=2 with one", []probe.Result{res(probe.Rejected, &grey), res(probe.OK, nil)}, "", "transient=2", probe.StatusWarning},
	}
	for _, tc := range tests {
		rep := &probe.Report{Command: "session", Results: tc.results}
		outs := []probe.Outcome{}
		for _, r := range tc.results {
			outs = append(outs, r.Outcome)
		}
		rep.Outcome = probe.Worst(outs...)
		w, _ := ParseThresholds(tc.warn)
		c, err := ParseThresholds(tc.crit)
		if err != nil {
			t.Fatal(err)
		}
		Apply(rep, w, c)
		if got := rep.Status(); got != tc.want {
			t.Errorf("probe.Status(%s) = %s, want %s (findings %+v)", tc.name, got, tc.want, rep.Findings)
		}
	}
}

// TestApplyMXCert: an mx session with a real server whose certificate
// expires in 5 days, judged by the default thresholds, is a
// tls-cert-expiring warning.
func TestApplyMXCert(t *testing.T) {
	t.Parallel()
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{Domain: "mx.example.com", TLS: true, CertTTL: 5 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, _ := (&probe.Prober{Helo: "probe.example.com"}).MX(ctx, probe.Target{Host: "mx.example.com", Addr: s.Addr, Preference: -1}, probe.MXOptions{})
	if r.Outcome != probe.OK || r.TLS == nil {
		t.Fatalf("MX = %s %+v, want ok with TLS", r.Outcome, r.TLS)
	}
	rep := &probe.Report{Results: []probe.Result{r}}
	Apply(rep, Thresholds{}, Thresholds{}) // the defaults: a warning within 14 days
	if len(rep.Findings) == 0 || !slices.ContainsFunc(rep.Findings, func(f probe.Finding) bool { return f.Code == dnscheck.CodeTLSCertExpiring }) {
		t.Errorf("MX(5-day cert), default thresholds: findings %+v, want tls-cert-expiring", rep.Findings)
	}
}
