package e2e

// End-to-end tests of the transport policies of `smtpprobe mx` (issue 12): the real
// binary in the lab's client namespace, real Postfix, a DNSSEC-signed zone served by
// an authoritative unbound, a validating unbound as --resolver, and MTA-STS policies
// served over HTTPS by openssl s_server (testdata/lab/policy.sh).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// policyDoc is the policy part of `smtpprobe mx --json`.
type policyDoc struct {
	Policy *struct {
		Domain   string `json:"domain"`
		MXSecure bool   `json:"mx_secure"`
		MTASTS   struct {
			TXT         []string `json:"txt"`
			ID          string   `json:"id"`
			RecordError string   `json:"record_error"`
			URL         string   `json:"url"`
			Mode        string   `json:"mode"`
			MX          []string `json:"mx"`
			MaxAge      *int64   `json:"max_age"`
			FetchError  string   `json:"fetch_error"`
		} `json:"mta_sts"`
		TLSRPT struct {
			RUA   []string `json:"rua"`
			Error string   `json:"error"`
		} `json:"tls_rpt"`
	} `json:"policy"`
	Results []struct {
		Host    string `json:"host"`
		Address string `json:"address"`
		DANE    *struct {
			Name     string `json:"name"`
			Expanded string `json:"expanded"`
			Records  []struct {
				Usage        int    `json:"usage"`
				Selector     int    `json:"selector"`
				MatchingType int    `json:"matching_type"`
				Data         string `json:"data"`
			} `json:"records"`
			Secure        bool   `json:"secure"`
			Enforced      bool   `json:"enforced"`
			NotEnforced   string `json:"not_enforced"`
			Matched       *int   `json:"matched"`
			MatchedRecord string `json:"matched_record"`
			MatchDepth    *int   `json:"match_depth"`
			MatchError    string `json:"match_error"`
		} `json:"dane"`
	} `json:"results"`
}

