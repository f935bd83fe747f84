package probe

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
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

func TestApplyThresholds(t *testing.T) {
	mtuOf := func(n int) *MTUInfo { return &MTUInfo{PathMTU: &n, Verdict: mtu.VerdictPMTUDWorking} }
	ms := func(v float64) *time.Duration { d := time.Duration(v * float64(time.Millisecond)); return &d }
	rep := &Report{Results: []Result{
		{Host: "mx1", Address: "192.0.2.1", Outcome: OK, Phases: map[string]time.Duration{"banner": 3500 * time.Millisecond}, PhaseOrder: []string{"banner"}},
		{Host: "mx2", Address: "192.0.2.2", Outcome: ServerTimeout, Phase: "data", Timeout: ms(60000)},
		{Host: "mx3", Address: "192.0.2.3", Outcome: OK, MTUInfo: mtuOf(1400)},
		{Host: "mx4", Address: "192.0.2.4", Outcome: OK, Phases: map[string]time.Duration{"banner": 10 * time.Millisecond}, PhaseOrder: []string{"banner"}},
	}}
	rep.ApplyThresholds(Thresholds{Time: 2 * time.Second, Timeout: 300 * time.Second, MTU: 1500},
		Thresholds{Time: 5 * time.Second, Timeout: 120 * time.Second, MTU: 1280})
	want := map[string]Severity{dnscheck.CodeThresholdTime: SevWarning, dnscheck.CodeThresholdTimeout: SevCritical, dnscheck.CodeThresholdMTU: SevWarning}
	if len(rep.Findings) != len(want) {
		t.Fatalf("ApplyThresholds findings = %+v, want %d", rep.Findings, len(want))
	}
	for _, f := range rep.Findings {
		if want[f.Code] != f.Severity {
			t.Errorf("ApplyThresholds finding %s = %s (%s), want %s", f.Code, f.Severity, f.Message, want[f.Code])
		}
	}
	if s := rep.Status(); s != StatusCritical {
		t.Errorf("Status() = %s, want CRITICAL", s)
	}
}

func TestCompare(t *testing.T) {
	n := func(v int) *int { return &v }
	f := func(v float64) *time.Duration { d := time.Duration(v * float64(time.Millisecond)); return &d }
	base := &Report{Command: "mtu", Target: "example.com", Outcome: OK, Results: []Result{
		{Host: "mx1", Address: "192.0.2.1", Outcome: OK, MTUInfo: &MTUInfo{PathMTU: n(1500), Verdict: mtu.VerdictNoBottleneck}},
		{Host: "mx2", Address: "192.0.2.2", Outcome: OK, MTUInfo: &MTUInfo{PathMTU: n(1400), Verdict: mtu.VerdictPMTUDWorking}},
		{Host: "mx3", Address: "192.0.2.3", Outcome: OK},
		{Host: "mx4", Address: "192.0.2.4", Outcome: ServerTimeout, Phase: "data", Timeout: f(300000)},
		{Host: "mx5", Address: "192.0.2.5", Outcome: OK},
	}}
	cur := &Report{Command: "mtu", Target: "example.com", Outcome: PMTUBlackhole, Results: []Result{
		{Host: "mx1", Address: "192.0.2.1", Outcome: OK, MTUInfo: &MTUInfo{PathMTU: n(1500), Verdict: mtu.VerdictNoBottleneck}},
		{Host: "mx2", Address: "192.0.2.2", Outcome: PMTUBlackhole, MTUInfo: &MTUInfo{PathMTU: n(1400), Verdict: mtu.VerdictBlackhole}},
		{Host: "mx3", Address: "192.0.2.3", Outcome: ConnectTimeout},
		{Host: "mx4", Address: "192.0.2.4", Outcome: ServerTimeout, Phase: "data", Timeout: f(60000)},
		{Host: "mx6", Address: "192.0.2.6", Outcome: OK},
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
	cur2 := &Report{Command: "timeout", Outcome: ServerTimeout, Results: []Result{{Host: "mx4", Address: "192.0.2.4", Outcome: ServerTimeout, Phase: "data", Timeout: f(298000)}}}
	base2 := &Report{Command: "timeout", Outcome: ServerTimeout, Results: []Result{{Host: "mx4", Address: "192.0.2.4", Outcome: ServerTimeout, Phase: "data", Timeout: f(300000)}}}
	if fs := Compare(base2, cur2); len(fs) != 0 {
		t.Errorf("Compare(300 s, 298 s) = %+v, want nothing (within 1 %%)", fs)
	}
	if fs := Compare(base, base); len(fs) != 0 {
		t.Errorf("Compare(base, base) = %+v, want nothing", fs)
	}
}

// TestCompareReverse: the server-to-client direction (MTUInfo.Reverse)
// regresses on its own, with its own codes, while the outbound stays fine.
func TestCompareReverse(t *testing.T) {
	n := func(v int) *int { return &v }
	res := func(out, in Verdict, inMTU int) Result {
		return Result{Host: "mx1", Address: "192.0.2.1", Outcome: OK, MTUInfo: &MTUInfo{PathMTU: n(1500), Verdict: out,
			Reverse: &MTUReverse{PathMTU: n(inMTU), Verdict: in}}}
	}
	for _, tc := range []struct {
		name      string
		base, cur Result
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
			base := &Report{Command: "mtu", Target: "example.com", Outcome: OK, Results: []Result{tc.base}}
			cur := &Report{Command: "mtu", Target: "example.com", Outcome: OK, Results: []Result{tc.cur}}
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
	res := func(out Verdict, outT *[2]int, in Verdict, inT *[2]int, probes ...MTUProbe) Result {
		return Result{Host: "mx1", Address: "192.0.2.1", Outcome: OK, MTUInfo: &MTUInfo{PathMTU: n(1400), Verdict: out, Tested: outT,
			Method: mtu.MethodTCP, Probes: probes,
			Reverse: &MTUReverse{PathMTU: n(1400), Verdict: in, Tested: inT, Method: mtu.MethodTCP}}}
	}
	full := rng(576, 1500)
	for _, tc := range []struct {
		name      string
		base, cur Result
		want      []string
		hint      string // in the message
	}{
		{"pmtud-working to mss-clamped (the server's cache)",
			res(mtu.VerdictPMTUDWorking, full, mtu.VerdictPMTUDWorking, full),
			res(mtu.VerdictMSSClamped, rng(576, 1400), mtu.VerdictPMTUDWorking, full, MTUProbe{Size: 1401, Result: mtu.ProbeClamped, Limit: mtu.LimitPeerMSS}),
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
			base := &Report{Command: "mtu", Target: "example.com", Outcome: OK, Results: []Result{tc.base}}
			cur := &Report{Command: "mtu", Target: "example.com", Outcome: OK, Results: []Result{tc.cur}}
			var got []string
			var msg string
			for _, f := range Compare(base, cur) {
				got = append(got, f.Code)
				if f.Code == dnscheck.CodeRegressionUnverified {
					msg = f.Message
					if f.Severity != SevWarning {
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
