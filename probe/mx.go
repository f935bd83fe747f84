package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
)

// TLSInfo describes a STARTTLS session (RFC 3207).
type TLSInfo struct {
	Version     string    `json:"version"`
	Cipher      string    `json:"cipher"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Names       []string  `json:"names"`
	NotAfter    time.Time `json:"not_after"`
	DaysLeft    int       `json:"days_left"`
	Verified    bool      `json:"verified"`
	VerifyError string    `json:"verify_error,omitempty"`
	// KeyShare names the groups whose key shares the ClientHello offered
	// (RFC 8446 §4.2.8), as the hello on the wire shows them; HelloBytes
	// is its size; Group is the group negotiated (tlshello.go).
	KeyShare   []string `json:"key_share,omitempty"`
	HelloBytes int      `json:"hello_bytes,omitempty"`
	Group      string   `json:"group,omitempty"`
	// HelloStall is what the retries after a stalled ClientHello showed;
	// the fields above then describe the retry that completed.
	HelloStall *HelloStall `json:"hello_stall,omitempty"`
	// Chain is what the server sent, leaf first, for the DANE matcher
	// (policy.go).
	Chain []*x509.Certificate `json:"-"`
}

// MXOptions are the settings of an mx probe beyond the Prober's (whose
// NoStartTLS the domain's policy verdicts read too); there are none yet,
// and the type keeps the one signature of every probe kind.
type MXOptions struct{}

// MX probes one address the way `smtpprobe mx` does: connect, banner,
// EHLO (HELO if EHLO gets 5yz, RFC 5321 §4.1.4), STARTTLS when offered
// (RFC 3207) and EHLO again, then QUIT. Every phase is timed. The error
// is non-nil only for a *wire.LocalError (this host's socket layer
// failed) or a cancelled ctx.
func (p *Prober) MX(ctx context.Context, t Target, _ MXOptions) (Result, error) {
	r := p.mx(ctx, t)
	return r, r.err(ctx)
}

func (p *Prober) mx(ctx context.Context, t Target) (r Result) {
	r = newResult(t)
	d := p.begin(ctx, t, &r)
	if d == nil {
		return r
	}
	defer d.end()
	if d.greet(!p.NoStartTLS) {
		d.finish()
	}
	return r
}

// tlsConfig accepts any certificate so that opportunistic STARTTLS
// (RFC 3207 §4.1) proceeds as an MTA's would; verifyTLS then checks it
// against the exchanger's name and reports rather than fails. Verifying
// after the handshake keeps the certificate-pool work out of the
// "starttls" phase, which then times the wire.
func (p *Prober) tlsConfig(t Target, r *Result) *tls.Config {
	r.TLS = &TLSInfo{}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS10,
		InsecureSkipVerify: true, // verified by verifyTLS, and reported rather than fatal
		CurvePreferences:   p.TLSGroups.Curves(),
	}
	if _, literal := parseIP(t.Host); !literal {
		cfg.ServerName = t.Host
	}
	return cfg
}

// verifyTLS records the certificate of st and verifies it for t.Host
// against p.RootCAs (the system pool when nil).
func (p *Prober) verifyTLS(t Target, r *Result, st *tls.ConnectionState) {
	r.TLS.Version = tls.VersionName(st.Version)
	r.TLS.Cipher = tls.CipherSuiteName(st.CipherSuite)
	if len(st.PeerCertificates) == 0 {
		r.TLS.VerifyError = "no certificate"
		return
	}
	leaf := st.PeerCertificates[0]
	r.TLS.Chain = append([]*x509.Certificate(nil), st.PeerCertificates...)
	r.TLS.Subject = leaf.Subject.String()
	r.TLS.Issuer = leaf.Issuer.String()
	r.TLS.Names = append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		r.TLS.Names = append(r.TLS.Names, ip.String())
	}
	r.TLS.NotAfter = leaf.NotAfter.UTC()
	r.TLS.DaysLeft = daysLeft(leaf.NotAfter, p.now())
	opts := x509.VerifyOptions{DNSName: strings.Trim(t.Host, "[]"), Roots: p.RootCAs,
		Intermediates: x509.NewCertPool(), CurrentTime: p.now()}
	for _, ic := range st.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	if _, err := leaf.Verify(opts); err != nil {
		r.TLS.VerifyError = err.Error()
	} else {
		r.TLS.Verified = true
	}
}

func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return a, err == nil
}

func (p *Prober) tlsFindings(t Target, r *Result, st *tls.ConnectionState) {
	who := fmt.Sprintf("%s [%s]", t.Host, r.Address)
	if r.TLS.VerifyError != "" {
		// Info: opportunistic senders deliver over it (RFC 3207 §4.1);
		// the domain's MTA-STS or DANE policy raises it (policy.go).
		r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeTLSVerifyFailed,
			Message: fmt.Sprintf("%s: certificate does not verify for %q: %s", who, t.Host, r.TLS.VerifyError)})
	}
	// Expiry is judged with the thresholds (assess.Apply), by
	// default whatever the TLS policy: see assess.Thresholds.CertLimit.
	if st.Version < tls.VersionTLS12 {
		r.Findings = append(r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeTLSOldVersion,
			Message: fmt.Sprintf("%s: negotiated %s; RFC 8996 deprecates TLS 1.0 and 1.1", who, tls.VersionName(st.Version))})
	}
}

// daysLeft is the whole days from now to notAfter, rounded down: 0 in the
// last day, negative once the certificate has expired (-1 in the first
// day after).
func daysLeft(notAfter, now time.Time) int {
	return int(math.Floor(notAfter.Sub(now).Hours() / 24))
}
