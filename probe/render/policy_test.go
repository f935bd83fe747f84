package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/dnscheck/dane"
	"github.com/smtpprobe/smtpprobe/probe"
)

func TestPolicyText(t *testing.T) {
	age := int64(86400)
	zero := 0
	pref := 10
	rec := dane.Record{Usage: 3, Selector: 1, MatchingType: 1, Data: strings.Repeat("ab", 32)}
	rep := &probe.Report{Command: "mx", Target: "example.com", Outcome: probe.OK,
		Policy: &probe.PolicyReport{Domain: "example.com", MXSecure: true,
			MTASTS: probe.MTASTSReport{ID: "20260101", Mode: "enforce", MX: []string{"mx.example.com", "*.example.net"}, MaxAge: &age},
			TLSRPT: probe.TLSRPTReport{RUA: []string{"mailto:tlsrpt@example.com"}}},
		Results: []probe.Result{
			{Host: "mx.example.com", Address: "192.0.2.1", Port: 25, Preference: &pref, Outcome: probe.OK,
				DANE: &probe.DANEReport{Name: "_25._tcp.mx.example.com", Records: []dane.Record{rec}, Secure: true, Enforced: true, Matched: &zero, MatchedRecord: rec.String()}},
			{Host: "mx2.example.com", Address: "192.0.2.2", Port: 25, Preference: &pref, Outcome: probe.OK,
				DANE: &probe.DANEReport{Name: "_25._tcp.mx2.example.com", Records: []dane.Record{rec, rec}, NotEnforced: "the TLSA records are not DNSSEC-validated"}},
		}}
	var b bytes.Buffer
	if err := Text(&b, rep, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"      dane:   1 TLSA record, matched 3 1 1 abab",
		"      dane:   2 TLSA records, not used: the TLSA records are not DNSSEC-validated\n",
		"\nPolicy\n  mta-sts: enforce (id 20260101, max_age 24h, mx mx.example.com *.example.net)\n  tls-rpt: mailto:tlsrpt@example.com\n  dnssec:  MX records validated\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Text() =\n%s\nwant it to contain %q", b.String(), want)
		}
	}
	rep.Policy = &probe.PolicyReport{Domain: "example.com", MTASTS: probe.MTASTSReport{ID: "1", FetchError: "https://mta-sts.example.com/.well-known/mta-sts.txt: connection refused"}}
	b.Reset()
	Text(&b, rep, Options{})
	if want := "  mta-sts: TXT id 1, no policy: https://mta-sts.example.com/.well-known/mta-sts.txt: connection refused\n  tls-rpt: none\n  dnssec:  MX records not validated\n"; !strings.Contains(b.String(), want) {
		t.Errorf("Text() =\n%s\nwant it to contain %q", b.String(), want)
	}
}
