package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/dnscheck/dane"
	"github.com/smtpprobe/smtpprobe/dnscheck/mtasts"
	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

var policyNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// selfSigned is a certificate for name (the probe's view: DANE-EE ignores
// names and issuers).
func selfSigned(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: policyNow.Add(-time.Hour), NotAfter: policyNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func spki311(c *x509.Certificate) dane.Record {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return dane.Record{Usage: 3, Selector: 1, MatchingType: 1, Data: hex.EncodeToString(h[:])}
}

func TestApplyPolicy(t *testing.T) {
	cert := selfSigned(t, "mx.example.com")
	other := selfSigned(t, "mx.example.com")
	pref := 10
	res := func(tls string) Result {
		r := Result{Host: "mx.example.com", Address: "192.0.2.1", Port: 25, Preference: &pref, Outcome: OK,
			Phases: map[string]time.Duration{"connect": 1, "banner": 1, "ehlo": 1}}
		switch tls {
		case "verified", "unverified":
			r.Capabilities = []string{"STARTTLS"}
			r.TLS = &TLSInfo{Verified: tls == "verified", Chain: []*x509.Certificate{cert}}
			if tls == "unverified" {
				r.TLS.VerifyError = "x509: certificate signed by unknown authority"
			}
		case "handshake-failed":
			r.Capabilities = []string{"STARTTLS"}
			r.TLS = &TLSInfo{}
			r.Outcome, r.FailedPhase, r.Error = TLSError, "starttls", "starttls: remote error: tls: handshake failure"
		case "closed":
			r.Phases = map[string]time.Duration{"connect": 1}
			r.Outcome, r.FailedPhase, r.Error = Refused, "connect", "connection refused"
		}
		return r
	}
	sts := func(mode mtasts.Mode, mx ...string) *policy.Report {
		return &policy.Report{Domain: "example.com", MTASTS: policy.MTASTSReport{ID: "1", Mode: string(mode), MX: mx},
			STS: &mtasts.Policy{Version: "STSv1", Mode: mode, MX: mx, MaxAge: 86400}}
	}
	withDANE := func(r Result, enforced bool, recs ...dane.Record) Result {
		r.DANE = &policy.DANEReport{Name: "_25._tcp.mx.example.com", Records: recs, Secure: enforced, Enforced: enforced}
		if !enforced {
			r.DANE.NotEnforced = "the TLSA records are not DNSSEC-validated"
		}
		return r
	}
	fetchFailed := &policy.Report{Domain: "example.com", MTASTS: policy.MTASTSReport{ID: "1", FetchError: "https://mta-sts.example.com/.well-known/mta-sts.txt: connection refused"},
		FetchErr: errors.New("connection refused"), TXTFound: true}
	notAllowed := &policy.Report{Domain: "example.com", MTASTS: policy.MTASTSReport{ID: "1", FetchError: "address 192.0.2.9:443: not in serve.allow"},
		FetchErr: &mtasts.FetchError{Err: &wire.PolicyError{Addr: netip.MustParseAddrPort("192.0.2.9:443"), Err: errors.New("not in serve.allow")}}, TXTFound: true}
	for _, tc := range []struct {
		name   string
		policy *policy.Report
		result Result
		want   []string // "severity code", in order
		status Status
		msg    string // substring of the first non-info finding
	}{
		{"opportunistic, unverifiable certificate", nil, res("unverified"), nil, StatusOK, ""},
		{"opportunistic, no STARTTLS", nil, res("none"), []string{"warning starttls-not-offered"}, StatusWarning, "in the clear"},
		{"opportunistic, refused", nil, res("closed"), nil, StatusCritical, ""},
		{"enforce, all right", sts(mtasts.ModeEnforce, "mx.example.com"), res("verified"), []string{"info mta-sts-policy"}, StatusOK, ""},
		{"enforce, wildcard", sts(mtasts.ModeEnforce, "*.example.com"), res("verified"), []string{"info mta-sts-policy"}, StatusOK, ""},
		{"enforce, MX not listed", sts(mtasts.ModeEnforce, "mail.example.net"), res("verified"),
			[]string{"info mta-sts-policy", "critical mta-sts-mx-not-listed"}, StatusCritical, "senders honouring MTA-STS will not deliver to it"},
		{"enforce, certificate does not verify", sts(mtasts.ModeEnforce, "mx.example.com"), res("unverified"),
			[]string{"info mta-sts-policy", "critical mta-sts-cert-invalid"}, StatusCritical, "senders honouring MTA-STS will not deliver to it"},
		{"enforce, no STARTTLS", sts(mtasts.ModeEnforce, "mx.example.com"), res("none"),
			[]string{"info mta-sts-policy", "critical mta-sts-no-starttls"}, StatusCritical, "offers no STARTTLS"},
		{"enforce, handshake failed", sts(mtasts.ModeEnforce, "mx.example.com"), res("handshake-failed"),
			[]string{"info mta-sts-policy", "critical mta-sts-tls-failed"}, StatusCritical, "will not deliver"},
		{"enforce, refused: the outcome says it", sts(mtasts.ModeEnforce, "mx.example.com"), res("closed"), []string{"info mta-sts-policy"}, StatusCritical, ""},
		{"testing, certificate does not verify", sts(mtasts.ModeTesting, "mx.example.com"), res("unverified"),
			[]string{"info mta-sts-policy", "warning mta-sts-cert-invalid"}, StatusWarning, "senders still deliver"},
		{"none, certificate does not verify", sts(mtasts.ModeNone), res("unverified"), []string{"info mta-sts-policy"}, StatusOK, ""},
		{"TXT without a policy", fetchFailed, res("verified"), []string{"warning mta-sts-policy-unavailable"}, StatusWarning, "RFC 8461 §3.3, §5.1"},
		{"policy host not allowed", notAllowed, res("verified"), []string{"info mta-sts-fetch-not-allowed"}, StatusOK, ""},
		{"DANE-EE match, unverifiable certificate", nil, withDANE(res("unverified"), true, spki311(other), spki311(cert)), []string{"info dane-match"}, StatusOK, ""},
		{"DANE mismatch", nil, withDANE(res("verified"), true, spki311(other)), []string{"critical dane-mismatch"}, StatusCritical, "validating senders defer"},
		{"DANE, no STARTTLS", nil, withDANE(res("none"), true, spki311(cert)), []string{"critical dane-no-starttls"}, StatusCritical, "validating senders defer"},
		{"DANE only PKIX-EE", nil, withDANE(res("verified"), true, dane.Record{Usage: 1, Selector: 1, MatchingType: 1, Data: spki311(cert).Data}),
			[]string{"warning dane-unusable"}, StatusWarning, "RFC 7672 §3.1.3"},
		{"TLSA not validated", nil, withDANE(res("unverified"), false, spki311(other)), []string{"info dane-not-validated"}, StatusOK, ""},
		{"TLS-RPT", &policy.Report{Domain: "example.com", TLSRPT: policy.TLSRPTReport{RUA: []string{"mailto:r@example.com"}}}, res("verified"),
			[]string{"info tls-rpt"}, StatusOK, ""},
		{"TLS-RPT invalid", &policy.Report{Domain: "example.com", TLSRPT: policy.TLSRPTReport{Error: "TLS-RPT record: has no rua field"}}, res("verified"),
			[]string{"warning tls-rpt-invalid"}, StatusWarning, "no rua"},
		{"TLS-RPT lookup failed", &policy.Report{Domain: "example.com", TLSRPT: policy.TLSRPTReport{Error: "SERVFAIL", DNSFail: true}}, res("verified"),
			[]string{"info tls-rpt-lookup-failed"}, StatusOK, ""},
		{"enforce and DANE mismatch", sts(mtasts.ModeEnforce, "mx.example.com"), withDANE(res("verified"), true, spki311(other)),
			[]string{"info mta-sts-policy", "critical dane-mismatch"}, StatusCritical, "no TLSA record matches"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &Report{Command: "mx", Target: "example.com", Outcome: OK, Policy: tc.policy, Results: []Result{tc.result}}
			fs := applyPolicy(rep, false, policyNow)
			var got []string
			for _, f := range fs {
				got = append(got, string(f.Severity)+" "+f.Code)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("applyPolicy findings = %q, want %q\n%v", got, tc.want, fs)
			}
			rep.Findings = fs
			if s := rep.Status(); s != tc.status {
				t.Errorf("status = %v, want %v", s, tc.status)
			}
			for _, f := range fs {
				if f.Severity != SevInfo {
					if !strings.Contains(f.Message, tc.msg) {
						t.Errorf("finding %q, want it to contain %q", f.Message, tc.msg)
					}
					break
				}
			}
		})
	}
}