func TestE2EPolicy(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	bin := smtpprobeBinary(t)
	resolver := l.Env["LAB_POLICY_DNS"]
	if resolver == "" {
		t.Fatalf("lab.sh up printed no LAB_POLICY_DNS (policy.sh)")
	}
	const (
		notDeliver = "senders honouring MTA-STS will not deliver to it"
		defer_     = "validating senders defer mail to it"
	)
	type want struct {
		sev, code string
		has       []string // substrings of the message
	}
	for _, tc := range []struct {
		name, domain string
		args         []string
		resolver     string // default: the validating unbound
		exit         int
		findings     []want   // present
		absent       []string // codes that must not be there
		maxSev       string   // the worst severity among the findings
		check        func(t *testing.T, doc policyDoc)
	}{
		{name: "enforce, all right", domain: "sts-enforce.plain.lab.example", exit: 0,
			findings: []want{{"info", dnscheck.CodeMTASTSPolicy, []string{"enforce mode", "mx1.lab.example"}}, {"info", dnscheck.CodeTLSRPT, []string{"mailto:tlsrpt@lab.example"}}},
			absent:   []string{dnscheck.CodeMTASTSCertInvalid, dnscheck.CodeMTASTSMXNotListed, dnscheck.CodeTLSVerifyFailed}, maxSev: "info",
			check: func(t *testing.T, doc policyDoc) {
				p := doc.Policy
				if p == nil || p.MTASTS.Mode != "enforce" || !slices.Equal(p.MTASTS.MX, []string{"mx1.lab.example"}) ||
					p.MTASTS.MaxAge == nil || *p.MTASTS.MaxAge != 86400 || p.MTASTS.ID != "20261202T60" ||
					p.MTASTS.URL != "https://mta-sts.sts-enforce.plain.lab.example/.well-known/mta-sts.txt" {
					t.Errorf("policy = %+v, want enforce, mx mx1.lab.example, max_age 86400, id 20261202T60", p)
				}
				if p != nil && !slices.Equal(p.TLSRPT.RUA, []string{"mailto:tlsrpt@lab.example"}) {
					t.Errorf("policy.tls_rpt = %+v, want rua mailto:tlsrpt@lab.example", p.TLSRPT)
				}
			}},
		{name: "enforce, MX outside the policy", domain: "sts-unlisted.plain.lab.example", exit: 2,
			findings: []want{{"critical", dnscheck.CodeMTASTSMXNotListed, []string{"mx1.lab.example", "mail.example.net", notDeliver}}}, maxSev: "critical"},
		{name: "enforce, certificate not valid for the MX name", domain: "sts-badcert.plain.lab.example", exit: 2,
			findings: []want{{"critical", dnscheck.CodeMTASTSCertInvalid, []string{"nocert.plain.lab.example", "enforce mode", notDeliver}}},
			absent:   []string{dnscheck.CodeMTASTSMXNotListed}, maxSev: "critical"},
		{name: "testing mode", domain: "sts-testing.plain.lab.example", exit: 1,
			findings: []want{{"warning", dnscheck.CodeMTASTSCertInvalid, []string{"testing mode", "still deliver"}}}, maxSev: "warning"},
		{name: "TXT record, policy fetch fails", domain: "sts-nofetch.plain.lab.example", exit: 1,
			findings: []want{{"warning", dnscheck.CodeMTASTSPolicyUnavailable, []string{"id 20261202T64", "connection refused", "RFC 8461 §3.3, §5.1"}}}, maxSev: "warning",
			check: func(t *testing.T, doc policyDoc) {
				if p := doc.Policy; p == nil || p.MTASTS.Mode != "" || !strings.Contains(p.MTASTS.FetchError, "198.18.3.64:443") {
					t.Errorf("policy = %+v, want no mode and a fetch error naming 198.18.3.64:443", p)
				}
			}},
		{name: "DANE-EE matching", domain: "dane-ok.sec.lab.example", exit: 0,
			findings: []want{{"info", dnscheck.CodeDANEMatch, []string{"3 1 1 "}}, {"info", dnscheck.CodeTLSVerifyFailed, nil}}, maxSev: "info",
			check: func(t *testing.T, doc policyDoc) {
				if doc.Policy == nil || !doc.Policy.MXSecure {
					t.Errorf("policy = %+v, want mx_secure", doc.Policy)
				}
				for _, r := range doc.Results {
					if d := r.DANE; d == nil || !d.Secure || !d.Enforced || d.Matched == nil || *d.Matched != 0 || len(d.Records) != 1 {
						t.Errorf("result %s dane = %+v, want secure, enforced, record 0 matched", r.Address, d)
					}
				}
			}},
		{name: "DANE mismatch in a signed zone", domain: "dane-bad.sec.lab.example", exit: 2,
			findings: []want{{"critical", dnscheck.CodeDANEMismatch, []string{"mx-bad.sec.lab.example", "no TLSA record matches", defer_}}}, maxSev: "critical",
			check: func(t *testing.T, doc policyDoc) {
				for _, r := range doc.Results {
					if d := r.DANE; d == nil || !d.Enforced || d.Matched != nil || d.MatchError == "" {
						t.Errorf("result %s dane = %+v, want enforced, nothing matched, a match error", r.Address, d)
					}
				}
			}},
		// DANE-TA(2): the server at 198.18.3.42 sends a leaf from the lab intermediate CA
		// and the intermediate (testdata/lab/policy.sh); RFC 7672 §3.1.2, §3.2.2.
		{name: "DANE-TA matching, 2 0 1 of the intermediate", domain: "dane-ta.sec.lab.example", exit: 0,
			findings: []want{{"info", dnscheck.CodeDANEMatch, []string{"mx-ta.sec.lab.example [198.18.3.42]", "TLSA record 2 0 1 "}}},
			absent:   []string{dnscheck.CodeDANEMismatch, dnscheck.CodeTLSVerifyFailed}, maxSev: "info",
			check: daneTAMatch("2 0 1 ")},
		{name: "DANE-TA matching, 2 1 1 of the intermediate's key", domain: "dane-ta-spki.sec.lab.example", exit: 0,
			findings: []want{{"info", dnscheck.CodeDANEMatch, []string{"mx-ta-spki.sec.lab.example [198.18.3.42]", "TLSA record 2 1 1 "}}},
			absent:   []string{dnscheck.CodeDANEMismatch}, maxSev: "info",
			check: daneTAMatch("2 1 1 ")},
		{name: "DANE-TA with the TLSA of another CA", domain: "dane-ta-bad.sec.lab.example", exit: 2,
			findings: []want{{"critical", dnscheck.CodeDANEMismatch, []string{"mx-ta-bad.sec.lab.example [198.18.3.42]", "no TLSA record matches the certificate chain", defer_}}},
			absent:   []string{dnscheck.CodeDANEMatch, dnscheck.CodeTLSVerifyFailed}, maxSev: "critical",
			check: func(t *testing.T, doc policyDoc) {
				for _, r := range doc.Results {
					if d := r.DANE; d == nil || !d.Enforced || d.Matched != nil || len(d.Records) != 1 || d.Records[0].Usage != 2 {
						t.Errorf("result %s dane = %+v, want one enforced DANE-TA record, nothing matched", r.Address, d)
					}
				}
			}},
		{name: "DANE-TA, the leaf does not name the MX host", domain: "dane-ta-name.sec.lab.example", exit: 2,
			findings: []want{{"critical", dnscheck.CodeDANEMismatch, []string{"mx-ta-name.sec.lab.example [198.18.3.42]", "a DANE-TA record matches the chain, but the leaf does not verify", "not mx-ta-name.sec.lab.example", defer_}}},
			absent:   []string{dnscheck.CodeDANEMatch}, maxSev: "critical",
			check: func(t *testing.T, doc policyDoc) {
				for _, r := range doc.Results {
					if d := r.DANE; d == nil || !d.Enforced || d.Matched != nil || !strings.Contains(d.MatchError, "mx-ta-name.sec.lab.example") {
						t.Errorf("result %s dane = %+v, want enforced, nothing matched, a match error naming the MX host", r.Address, d)
					}
				}
			}},
		// An alias MX host in the signed zone: TLSA at the CNAME-expanded name, and the
		// leaf names only that name (RFC 7672 §2.2.3, §3.2.2). The CNAME MX itself is a
		// warning (RFC 2181 §10.3), so the exit code is 1, not 0.
		{name: "DANE-TA through a CNAME'd MX host", domain: "dane-ta-cname.sec.lab.example", exit: 1,
			findings: []want{{"info", dnscheck.CodeDANEMatch, []string{"mx-ta-alias.sec.lab.example [198.18.3.42]", "TLSA record 2 0 1 "}},
				{"warning", dnscheck.CodeMXCNAME, []string{"mx-ta-alias.sec.lab.example", "mx-ta.sec.lab.example"}}},
			absent: []string{dnscheck.CodeDANEMismatch}, maxSev: "warning",
			check: func(t *testing.T, doc policyDoc) {
				daneTAMatch("2 0 1 ")(t, doc)
				for _, r := range doc.Results {
					if d := r.DANE; d == nil || d.Name != "_25._tcp.mx-ta.sec.lab.example" || d.Expanded != "mx-ta.sec.lab.example" {
						t.Errorf("result %s dane = %+v, want name _25._tcp.mx-ta.sec.lab.example, expanded mx-ta.sec.lab.example", r.Address, d)
					}
				}
			}},
		{name: "TLSA in an unsigned zone", domain: "dane-unsigned.plain.lab.example", exit: 0,
			findings: []want{{"info", dnscheck.CodeDANENotValidated, []string{"not DNSSEC-validated"}}}, absent: []string{dnscheck.CodeDANEMatch, dnscheck.CodeDANEMismatch}, maxSev: "info",
			check: func(t *testing.T, doc policyDoc) {
				for _, r := range doc.Results {
					if d := r.DANE; d == nil || d.Secure || d.Enforced || d.Matched != nil {
						t.Errorf("result %s dane = %+v, want insecure, not enforced, not matched", r.Address, d)
					}
				}
			}},
		{name: "secure TLSA behind an unsigned MX RRset", domain: "insecure-mx.plain.lab.example", exit: 0,
			findings: []want{{"info", dnscheck.CodeDANENotValidated, []string{"mx-bad.sec.lab.example", "MX records are not DNSSEC-validated", "RFC 7672 §2.2.1"}}},
			absent:   []string{dnscheck.CodeDANEMismatch}, maxSev: "info",
			check: func(t *testing.T, doc policyDoc) {
				for _, r := range doc.Results {
					if d := r.DANE; d == nil || !d.Secure || d.Enforced {
						t.Errorf("result %s dane = %+v, want secure TLSA, not enforced", r.Address, d)
					}
				}
			}},
		{name: "TLSA through a resolver that does not validate", domain: "dane-ok.sec.lab.example", resolver: "198.18.3.54", exit: 0,
			args:     []string{"--no-ptr"},
			findings: []want{{"info", dnscheck.CodeDANENotValidated, nil}}, absent: []string{dnscheck.CodeDANEMatch}, maxSev: "info"},
		{name: "enforce, no STARTTLS", domain: "sts-notls.plain.lab.example", exit: 2,
			findings: []want{{"critical", dnscheck.CodeMTASTSNoStartTLS, []string{"notls.plain.lab.example", "offers no STARTTLS", notDeliver}}},
			absent:   []string{dnscheck.CodeStartTLSNotOffered}, maxSev: "critical"},
		{name: "secure TLSA, no STARTTLS", domain: "dane-notls.sec.lab.example", exit: 2,
			findings: []want{{"critical", dnscheck.CodeDANENoStartTLS, []string{"mx-notls.sec.lab.example", defer_}}}, maxSev: "critical"},
		{name: "opportunistic, no STARTTLS", domain: "cleartext.plain.lab.example", exit: 1,
			findings: []want{{"warning", dnscheck.CodeStartTLSNotOffered, []string{"notls.plain.lab.example", "in the clear"}}}, maxSev: "warning"},
		{name: "opportunistic TLS, unverifiable certificate", domain: "opportunistic.plain.lab.example", exit: 0,
			findings: []want{{"info", dnscheck.CodeTLSVerifyFailed, []string{"nocert.plain.lab.example"}}}, absent: []string{dnscheck.CodeMTASTSPolicy}, maxSev: "info"},
		{name: "--no-policy skips the lookups", domain: "sts-badcert.plain.lab.example", args: []string{"--no-policy"}, exit: 0,
			findings: []want{{"info", dnscheck.CodeTLSVerifyFailed, nil}}, absent: []string{dnscheck.CodeMTASTSCertInvalid, dnscheck.CodeMTASTSPolicy}, maxSev: "info",
			check: func(t *testing.T, doc policyDoc) {
				if doc.Policy != nil {
					t.Errorf("policy = %+v with --no-policy, want none", doc.Policy)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.resolver
			if res == "" {
				res = resolver
			}
			args := append([]string{tc.domain, "--json", "--resolver", res + ":53", "--connect-timeout", "2s", "--timeout", "10s"}, tc.args...)
			r := runMXBinary(t, l, bin, args...)
			t.Logf("case %q: mx %s: exit %d", tc.name, tc.domain, r.exit)
			if r.exit != tc.exit {
				t.Errorf("mx(%s) exit = %d, want %d\nstdout:\n%s\nstderr:\n%s", r.in, r.exit, tc.exit, r.stdout, r.stderr)
			}
			rep := decodeReport(t, r)
			if rep.Outcome != "ok" {
				t.Errorf("mx(%s) outcome = %q, want ok: the policy verdict is in the findings, the sessions succeeded", r.in, rep.Outcome)
			}
			worst := ""
			rank := map[string]int{"": 0, "info": 1, "warning": 2, "critical": 3}
			for _, f := range rep.Findings {
				if rank[f.Severity] > rank[worst] {
					worst = f.Severity
				}
				if slices.Contains(tc.absent, f.Code) {
					t.Errorf("mx(%s) has finding %s %s: %s; want none with that code", r.in, f.Severity, f.Code, f.Message)
				}
				if strings.Contains(f.Message, "--") {
					t.Errorf("mx(%s) finding %q names a flag", r.in, f.Message)
				}
			}
			if worst != tc.maxSev {
				t.Errorf("mx(%s) worst finding severity = %q, want %q; findings %q", r.in, worst, tc.maxSev, findingCodes(rep))
			}
			for _, w := range tc.findings {
				found := false
				for _, f := range rep.Findings {
					if f.Code == w.code && f.Severity == w.sev && probetest.ContainsAll(f.Message, w.has) {
						found = true
					}
				}
				if !found {
					t.Errorf("mx(%s) findings %s, want a %s %s containing %q", r.in, fmtFindings(rep), w.sev, w.code, w.has)
				}
			}
			var doc policyDoc
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("mx(%s) JSON: %v", r.in, err)
			}
			if tc.check != nil {
				tc.check(t, doc)
			}
		})
	}

	// The other formats carry the verdict and the exit code too.
	t.Run("nagios", func(t *testing.T) {
		r := runMXBinary(t, l, bin, "sts-unlisted.plain.lab.example", "--format", "nagios", "--resolver", resolver+":53", "--connect-timeout", "2s", "--timeout", "10s")
		if r.exit != 2 || !strings.HasPrefix(r.stdout, "SMTPPROBE CRITICAL - ") || !strings.Contains(r.stdout, dnscheck.CodeMTASTSMXNotListed) {
			t.Errorf("mx(%s) = exit %d\n%s\nwant exit 2, CRITICAL naming mta-sts-mx-not-listed", r.in, r.exit, r.stdout)
		}
	})
	// Baseline compare: a policy that changed is a regression. The saved report's
	// policy is edited to what the domain published "before the change".
	t.Run("baseline", func(t *testing.T) {
		base := filepath.Join(t.TempDir(), "base.json")
		r := runMXBinary(t, l, bin, "sts-enforce.plain.lab.example", "--save-baseline", base, "--resolver", resolver+":53", "--connect-timeout", "2s", "--timeout", "10s")
		b, err := os.ReadFile(base)
		if r.exit != 0 || err != nil || !strings.Contains(string(b), `"mode":"enforce"`) && !strings.Contains(string(b), `"mode": "enforce"`) {
			t.Fatalf("mx(%s) = exit %d, baseline %v:\n%s", r.in, r.exit, err, b)
		}
		r = runMXBinary(t, l, bin, "sts-enforce.plain.lab.example", "--baseline", base, "--json", "--resolver", resolver+":53", "--connect-timeout", "2s", "--timeout", "10s")
		if rep := decodeReport(t, r); r.exit != 0 || slices.Contains(findingCodes(rep), dnscheck.CodeRegressionMTASTSPolicy) {
			t.Errorf("mx(%s) against its own baseline = exit %d, findings %q; want 0 and no regression", r.in, r.exit, findingCodes(rep))
		}
		edited := strings.NewReplacer(`"mode":"enforce"`, `"mode":"testing"`, `"mode": "enforce"`, `"mode": "testing"`).Replace(string(b))
		if err := os.WriteFile(base, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		r = runMXBinary(t, l, bin, "sts-enforce.plain.lab.example", "--baseline", base, "--json", "--resolver", resolver+":53", "--connect-timeout", "2s", "--timeout", "10s")
		rep := decodeReport(t, r)
		if f, ok := findingWith(rep, dnscheck.CodeRegressionMTASTSPolicy, "testing mode", "enforce mode"); r.exit != 2 || !ok || f.Severity != "critical" {
			t.Errorf("mx(%s) against a testing-mode baseline = exit %d, findings %s; want 2 and a critical regression-mta-sts-policy", r.in, r.exit, fmtFindings(rep))
		}
	})
	t.Run("prom", func(t *testing.T) {
		for domain, want := range map[string]string{"dane-ok.sec.lab.example": "1", "dane-bad.sec.lab.example": "0"} {
			r := runMXBinary(t, l, bin, domain, "--format", "prom", "--resolver", resolver+":53", "--connect-timeout", "2s", "--timeout", "10s")
			series := `smtpprobe_dane_match{address="198.18.3.10",command="mx",host="mx-` + strings.TrimSuffix(strings.TrimPrefix(domain, "dane-"), ".sec.lab.example") + `.sec.lab.example",idle_phase="",module="",port="25",target="` + domain + `"} ` + want
			if !strings.Contains(r.stdout, series) {
				t.Errorf("mx(%s) = exit %d\n%s\nwant %s", r.in, r.exit, r.stdout, series)
			}
		}
	})
	t.Run("text", func(t *testing.T) {
		r := runMXBinary(t, l, bin, "dane-bad.sec.lab.example", "--resolver", resolver+":53", "--connect-timeout", "2s", "--timeout", "10s")
		if r.exit != 2 || !strings.Contains(r.stdout, "critical dane-mismatch: mx-bad.sec.lab.example") {
			t.Errorf("mx(%s) = exit %d\n%s\nwant exit 2 and the dane-mismatch finding", r.in, r.exit, r.stdout)
		}
	})

	// The exporter: the policy host's address is checked against serve.allow on port
	// 443 like any address on its port. An allowlist with port 25 only refuses the
	// fetch (reported, not guessed); one with 443 lets it through. Served on the
	// client namespace's loopback and scraped from inside it.
	t.Run("serve.allow and port 443", func(t *testing.T) {
		scrape := func(allow string) string {
			cfg := probetest.WriteConfig(t, fmt.Sprintf("modules:\n  mx:\n    command: mx\n    resolver: %s:53\n    connect_timeout: 2s\n    timeout: 10s\n    no_ptr: true\nserve:\n  allow: [%s]\n", resolver, allow))
			script := `"$1" serve --config "$2" --listen 127.0.0.1:9925 2>"$2.log" & pid=$!
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/9925) 2>/dev/null && break; sleep 0.1; done
exec 3<>/dev/tcp/127.0.0.1/9925
printf 'GET /probe?module=mx&target=sts-enforce.plain.lab.example HTTP/1.0\r\n\r\n' >&3
timeout 30 cat <&3
kill $pid; wait $pid`
			ctx, cancel := context.WithTimeout(context.Background(), runKill)
			defer cancel()
			out, stderr, exit := l.Exec(t, ctx, "env", "SSL_CERT_FILE="+l.TLSCert, "bash", "-c", script, "scrape", bin, cfg)
			if exit != 0 && !strings.Contains(out, "smtpprobe_success") {
				t.Fatalf("serve in the client namespace: exit %d\n%s\n%s", exit, out, stderr)
			}
			return out
		}
		mode := `smtpprobe_mta_sts_mode{command="mx",mode="enforce",module="mx",target="sts-enforce.plain.lab.example"} 1`
		out := scrape(`"plain.lab.example", "198.18.3.0/24:25,443", "2001:db8:3::/64:25"`)
		if !strings.Contains(out, mode) || !strings.Contains(out, `smtpprobe_status{command="mx",module="mx",target="sts-enforce.plain.lab.example"} 0`) {
			t.Errorf("scrape with 443 allowed:\n%s\nwant %s and status 0", out, mode)
		}
		out = scrape(`"plain.lab.example", "198.18.3.0/24", "2001:db8:3::/64"`)
		if strings.Contains(out, "smtpprobe_mta_sts_mode") || !strings.Contains(out, `smtpprobe_success{command="mx",module="mx",target="sts-enforce.plain.lab.example"} 1`) {
			t.Errorf("scrape with port 25 only:\n%s\nwant no smtpprobe_mta_sts_mode (the fetch refused) and success 1", out)
		}
	})
}

// daneTAMatch checks that every result matched its one DANE-TA record, with
// prefix, at depth 1: the intermediate the server sent after its leaf.
func daneTAMatch(prefix string) func(t *testing.T, doc policyDoc) {
	return func(t *testing.T, doc policyDoc) {
		if len(doc.Results) == 0 {
			t.Errorf("no results")
		}
		for _, r := range doc.Results {
			d := r.DANE
			if d == nil || !d.Secure || !d.Enforced || d.Matched == nil || *d.Matched != 0 || d.MatchDepth == nil || *d.MatchDepth != 1 ||
				!strings.HasPrefix(d.MatchedRecord, prefix) || r.Address != "198.18.3.42" {
				t.Errorf("result %s dane = %+v, want secure, enforced, record 0 (%s...) matched at depth 1", r.Address, d, prefix)
			}
		}
	}
}

func fmtFindings(rep mxReport) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "\n  %s %s: %s", f.Severity, f.Code, f.Message)
	}
	return b.String()
}

