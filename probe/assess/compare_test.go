package assess

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/dnscheck/dane"
	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
)

func TestCompare(t *testing.T) {
	n := func(v int) *int { return &v }
	f := func(v float64) *time.Duration { d := time.Duration(v * float64(time.Millisecond)); return &d }
	base := &probe.Report{Command: "mtu", Target: "example.com", Outcome: probe.OK, Results: []probe.Result{
		{Host: "mx1", Address: "192.0.2.1", Outcome: probe.OK, MTUInfo: &probe.MTUInfo{PathMTU: n(1500), Verdict: mtu.VerdictNoBottleneck}},
		{Host: "mx2", Address: "192.0.2.2", Outcome: probe.OK, MTUInfo: &probe.MTUInfo{PathMTU: n(1400), Verdict: mtu.VerdictPMTUDWorking}},
		{Host: "mx3", Address: "192.0.2.3", Outcome: probe.OK},
		{Host: "mx4", Address: "192.0.2.4", Outcome: probe.ServerTimeout, Phase: "data", Timeout: f(300000)},
		{Host: "mx5", Address: "192.0.2.5", Outcome: probe.OK},
	}}
	cur := &probe.Report{Command: "mtu", Target: "example.com", Outcome: probe.PMTUBlackhole, Results: []probe.Result{
		{Host: "mx1", Address: "192.0.2.1", Outcome: probe.OK, MTUInfo: &probe.MTUInfo{PathMTU: n(1500), Verdict: mtu.VerdictNoBottleneck}},
		{Host: "mx2", Address: "192.0.2.2", Outcome: probe.PMTUBlackhole, MTUInfo: &probe.MTUInfo{PathMTU: n(1400), Verdict: mtu.VerdictBlackhole}},
		{Host: "mx3", Address: "192.0.2.3", Outcome: probe.ConnectTimeout},
		{Host: "mx4", Address: "192.0.2.4", Outcome: probe.ServerTimeout, Phase: "data", Timeout: f(60000)},
		{Host: "mx6", Address: "192.0.2.6", Outcome: probe.OK},
	}}
	got := map[string]int{}
	for _, f := range Compare(base, cur) {
		got[f.Code]++
	}
	want := map[string]int{dnscheck.CodeRegressionOutcome: 2, dnscheck.CodeRegressionPMTUBlackhole: 1, dnscheck.CodeRegressionServerTimeout: 1, dnscheck.CodeBaselineMissing: 1, dnscheck.CodeBaselineNew: 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Compare: %d %s findings, want %d (all: %v)", got[k], k, v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Compare findings = %v, want %v", got, want)
	}
	// Noise: 1 % of 300 s is 3 s; a 2 s change is not a regression, and
	// the same run compared with itself yields nothing.
	cur2 := &probe.Report{Command: "timeout", Outcome: probe.ServerTimeout, Results: []probe.Result{{Host: "mx4", Address: "192.0.2.4", Outcome: probe.ServerTimeout, Phase: "data", Timeout: f(298000)}}}
	base2 := &probe.Report{Command: "timeout", Outcome: probe.ServerTimeout, Results: []probe.Result{{Host: "mx4", Address: "192.0.2.4", Outcome: probe.ServerTimeout, Phase: "data", Timeout: f(300000)}}}
	if fs := Compare(base2, cur2); len(fs) != 0 {
		t.Errorf("Compare(300 s, 298 s) = %+v, want nothing (within 1 %%)", fs)
	}
	if fs := Compare(base, base); len(fs) != 0 {
		t.Errorf("Compare(base, base) = %+v, want nothing", fs)
	}
}