func TestApplyPolicyRecordsMatch(t *testing.T) {
	cert := selfSigned(t, "mx.example.com")
	pref := 10
	r := Result{Host: "mx.example.com", Address: "192.0.2.1", Preference: &pref, Outcome: OK,
		Phases: map[string]time.Duration{"ehlo": 1}, Capabilities: []string{"STARTTLS"},
		TLS:  &TLSInfo{Chain: []*x509.Certificate{cert}},
		DANE: &policy.DANEReport{Records: []dane.Record{spki311(cert)}, Secure: true, Enforced: true}}
	rep := &Report{Results: []Result{r}}
	applyPolicy(rep, false, policyNow)
	d := rep.Results[0].DANE
	if d.Matched == nil || *d.Matched != 0 || d.MatchedRecord != spki311(cert).String() || *d.MatchDepth != 0 {
		t.Errorf("DANE after applyPolicy = %+v, want record 0 matched at the leaf", d)
	}
}

// TestPolicyDial: the MTA-STS policy host is resolved through the run's
// resolver and every address is asked of Allow, with its port, before
// any packet.
func TestPolicyDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := netip.MustParseAddrPort(ln.Addr().String()).Port()
	dns, err := probetest.StartDNS("127.0.0.1:0", "mta-sts.example.com. 0 IN A 127.0.0.1\n")
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	res := &dnscheck.Resolver{Servers: []string{dns.Addr}}
	var asked []netip.AddrPort
	refuse := errors.New("not in the test's allowlist")
	p := &Prober{ConnectTimeout: 2 * time.Second, Allow: func(ap netip.AddrPort) error {
		asked = append(asked, ap)
		return refuse
	}}
	_, err = p.policyDial(res, dnscheck.AnyFamily)(context.Background(), "tcp", fmt.Sprintf("mta-sts.example.com:%d", port))
	var pe *wire.PolicyError
	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	if !errors.As(err, &pe) || pe.Addr != want || !errors.Is(err, refuse) || !slices.Equal(asked, []netip.AddrPort{want}) {
		t.Fatalf("policyDial(refused) = %v, asked %v; want a *PolicyError for %v", err, asked, want)
	}
	p.Allow = func(netip.AddrPort) error { return nil }
	c, err := p.policyDial(res, dnscheck.AnyFamily)(context.Background(), "tcp", fmt.Sprintf("mta-sts.example.com:%d", port))
	if err != nil {
		t.Fatalf("policyDial(allowed) = %v", err)
	}
	c.Close()
	time.Sleep(50 * time.Millisecond)
	if n := accepted.Load(); n != 1 {
		t.Errorf("connections = %d, want 1 (only the allowed dial)", n)
	}
	if dns.Queries() == 0 {
		t.Errorf("the policy host was not resolved through the run's resolver")
	}
}

