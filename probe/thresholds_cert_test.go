package probe

import (
	"testing"
	"time"
)

// TestApplyThresholdsCert: certificate expiry at every boundary of the
// defaults (a warning with fewer than 14 days left, critical once
// expired), of cert=N at either level and of cert=0, whatever the TLS
// policy. A change to a comparison (< into <=, >= into >) fails a row.
func TestApplyThresholdsCert(t *testing.T) {
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
		res := Result{Address: "192.0.2.10", Host: "mx.example.com", Outcome: OK,
			TLS: &TLSInfo{NotAfter: notAfter, DaysLeft: daysLeft(notAfter, now), VerifyError: tt.verifyErr}}
		rep := &Report{Results: []Result{res}}
		rep.ApplyThresholds(parse(tt.warn), parse(tt.crit))
		got := ""
		for _, f := range rep.Findings {
			if got != "" {
				t.Errorf("%s: a second finding %s %s", tt.name, f.Severity, f.Code)
			}
			got = string(f.Severity) + " " + f.Code
		}
		if got != tt.want {
			t.Errorf("%s (DaysLeft %d): ApplyThresholds(%q, %q) = %q, want %q", tt.name, res.TLS.DaysLeft, tt.warn, tt.crit, got, tt.want)
		}
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