// TestCompareReverse: the server-to-client direction (probe.MTUInfo.Reverse)
// regresses on its own, with its own codes, while the outbound stays fine.
func TestCompareReverse(t *testing.T) {
	n := func(v int) *int { return &v }
	res := func(out, in probe.Verdict, inMTU int) probe.Result {
		return probe.Result{Host: "mx1", Address: "192.0.2.1", Outcome: probe.OK, MTUInfo: &probe.MTUInfo{PathMTU: n(1500), Verdict: out,
			Reverse: &probe.MTUReverse{PathMTU: n(inMTU), Verdict: in}}}
	}
	for _, tc := range []struct {
		name      string
		base, cur probe.Result
		want      []string
	}{
		{"became a black hole", res(mtu.VerdictNoBottleneck, mtu.VerdictNoBottleneck, 1500), res(mtu.VerdictNoBottleneck, mtu.VerdictBlackhole, 1400),
			[]string{dnscheck.CodeRegressionReversePMTUBlackhole, dnscheck.CodeRegressionReversePathMTU}},
		{"path MTU dropped", res(mtu.VerdictNoBottleneck, mtu.VerdictPMTUDWorking, 1492), res(mtu.VerdictNoBottleneck, mtu.VerdictPMTUDWorking, 1400),
			[]string{dnscheck.CodeRegressionReversePathMTU}},
		{"same", res(mtu.VerdictNoBottleneck, mtu.VerdictMSSClamped, 1400), res(mtu.VerdictNoBottleneck, mtu.VerdictMSSClamped, 1400), nil},
		{"improved", res(mtu.VerdictNoBottleneck, mtu.VerdictBlackhole, 1400), res(mtu.VerdictNoBottleneck, mtu.VerdictNoBottleneck, 1500), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := &probe.Report{Command: "mtu", Target: "example.com", Outcome: probe.OK, Results: []probe.Result{tc.base}}
			cur := &probe.Report{Command: "mtu", Target: "example.com", Outcome: probe.OK, Results: []probe.Result{tc.cur}}
			var got []string
			for _, f := range Compare(base, cur) {
				got = append(got, f.Code)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Compare(%s) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

// TestCompareUnverified: a verdict less tested than the baseline's is a
// regression-unverified warning (issue 17: the firewall workflow with the
// server's cache intact), in either direction; a proven regression keeps its
// critical codes and is not doubled.
func TestCompareUnverified(t *testing.T) {
	n := func(v int) *int { return &v }
	rng := func(lo, hi int) *[2]int { return &[2]int{lo, hi} }
	res := func(out probe.Verdict, outT *[2]int, in probe.Verdict, inT *[2]int, probes ...probe.MTUProbe) probe.Result {
		return probe.Result{Host: "mx1", Address: "192.0.2.1", Outcome: probe.OK, MTUInfo: &probe.MTUInfo{PathMTU: n(1400), Verdict: out, Tested: outT,
			Method: mtu.MethodTCP, Probes: probes,
			Reverse: &probe.MTUReverse{PathMTU: n(1400), Verdict: in, Tested: inT, Method: mtu.MethodTCP}}}
	}
	full := rng(576, 1500)
	for _, tc := range []struct {
		name      string
		base, cur probe.Result
		want      []string
		hint      string // in the message
	}{
		{"pmtud-working to mss-clamped (the server's cache)",
			res(mtu.VerdictPMTUDWorking, full, mtu.VerdictPMTUDWorking, full),
			res(mtu.VerdictMSSClamped, rng(576, 1400), mtu.VerdictPMTUDWorking, full, probe.MTUProbe{Size: 1401, Result: mtu.ProbeClamped, Limit: mtu.LimitPeerMSS}),
			[]string{dnscheck.CodeRegressionUnverified}, "only the server's administrator can flush"},
		{"inbound pmtud-working to untested (our cache)",
			res(mtu.VerdictPMTUDWorking, full, mtu.VerdictPMTUDWorking, full),
			res(mtu.VerdictPMTUDWorking, full, mtu.VerdictUntested, rng(576, 576)),
			[]string{dnscheck.CodeRegressionUnverified}, "server to client"},
		{"smaller tested range",
			res(mtu.VerdictNoBottleneck, full, mtu.VerdictNoBottleneck, full),
			res(mtu.VerdictNoBottleneck, rng(576, 1450), mtu.VerdictNoBottleneck, full),
			[]string{dnscheck.CodeRegressionUnverified}, "sizes 1451-1500"},
		{"a proven black hole stays critical only",
			res(mtu.VerdictPMTUDWorking, full, mtu.VerdictPMTUDWorking, full),
			res(mtu.VerdictBlackhole, full, mtu.VerdictPMTUDWorking, full),
			[]string{dnscheck.CodeRegressionPMTUBlackhole}, ""},
		{"same", res(mtu.VerdictPMTUDWorking, full, mtu.VerdictPMTUDWorking, full), res(mtu.VerdictPMTUDWorking, full, mtu.VerdictPMTUDWorking, full), nil, ""},
		{"mss-clamped before and after", res(mtu.VerdictMSSClamped, rng(576, 1400), mtu.VerdictPMTUDWorking, full),
			res(mtu.VerdictMSSClamped, rng(576, 1400), mtu.VerdictPMTUDWorking, full), nil, ""},
		{"a baseline without ranges", res(mtu.VerdictPMTUDWorking, nil, mtu.VerdictPMTUDWorking, nil), res(mtu.VerdictPMTUDWorking, full, mtu.VerdictPMTUDWorking, full), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := &probe.Report{Command: "mtu", Target: "example.com", Outcome: probe.OK, Results: []probe.Result{tc.base}}
			cur := &probe.Report{Command: "mtu", Target: "example.com", Outcome: probe.OK, Results: []probe.Result{tc.cur}}
			var got []string
			var msg string
			for _, f := range Compare(base, cur) {
				got = append(got, f.Code)
				if f.Code == dnscheck.CodeRegressionUnverified {
					msg = f.Message
					if f.Severity != probe.SevWarning {
						t.Errorf("regression-unverified severity %s, want warning", f.Severity)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Compare(%s) = %v, want %v", tc.name, got, tc.want)
			}
			if tc.hint != "" && !strings.Contains(msg, tc.hint) {
				t.Errorf("Compare(%s) message %q lacks %q", tc.name, msg, tc.hint)
			}
		})
	}
}

func TestComparePolicy(t *testing.T) {
	zero := 0
	base := &probe.Report{Target: "example.com", Policy: &policy.Report{MTASTS: policy.MTASTSReport{Mode: "enforce", MX: []string{"mx.example.com"}}},
		Results: []probe.Result{{Host: "mx.example.com", Address: "192.0.2.1", DANE: &policy.DANEReport{Matched: &zero, MatchedRecord: "3 1 1 ab"}}}}
	same := &probe.Report{Target: "example.com", Policy: &policy.Report{MTASTS: policy.MTASTSReport{Mode: "enforce", MX: []string{"mx.example.com"}}},
		Results: []probe.Result{{Host: "mx.example.com", Address: "192.0.2.1", DANE: &policy.DANEReport{Matched: &zero, MatchedRecord: "3 1 1 ab"}}}}
	if fs := comparePolicy(base, same); len(fs) != 0 {
		t.Errorf("comparePolicy(same) = %v, want nothing", fs)
	}
	changed := &probe.Report{Target: "example.com", Policy: &policy.Report{MTASTS: policy.MTASTSReport{Mode: "testing", MX: []string{"mx.example.com"}}},
		Results: []probe.Result{{Host: "mx.example.com", Address: "192.0.2.1", DANE: &policy.DANEReport{MatchError: "no TLSA record matches the certificate chain"}}}}
	var got []string
	for _, f := range Compare(base, changed) {
		got = append(got, string(f.Severity)+" "+f.Code)
	}
	want := []string{"critical regression-mta-sts-policy", "critical regression-dane-match"}
	if !slices.Equal(got, want) {
		t.Errorf("Compare(policy changed, match lost) = %q, want %q", got, want)
	}
	gone := &probe.Report{Target: "example.com", Policy: &policy.Report{MTASTS: policy.MTASTSReport{FetchError: "https://mta-sts.example.com/...: 404"}}}
	if fs := comparePolicy(base, gone); len(fs) == 0 || !strings.Contains(fs[0].Message, "no longer available") {
		t.Errorf("comparePolicy(policy gone) = %v, want a regression", fs)
	}
}

// TestPolicyJSON: the policy and DANE objects survive a saved baseline
// (JSON out and back in), so Compare can see a changed policy.
func TestPolicyJSON(t *testing.T) {
	zero, age := 0, int64(86400)
	rep := &probe.Report{Command: "mx", Target: "example.com", Results: []probe.Result{{Host: "mx.example.com", Address: "192.0.2.1",
		DANE: &policy.DANEReport{Name: "_25._tcp.mx.example.com", Records: []dane.Record{{Usage: 3, Selector: 1, MatchingType: 1, Data: "ab"}}, Secure: true, Enforced: true, Matched: &zero, MatchedRecord: "3 1 1 ab"}}},
		Policy: &policy.Report{Domain: "example.com", MXSecure: true, MTASTS: policy.MTASTSReport{ID: "1", Mode: "enforce", MX: []string{"mx.example.com"}, MaxAge: &age},
			TLSRPT: policy.TLSRPTReport{RUA: []string{"mailto:r@example.com"}}}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"policy":{"domain":"example.com","mx_secure":true,"mta_sts":{"id":"1","mode":"enforce","mx":["mx.example.com"],"max_age":86400}`,
		`"dane":{"name":"_25._tcp.mx.example.com","records":[{"usage":3,"selector":1,"matching_type":1,"data":"ab"}],"secure":true,"enforced":true,"matched":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("json.Marshal(report) = %s, want it to contain %s", b, want)
		}
	}
	var back probe.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if fs := Compare(rep, &back); len(fs) != 0 {
		t.Errorf("Compare(report, report read back) = %v, want nothing", fs)
	}
	if back.Policy == nil || back.Policy.MTASTS.Mode != "enforce" || back.Results[0].DANE == nil || back.Results[0].DANE.Matched == nil {
		t.Errorf("report read back: policy %+v, dane %+v; want both", back.Policy, back.Results[0].DANE)
	}
}