// adServer answers from rrs like a validating resolver: the AD bit on
// answers (and denials) for names under secure.example. when the query
// has the DO bit (RFC 3225, RFC 6840 §5.7).
func adServer(t *testing.T, lines ...string) string {
	t.Helper()
	rrs := map[string][]mdns.RR{}
	for _, l := range lines {
		rr, err := mdns.NewRR(l)
		if err != nil {
			t.Fatal(err)
		}
		k := strings.ToLower(rr.Header().Name) + "/" + mdns.TypeToString[rr.Header().Rrtype]
		rrs[k] = append(rrs[k], rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(q)
		qq := q.Question[0]
		// A CNAME chain is answered as a recursive resolver does (RFC
		// 1034 §3.6.2), validated only when every name is secure.
		name, secure := strings.ToLower(qq.Name), true
		for range 8 {
			secure = secure && mdns.IsSubDomain("secure.example.", name)
			if a := rrs[name+"/"+mdns.TypeToString[qq.Qtype]]; len(a) > 0 {
				m.Answer = append(m.Answer, a...)
				break
			}
			c := rrs[name+"/CNAME"]
			if len(c) == 0 {
				break
			}
			m.Answer = append(m.Answer, c[0])
			name = strings.ToLower(c[0].(*mdns.CNAME).Target)
		}
		if opt := q.IsEdns0(); opt != nil && opt.Do() && secure {
			m.AuthenticatedData = true
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// TestLookupDANE: TLSA records are used only when the MX RRset, the
// host's addresses and the TLSA answer are all validated (RFC 7672 §2.2).
func TestLookupDANE(t *testing.T) {
	tlsa := "3 1 1 " + strings.Repeat("ab", 32)
	addr := adServer(t,
		"mx.secure.example. 60 IN A 192.0.2.1",
		"_25._tcp.mx.secure.example. 60 IN TLSA "+tlsa,
		"mx.plain.example. 60 IN A 192.0.2.2",
		"_25._tcp.mx.plain.example. 60 IN TLSA "+tlsa,
		"none.secure.example. 60 IN A 192.0.2.3",
	)
	res := &dnscheck.Resolver{Servers: []string{addr}}
	pref := 10
	results := func() []Result {
		var rs []Result
		for _, h := range []string{"mx.secure.example", "mx.plain.example", "none.secure.example", "mx.secure.example"} {
			rs = append(rs, Result{Host: h, Address: "192.0.2.1", Preference: &pref})
		}
		return rs
	}
	p := &Prober{}
	for _, tc := range []struct {
		mxSecure bool
		want     []string // per result: "enforced", "not: <substring>", "none"
	}{
		{true, []string{"enforced", "not: not DNSSEC-validated (an unsigned zone", "none", "enforced"}},
		{false, []string{"not: MX records are not DNSSEC-validated", "not: not DNSSEC-validated (an unsigned zone", "none", "not: MX records"}},
	} {
		rep := &Report{Policy: &policy.Report{Domain: "example", MXSecure: tc.mxSecure}, Results: results()}
		p.lookupDANE(context.Background(), res, rep)
		for i, r := range rep.Results {
			got := "none"
			switch d := r.DANE; {
			case d == nil:
			case d.Enforced:
				got = "enforced"
			default:
				got = "not: " + d.NotEnforced
			}
			w := tc.want[i]
			bad := got != w
			if sub, ok := strings.CutPrefix(w, "not: "); ok {
				bad = !strings.HasPrefix(got, "not: ") || !strings.Contains(got, sub)
			}
			if bad {
				t.Errorf("MX secure %v: %s DANE = %q, want %q", tc.mxSecure, r.Host, got, w)
			}
			if r.DANE != nil && (len(r.DANE.Records) != 1 || r.DANE.Records[0].String() != tlsa) {
				t.Errorf("%s TLSA records = %v, want [%s]", r.Host, r.DANE.Records, tlsa)
			}
		}
	}
}

// TestLookupDANECNAME: an MX host that is an alias has its TLSA records
// looked up at the CNAME-expanded name first when the chain is validated,
// at the original name when the expanded name has none, and only at the
// original name when the chain is not validated (RFC 7672 §2.2.3).
func TestLookupDANECNAME(t *testing.T) {
	target := "3 1 1 " + strings.Repeat("aa", 32)
	orig := "3 1 1 " + strings.Repeat("bb", 32)
	addr := adServer(t,
		"alias.secure.example. 60 IN CNAME mx-ta.secure.example.",
		"mx-ta.secure.example. 60 IN A 192.0.2.1",
		"_25._tcp.mx-ta.secure.example. 60 IN TLSA "+target,
		"_25._tcp.alias.secure.example. 60 IN TLSA "+orig,
		"fallback.secure.example. 60 IN CNAME bare.secure.example.",
		"bare.secure.example. 60 IN A 192.0.2.2",
		"_25._tcp.fallback.secure.example. 60 IN TLSA "+orig,
		"out.secure.example. 60 IN CNAME mx.plain.example.",
		"mx.plain.example. 60 IN A 192.0.2.3",
		"_25._tcp.mx.plain.example. 60 IN TLSA "+target,
		"_25._tcp.out.secure.example. 60 IN TLSA "+orig,
	)
	res := &dnscheck.Resolver{Servers: []string{addr}}
	pref := 10
	for _, tc := range []struct {
		host, name, expanded, record string
		enforced                     bool
	}{
		{"alias.secure.example", "_25._tcp.mx-ta.secure.example", "mx-ta.secure.example", target, true},
		{"fallback.secure.example", "_25._tcp.fallback.secure.example", "bare.secure.example", orig, true},
		{"out.secure.example", "_25._tcp.out.secure.example", "", orig, false},
	} {
		rep := &Report{Policy: &policy.Report{Domain: "example", MXSecure: true},
			Results: []Result{{Host: tc.host, Address: "192.0.2.1", Preference: &pref}}}
		(&Prober{}).lookupDANE(context.Background(), res, rep)
		d := rep.Results[0].DANE
		if d == nil {
			t.Errorf("%s: no DANE report", tc.host)
			continue
		}
		if d.Name != tc.name || d.Expanded != tc.expanded || d.Enforced != tc.enforced ||
			len(d.Records) != 1 || d.Records[0].String() != tc.record {
			t.Errorf("%s: DANE = name %q expanded %q enforced %v records %v, want %q %q %v [%s]",
				tc.host, d.Name, d.Expanded, d.Enforced, d.Records, tc.name, tc.expanded, tc.enforced, tc.record)
		}
	}
}

// TestApplyPolicyDANETACNAME: a DANE-TA(2) match of an alias MX host
// accepts a leaf that names only the CNAME-expanded name (RFC 7672
// §3.2.2), and without the expansion the same chain is a mismatch.
func TestApplyPolicyDANETACNAME(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "lab CA"},
		NotBefore: policyNow.Add(-time.Hour), NotAfter: policyNow.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "mx-ta.example.com"},
		DNSNames: []string{"mx-ta.example.com"}, NotBefore: policyNow.Add(-time.Hour), NotAfter: policyNow.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	h := sha256.Sum256(ca.Raw)
	ta := dane.Record{Usage: 2, Selector: 0, MatchingType: 1, Data: hex.EncodeToString(h[:])}
	pref := 10
	for _, tc := range []struct {
		expanded string
		want     string
	}{
		{"mx-ta.example.com", "info dane-match"},
		{"", "critical dane-mismatch"},
	} {
		r := Result{Host: "alias.example.com", Address: "192.0.2.1", Preference: &pref, Outcome: OK,
			Phases: map[string]time.Duration{"ehlo": 1}, Capabilities: []string{"STARTTLS"},
			TLS: &TLSInfo{Chain: []*x509.Certificate{leaf, ca}, VerifyError: "not trusted"},
			DANE: &policy.DANEReport{Name: "_25._tcp.mx-ta.example.com", Expanded: tc.expanded,
				Records: []dane.Record{ta}, Secure: true, Enforced: true}}
		rep := &Report{Results: []Result{r}}
		var got []string
		for _, f := range applyPolicy(rep, false, policyNow) {
			got = append(got, string(f.Severity)+" "+f.Code)
		}
		if !slices.Contains(got, tc.want) {
			t.Errorf("expanded %q: findings %v, want %q", tc.expanded, got, tc.want)
		}
		d := rep.Results[0].DANE
		if matched := d.Matched != nil && *d.Matched == 0 && *d.MatchDepth == 1; matched != (tc.expanded != "") {
			t.Errorf("expanded %q: DANE = %+v", tc.expanded, d)
		}
	}
}
