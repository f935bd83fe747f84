package e2e

// Issue 20, friction 7: certificate expiry by default, through the built
// binary, against go-smtp peers on 127.0.0.1 with self-signed (so never
// verifying: opportunistic TLS) certificates.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

func certSMTP(t *testing.T, ttl time.Duration) string {
	t.Helper()
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{Domain: "mx.cert.example", TLS: true, CertTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr.String()
}

func TestCLICertExpiry(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	expired := certSMTP(t, -48*time.Hour)
	soon := certSMTP(t, 5*24*time.Hour)
	fine := certSMTP(t, 60*24*time.Hour)
	session := func(addr string, extra ...string) cliRun {
		return runCLI(t, nil, bin, append([]string{"session", addr, "--starttls", "--to", "postmaster@cert.example",
			"--connect-timeout", "2s", "--timeout", "5s", "--format", "json"}, extra...)...)
	}
	tests := []struct {
		name  string
		run   cliRun
		code  int
		codes []string // finding codes that must appear, "severity code"
		not   []string // codes that must not
	}{
		// Before issue 20: exit 0, only "info tls-verify-failed".
		{"expired, defaults", session(expired), 2, []string{"critical tls-cert-expired", "info tls-verify-failed"}, nil},
		{"5 days, defaults", session(soon), 1, []string{"warning tls-cert-expiring"}, []string{dnscheck.CodeTLSCertExpired}},
		{"60 days, defaults", session(fine), 0, nil, []string{dnscheck.CodeTLSCertExpiring, dnscheck.CodeTLSCertExpired}},
		{"60 days, --warning cert=90", session(fine, "--warning", "cert=90"), 1, []string{"warning tls-cert-expiring"}, nil},
		{"5 days, --critical cert=7", session(soon, "--critical", "cert=7"), 2, []string{"critical tls-cert-expiring"}, nil},
		{"5 days, --warning cert=0", session(soon, "--warning", "cert=0"), 0, nil, []string{dnscheck.CodeTLSCertExpiring}},
		{"expired, --critical cert=0", session(expired, "--critical", "cert=0"), 1, []string{"warning tls-cert-expired"}, nil},
		{"expired, both cert=0", session(expired, "--warning", "cert=0", "--critical", "cert=0"), 0, nil, []string{dnscheck.CodeTLSCertExpired}},
	}
	for _, tt := range tests {
		if tt.run.code != tt.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tt.name, tt.run.code, tt.code, tt.run.stdout, tt.run.stderr)
		}
		for _, c := range tt.codes {
			sev, code, _ := strings.Cut(c, " ")
			if !strings.Contains(tt.run.stdout, fmt.Sprintf(`"severity": %q,
      "code": %q`, sev, code)) {
				t.Errorf("%s: no %s finding in\n%s", tt.name, c, tt.run.stdout)
			}
		}
		for _, c := range tt.not {
			if strings.Contains(tt.run.stdout, `"code": "`+c+`"`) {
				t.Errorf("%s: a %s finding in\n%s", tt.name, c, tt.run.stdout)
			}
		}
	}

	// The configuration changes it too, per module; the command line's
	// thresholds go on top.
	cfg := writeCheckConfig(t, fmt.Sprintf(`modules:
  relaxed:
    command: session
    starttls: true
    to: [postmaster@cert.example]
    connect_timeout: 2s
    timeout: 5s
    warning: cert=3
  strict:
    command: session
    starttls: true
    to: [postmaster@cert.example]
    connect_timeout: 2s
    timeout: 5s
    critical: cert=30
targets:
  - target: %s
    modules: [relaxed, strict]
`, soon))
	r := runCLI(t, nil, bin, "check", "--config", cfg, "--format", "nagios")
	if r.code != 2 || !strings.Contains(r.stdout, "CRITICAL strict") || strings.Contains(r.stdout, "WARNING relaxed") {
		t.Errorf("check (5 days; relaxed cert=3, strict critical cert=30) = %d\n%s%s\nwant exit 2, strict CRITICAL, relaxed OK", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, nil, bin, "check", "--config", cfg, "--critical", "cert=0", "--warning", "cert=0", "--json"); r.code != 0 {
		t.Errorf("check --critical cert=0 --warning cert=0 = %d\n%s%s\nwant 0: expiry not judged", r.code, r.stdout, r.stderr)
	}
}

// writeCheckConfig writes text as check.yaml in a temporary directory.
func writeCheckConfig(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "check.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