// checkPolicyDoc is the policy part of `smtpprobe check --json`: each run's
// policy in its line of checks.
type checkPolicyDoc struct {
	Checks []struct {
		Target string          `json:"target"`
		Module string          `json:"module"`
		Status string          `json:"status"`
		Policy json.RawMessage `json:"policy"`
	} `json:"checks"`
	Results []struct {
		Target string `json:"target"`
		DANE   *struct {
			Matched *int `json:"matched"`
		} `json:"dane"`
	} `json:"results"`
}

// TestE2ECheckPolicy: `check` carries each mx run's policy into the combined
// report (checks[].policy), and its baseline compare catches a changed
// MTA-STS policy as mx's does (issue 12). The saved baseline is edited to
// what the domain published "before the change".
func TestE2ECheckPolicy(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	bin := smtpprobeBinary(t)
	resolver := l.Env["LAB_POLICY_DNS"]
	if resolver == "" {
		t.Fatalf("lab.sh up printed no LAB_POLICY_DNS (policy.sh)")
	}
	cfg := filepath.Join(l.Dir, "check-policy.yaml")
	text := fmt.Sprintf("modules:\n  mx:\n    command: mx\n    resolver: %s:53\n    connect_timeout: 2s\n    timeout: 10s\n    no_ptr: true\n"+
		"targets:\n  - target: sts-enforce.plain.lab.example\n    module: mx\n  - target: dane-ta.sec.lab.example\n    module: mx\n", resolver)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	decode := func(t *testing.T, r probeRun) checkPolicyDoc {
		t.Helper()
		var doc checkPolicyDoc
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("%s JSON: %v\n%s", r.in, err, r.stdout)
		}
		return doc
	}
	base := filepath.Join(t.TempDir(), "check-policy-baseline.json")
	r := runCheckBinary(t, l, bin, "--config", cfg, "--json", "--save-baseline", base)
	wantExit(t, r, 0)
	doc := decode(t, r)
	policies := map[string]string{}
	for _, c := range doc.Checks {
		var b bytes.Buffer
		if len(c.Policy) > 0 {
			if err := json.Compact(&b, c.Policy); err != nil {
				t.Fatalf("%s checks[%s].policy: %v", r.in, c.Target, err)
			}
		}
		policies[c.Target] = b.String()
	}
	if p := policies["sts-enforce.plain.lab.example"]; !strings.Contains(p, `"mode":"enforce"`) || !strings.Contains(p, `"mx":["mx1.lab.example"]`) ||
		!strings.Contains(p, `"rua":["mailto:tlsrpt@lab.example"]`) {
		t.Errorf("%s checks[sts-enforce].policy = %s, want enforce mode, mx mx1.lab.example and the TLS-RPT rua", r.in, p)
	}
	if p := policies["dane-ta.sec.lab.example"]; !strings.Contains(p, `"domain":"dane-ta.sec.lab.example","mx_secure":true`) {
		t.Errorf("%s checks[dane-ta].policy = %s, want the domain with mx_secure", r.in, p)
	}
	matched := 0
	for _, res := range doc.Results {
		if res.Target == "dane-ta.sec.lab.example" && res.DANE != nil && res.DANE.Matched != nil {
			matched++
		}
	}
	if matched == 0 {
		t.Errorf("%s has no dane-ta.sec.lab.example result with a DANE match:\n%s", r.in, r.stdout)
	}

	// Prometheus: check's metrics are per run, with the module label.
	r = runCheckBinary(t, l, bin, "--config", cfg, "--format", "prom")
	for _, series := range []string{
		`smtpprobe_mta_sts_mode{command="mx",mode="enforce",module="mx",target="sts-enforce.plain.lab.example"} 1`,
		`smtpprobe_dane_match{address="198.18.3.42",command="mx",host="mx-ta.sec.lab.example",idle_phase="",module="mx",port="25",target="dane-ta.sec.lab.example"} 1`,
	} {
		if !strings.Contains(r.stdout, series) {
			t.Errorf("%s = exit %d\n%s\nwant %s", r.in, r.exit, r.stdout, series)
		}
	}

	// Text and Nagios: each run's policy in brief, under its row.
	for _, tc := range []struct {
		format string
		lines  []string
	}{
		{"text", []string{"      policy: mta-sts enforce, no dane\n", "      policy: no mta-sts, dane 1 of 1 address matched\n"}},
		{"nagios", []string{"\npolicy mx sts-enforce.plain.lab.example: mta-sts enforce, no dane\n",
			"\npolicy mx dane-ta.sec.lab.example: no mta-sts, dane 1 of 1 address matched\n"}},
	} {
		r = runCheckBinary(t, l, bin, "--config", cfg, "--format", tc.format)
		wantExit(t, r, 0)
		for _, line := range tc.lines {
			if !strings.Contains(r.stdout, line) {
				t.Errorf("%s =\n%s\nwant it to contain %q", r.in, r.stdout, line)
			}
		}
	}

	r = runCheckBinary(t, l, bin, "--config", cfg, "--json", "--baseline", base)
	wantExit(t, r, 0)
	if strings.Contains(r.stdout, "regression-") {
		t.Errorf("%s against its own baseline:\n%s\nwant no regression", r.in, r.stdout)
	}

	b, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.NewReplacer(`"mode":"enforce"`, `"mode":"testing"`, `"mode": "enforce"`, `"mode": "testing"`).Replace(string(b))
	if edited == string(b) {
		t.Fatalf("the saved baseline %s has no enforce mode to edit:\n%s", base, b)
	}
	if err := os.WriteFile(base, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCheckBinary(t, l, bin, "--config", cfg, "--json", "--baseline", base)
	wantExit(t, r, 2)
	rep := decodeCheckReport(t, r)
	if !slices.ContainsFunc(rep.Findings, func(f mxFinding) bool {
		return f.Code == dnscheck.CodeRegressionMTASTSPolicy && f.Severity == "critical" &&
			strings.HasPrefix(f.Message, "[mx sts-enforce.plain.lab.example] ") && probetest.ContainsAll(f.Message, []string{"from testing mode", "to enforce mode"})
	}) {
		t.Errorf("%s findings = %+v, want a critical regression-mta-sts-policy of [mx sts-enforce.plain.lab.example]", r.in, rep.Findings)
	}
	for _, c := range decode(t, r).Checks {
		if want := map[string]string{"sts-enforce.plain.lab.example": "CRITICAL", "dane-ta.sec.lab.example": "OK"}[c.Target]; c.Status != want {
			t.Errorf("%s check %s status = %s, want %s", r.in, c.Target, c.Status, want)
		}
	}
}
