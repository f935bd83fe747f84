package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/dnscheck/dane"
	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/probe"
)

func TestPolicyText(t *testing.T) {
	age := int64(86400)
	zero := 0
	pref := 10
	rec := dane.Record{Usage: 3, Selector: 1, MatchingType: 1, Data: strings.Repeat("ab", 32)}
	rep := &probe.Report{Command: "mx", Target: "example.com", Outcome: probe.OK,
		Policy: &policy.Report{Domain: "example.com", MXSecure: true,
			MTASTS: policy.MTASTSReport{ID: "20260101", Mode: "enforce", MX: []string{"mx.example.com", "*.example.net"}, MaxAge: &age},
			TLSRPT: policy.TLSRPTReport{RUA: []string{"mailto:tlsrpt@example.com"}}},
		Results: []probe.Result{
			{Host: "mx.example.com", Address: "192.0.2.1", Port: 25, Preference: &pref, Outcome: probe.OK,
				DANE: &policy.DANEReport{Name: "_25._tcp.mx.example.com", Records: []dane.Record{rec}, Secure: true, Enforced: true, Matched: &zero, MatchedRecord: rec.String()}},
			{Host: "mx2.example.com", Address: "192.0.2.2", Port: 25, Preference: &pref, Outcome: probe.OK,
				DANE: &policy.DANEReport{Name: "_25._tcp.mx2.example.com", Records: []dane.Record{rec, rec}, NotEnforced: "the TLSA records are not DNSSEC-validated"}},
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
	rep.Policy = &policy.Report{Domain: "example.com", MTASTS: policy.MTASTSReport{ID: "1", FetchError: "https://mta-sts.example.com/.well-known/mta-sts.txt: connection refused"}}
	b.Reset()
	Text(&b, rep, Options{})
	if want := "  mta-sts: TXT id 1, no policy: https://mta-sts.example.com/.well-known/mta-sts.txt: connection refused\n  tls-rpt: none\n  dnssec:  MX records not validated\n"; !strings.Contains(b.String(), want) {
		t.Errorf("Text() =\n%s\nwant it to contain %q", b.String(), want)
	}
}

// TestPolicyBrief: the one line of a run's policy in check's table and
// Nagios output.
func TestPolicyBrief(t *testing.T) {
	zero := 0
	rec := dane.Record{Usage: 2, Selector: 0, MatchingType: 1, Data: strings.Repeat("cd", 32)}
	enforced := func(matched bool) *policy.DANEReport {
		d := &policy.DANEReport{Records: []dane.Record{rec}, Secure: true, Enforced: true}
		if matched {
			d.Matched = &zero
		}
		return d
	}
	for _, tc := range []struct {
		name string
		rep  *probe.Report
		want string
	}{
		{"no lookups", &probe.Report{Results: []probe.Result{{}}}, ""},
		{"nil", nil, ""},
		{"nothing published", &probe.Report{Policy: &policy.Report{}}, "no mta-sts, no dane"},
		{"testing, one of two matched", &probe.Report{Policy: &policy.Report{MTASTS: policy.MTASTSReport{Mode: "testing"}},
			Results: []probe.Result{{DANE: enforced(true)}, {DANE: enforced(false)}, {}}}, "mta-sts testing, dane 1 of 2 addresses matched"},
		{"fetch failed, TLSA not validated", &probe.Report{Policy: &policy.Report{MTASTS: policy.MTASTSReport{ID: "1", FetchError: "connection refused"}},
			Results: []probe.Result{{DANE: &policy.DANEReport{Records: []dane.Record{rec}, NotEnforced: "unsigned"}}}},
			"mta-sts policy unavailable, dane not used (TLSA records not validated)"},
		{"bad record", &probe.Report{Policy: &policy.Report{MTASTS: policy.MTASTSReport{RecordError: "no v=STSv1"}}}, "mta-sts record unusable, no dane"},
	} {
		if got := policyBrief(tc.rep); got != tc.want {
			t.Errorf("%s: policyBrief = %q, want %q", tc.name, got, tc.want)
		}
	}
}
