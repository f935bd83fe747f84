package batch

// The combined report carries each run's transport policy (issue 12), and
// a baseline compare of a check catches a changed MTA-STS policy as mx's
// does (assess.Compare, RFC 8461 §3.2 mode and mx).

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

func policyCheck(target, mode string, mx ...string) *Check {
	age := int64(86400)
	rep := &probe.Report{Command: "mx", Target: target, Outcome: probe.OK, Results: []probe.Result{},
		Policy: &policy.Report{Domain: target, MTASTS: policy.MTASTSReport{ID: "1", Mode: mode, MX: mx, MaxAge: &age}}}
	return &Check{Target: target, Module: &config.Module{Name: "mx"}, Job: &job.Job{Command: "mx"}, Report: rep}
}

func TestCombinedPolicy(t *testing.T) {
	// The baseline: a combined report saved as JSON and read back.
	checks := []*Check{policyCheck("a.example", "enforce", "mx.a.example"), policyCheck("b.example", "testing", "*.b.example")}
	for _, c := range checks {
		c.judge(nil, nil)
	}
	saved, err := json.Marshal(combine("check.yaml", time.Now(), checks))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"target":"a.example","module":"mx"`, `"mode":"enforce","mx":["mx.a.example"]`, `"mode":"testing","mx":["*.b.example"]`} {
		if !strings.Contains(string(saved), want) {
			t.Errorf("combined JSON\n%s\nlacks %s", saved, want)
		}
	}
	var base probe.Report
	if err := json.Unmarshal(saved, &base); err != nil {
		t.Fatal(err)
	}
	if len(base.Checks) != 2 || base.Checks[0].Policy == nil || base.Checks[0].Policy.MTASTS.Mode != "enforce" {
		t.Fatalf("read back: checks %+v, want 2 with a.example's policy in enforce mode", base.Checks)
	}

	for _, tc := range []struct {
		name       string
		cur        *Check
		regression bool
		has        []string
	}{
		{"same policy", policyCheck("a.example", "enforce", "mx.a.example"), false, nil},
		{"mode changed", policyCheck("a.example", "testing", "mx.a.example"), true, []string{"[mx a.example]", "from enforce mode", "to testing mode"}},
		{"mx changed", policyCheck("a.example", "enforce", "mx2.a.example"), true, []string{"mx mx.a.example", "mx mx2.a.example"}},
		{"policy gone", policyCheck("a.example", ""), true, []string{"(enforce mode) is no longer available"}},
		{"other target's policy", policyCheck("b.example", "testing", "*.b.example"), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cur.judge(&base, nil)
			rep := combine("check.yaml", time.Now(), []*Check{tc.cur})
			var got []probe.Finding
			for _, f := range rep.Findings {
				if f.Code == dnscheck.CodeRegressionMTASTSPolicy {
					got = append(got, f)
				}
			}
			if !tc.regression {
				if len(got) > 0 {
					t.Errorf("findings %+v, want no regression-mta-sts-policy", got)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != probe.SevCritical || !probetest.ContainsAll(got[0].Message, tc.has) {
				t.Fatalf("findings %+v, want one critical regression-mta-sts-policy containing %q", got, tc.has)
			}
			if s := rep.Status(); s != probe.StatusCritical {
				t.Errorf("status = %v, want CRITICAL", s)
			}
			if !slices.ContainsFunc(rep.Checks, func(c probe.CheckSummary) bool { return c.Policy == tc.cur.Report.Policy }) {
				t.Errorf("checks %+v do not carry the run's policy", rep.Checks)
			}
		})
	}
}
