package render_test

// Pinned reports of every command for the golden files: fixed times and
// documentation addresses (RFC 5737, RFC 3849), built by hand so that a
// golden file changes only when a renderer does.

import (
	"math"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/dnscheck/dane"
	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/assess"
	"github.com/smtpprobe/smtpprobe/probe/mta"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

var goldenStart = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func goldenInt(n int) *int           { return &n }
func goldenFloat(f float64) *float64 { return &f }

// goldenMS is a duration given in milliseconds, as the JSON writes it.
func goldenMS(v float64) time.Duration { return time.Duration(math.Round(v * 1e6)) }

func goldenDur(v float64) *time.Duration { d := goldenMS(v); return &d }

func goldenMap(m map[string]float64) map[string]time.Duration {
	out := map[string]time.Duration{}
	for k, v := range m {
		out[k] = goldenMS(v)
	}
	return out
}
func goldenBool(b bool) *bool { return &b }
func goldenPhases(kv ...any) (map[string]time.Duration, []string) {
	m := map[string]time.Duration{}
	var order []string
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = goldenMS(kv[i+1].(float64))
		order = append(order, kv[i].(string))
	}
	return m, order
}

// goldenSession is `smtpprobe session 192.0.2.10 --to postmaster@example.com`
// that sent a message without delivering it, and a second address whose
// RCPT was refused.
func goldenSession() *probe.Report {
	ph, order := goldenPhases("connect", 0.318, "banner", 2.2, "ehlo", 0.52, "starttls", 8.1, "ehlo_tls", 0.61,
		"mail", 0.44, "rcpt", 12.3, "data", 0.39, "body", 1.05, "rset", 0.3, "quit", 0.28)
	ph2, order2 := goldenPhases("connect", 0.29, "banner", 1.9, "ehlo", 0.5, "mail", 0.4, "rcpt", 0.7)
	return &probe.Report{
		Command: "session", Target: "192.0.2.10", Started: goldenStart, Duration: 31412 * time.Microsecond, Outcome: probe.Rejected,
		Results: []probe.Result{{
			Host: "192.0.2.10", Address: "192.0.2.10", Port: 587, Outcome: probe.OK,
			Phases: ph, PhaseOrder: order,
			Reply:        &wire.Reply{Code: 221, Enhanced: "2.0.0", Text: "Bye"},
			Banner:       "220 mx1.example.com ESMTP Postfix",
			Capabilities: []string{"PIPELINING", "SIZE 10240000", "STARTTLS", "8BITMIME"},
			TLS: &probe.TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_256_GCM_SHA384", Subject: "CN=mx1.example.com",
				Issuer: "CN=Example CA", Names: []string{"mx1.example.com"}, NotAfter: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
				DaysLeft: 8, Verified: false, VerifyError: "x509: certificate signed by unknown authority"},
			MessageBytes: 10240, BytesWritten: 10240, Acked: true,
			PTR: []string{"mx1.example.com"}, FCrDNS: goldenBool(true),
			Timeline: []wire.Event{
				{At: 318 * time.Microsecond, Kind: wire.EvConnect, Text: "192.0.2.1:40000 -> 192.0.2.10:587"},
				{At: 2518 * time.Microsecond, Kind: wire.EvReply, Reply: &wire.Reply{Code: 220, Text: "mx1.example.com ESMTP Postfix"}},
				{At: 2530 * time.Microsecond, Kind: wire.EvSend, Text: "EHLO probe.example.com"},
				{At: 3050 * time.Microsecond, Kind: wire.EvReply, Reply: &wire.Reply{Code: 250, Text: "mx1.example.com\nPIPELINING\nSTARTTLS",
					Lines: []string{"mx1.example.com", "PIPELINING", "STARTTLS"}}},
				{At: 11200 * time.Microsecond, Kind: wire.EvTLS, Text: "TLS 1.3 TLS_AES_256_GCM_SHA384"},
				{At: 26100 * time.Microsecond, Kind: wire.EvData, Bytes: 10240, Count: 10, Text: "10 chunks of 1024 B"},
				{At: 28400 * time.Microsecond, Kind: wire.EvSend, Text: "QUIT"},
				{At: 28680 * time.Microsecond, Kind: wire.EvReply, Reply: &wire.Reply{Code: 221, Enhanced: "2.0.0", Text: "Bye"}},
				{At: 28700 * time.Microsecond, Kind: wire.EvFIN},
			},
		}, {
			Host: "192.0.2.11", Address: "192.0.2.11", Port: 587, Outcome: probe.Rejected, FailedPhase: "rcpt",
			Error:  "rcpt: 550 5.1.1 <postmaster@example.com>: Recipient address rejected",
			Phases: ph2, PhaseOrder: order2,
			Reply:  &wire.Reply{Code: 550, Enhanced: "5.1.1", Text: "<postmaster@example.com>: Recipient address rejected"},
			Banner: "220 mx2.example.com ESMTP", PTR: []string{}, FCrDNS: goldenBool(false), Timeline: []wire.Event{},
		}},
		Findings: []probe.Finding{
			{Severity: probe.SevCritical, Code: "cert-expiring", Message: "the certificate of 192.0.2.10 expires in 8 days"},
			{Severity: probe.SevInfo, Code: dnscheck.CodeNoPTR, Message: "192.0.2.11 has no PTR record"},
		},
	}
}

// goldenTimeout is `smtpprobe timeout 2001:db8::25 --phase ehlo,data`: one
// phase the server closed with a 421 after 300 s, one it kept open.
func goldenTimeout() *probe.Report {
	ph, order := goldenPhases("connect", 0.41, "banner", 2.3, "ehlo", 0.6)
	ph2, order2 := goldenPhases("connect", 0.38, "banner", 2.1, "ehlo", 0.55, "mail", 0.4, "rcpt", 0.9, "data", 0.5)
	return &probe.Report{
		Command: "timeout", Target: "2001:db8::25", Started: goldenStart, Duration: 600012 * time.Millisecond, Outcome: probe.ServerTimeout,
		Results: []probe.Result{{
			Host: "2001:db8::25", Address: "2001:db8::25", Port: 25, Outcome: probe.ServerTimeout,
			Phases: ph, PhaseOrder: order, Phase: "ehlo", Timeout: goldenDur(300004.2), ClosedBy: probe.ClosedBy421,
			ServerLog: "timeout after EHLO",
			Server:    &probe.Server{Software: mta.SoftwarePostfix, Confidence: mta.ConfidenceHigh, Evidence: []string{`banner "220 mx.example.com ESMTP Postfix" names Postfix`}},
			Reply:     &wire.Reply{Code: 421, Enhanced: "4.4.2", Text: "mx.example.com Error: timeout exceeded"},
			Timeline: []wire.Event{
				{At: 410 * time.Microsecond, Kind: wire.EvConnect, Text: "[2001:db8::1]:40000 -> [2001:db8::25]:25"},
				{At: 3310 * time.Microsecond, Kind: wire.EvSend, Text: "EHLO probe.example.com"},
				{At: 3910 * time.Microsecond, Kind: wire.EvPauseStart, Text: "after ehlo"},
				{At: 300008 * time.Millisecond, Kind: wire.EvUnsolicited, Reply: &wire.Reply{Code: 421, Enhanced: "4.4.2", Text: "mx.example.com Error: timeout exceeded"}},
				{At: 300009 * time.Millisecond, Kind: wire.EvFIN},
			},
		}, {
			Host: "2001:db8::25", Address: "2001:db8::25", Port: 25, Outcome: probe.OK,
			Phases: ph2, PhaseOrder: order2, Phase: "data",
			Timeline: []wire.Event{},
		}},
		Findings: []probe.Finding{
			{Severity: probe.SevWarning, Code: "short-idle-timeout", Message: "2001:db8::25 hung up 300.004s after EHLO, below the 5 minutes RFC 5321 §4.5.3.2 asks for"},
		},
	}
}

// goldenMTU is `smtpprobe mtu mx1.example.com`: a black hole at 1400 bytes
// client to server, working PMTUD server to client.
func goldenMTU() *probe.Report {
	ph, order := goldenPhases("connect", 20.4, "banner", 41.2, "ehlo", 20.9)
	return &probe.Report{
		Command: "mtu", Target: "mx1.example.com", Started: goldenStart, Duration: 14231 * time.Millisecond, Outcome: probe.OK,
		Results: []probe.Result{{
			Host: "mx1.example.com", Address: "198.51.100.25", Port: 25, Preference: goldenInt(10), Outcome: probe.OK,
			Phases: ph, PhaseOrder: order,
			MTUInfo: &probe.MTUInfo{
				PathMTU: goldenInt(1400), Verdict: mtu.VerdictBlackhole, Bracket: [2]*int{goldenInt(1400), goldenInt(1401)},
				Exact: true, Sessions: 12, Transactions: 0, Rounds: 1, Retests: 3, Retransmits: 9, LossPct: goldenFloat(0),
				ICMPSeen: false, CachedPMTU: 1500, InterfaceMTU: 1500, MTUProbing: goldenInt(0), Range: [2]int{1280, 1500},
				Tested: &[2]int{1280, 1500}, Method: mtu.MethodTCP,
				Probes: []probe.MTUProbe{
					{Round: 1, Size: 1500, Sent: 1500, Result: "lost", Via: "starttls", Retransmits: 5, Segments: 2, PMTU: 1500, Wait: goldenMS(1203.5), Attempts: 1},
					{Round: 1, Size: 1280, Sent: 1280, OK: true, Result: "delivered", Via: "starttls", Segments: 2, PMTU: 1500, RTT: goldenMS(40.2), Wait: goldenMS(41.9), Attempts: 1},
					{Round: 1, Size: 1400, Sent: 1400, OK: true, Result: "delivered", Via: "starttls", Segments: 2, PMTU: 1500, RTT: goldenMS(40.3), Wait: goldenMS(42), Attempts: 1},
					{Round: 1, Size: 1401, Sent: 1401, Result: "lost", Via: "starttls", Retransmits: 4, Segments: 2, PMTU: 1500, Wait: goldenMS(1190), Attempts: 1},
				},
				Reverse: &probe.MTUReverse{
					PathMTU: goldenInt(1500), Verdict: "no-bottleneck", Bracket: [2]*int{goldenInt(1500), nil},
					Sessions: 2, Rounds: 1, Retests: 1, FlightBytes: 4211, TestedUpTo: 1500,
					Tested: &[2]int{1280, 1500}, Method: mtu.MethodTCP,
					Probes: []probe.MTUProbe{
						{Round: 1, Size: 1500, Sent: 1500, OK: true, Result: "delivered", Via: "handshake", Segments: 3, Wait: goldenMS(60.1), Attempts: 1},
					},
				},
			},
			Timeline: []wire.Event{},
		}},
		Findings: []probe.Finding{
			{Severity: probe.SevCritical, Code: dnscheck.CodePMTUBlackhole, Message: "packets above 1400 bytes to 198.51.100.25 vanish and no ICMP comes back (RFC 1191, RFC 8201)"},
		},
	}
}

// goldenCheck is a combined check report of three runs (one of them could
// not be made) and the runs themselves, as batch.Run leaves them.
func goldenCheck() (combined *probe.Report, runs []render.Run) {
	mx := pinnedReport()
	mx.Target = "example.com"
	// The mx run's transport policy (issue 12): MTA-STS in enforce mode and
	// a validated TLSA record of mx1 that matched its certificate.
	age, zero := int64(86400), 0
	tlsa := dane.Record{Usage: 3, Selector: 1, MatchingType: 1, Data: strings.Repeat("5a", 32)}
	mx.Policy = &policy.Report{Domain: "example.com", MXSecure: true,
		MTASTS: policy.MTASTSReport{ID: "20260101", Mode: "enforce", MX: []string{"*.example.com"}, MaxAge: &age}}
	mx.Results[0].DANE = &policy.DANEReport{Name: "_25._tcp.mx1.example.com", Records: []dane.Record{tlsa}, Secure: true,
		Enforced: true, Matched: &zero, MatchedRecord: tlsa.String()}
	mx.Findings = append(mx.Findings,
		probe.Finding{Severity: probe.SevInfo, Code: dnscheck.CodeMTASTSPolicy, Message: "example.com has an MTA-STS policy in enforce mode (id 20260101, max_age 24h, mx *.example.com)"},
		probe.Finding{Severity: probe.SevInfo, Code: dnscheck.CodeDANEMatch, Message: "mx1.example.com [192.0.2.10]: TLSA record " + tlsa.String() + " matches the certificate chain (DANE, RFC 7672 §3)"})
	probe.SortFindings(mx.Findings)
	for i := range mx.Results {
		mx.Results[i].Target, mx.Results[i].Module = "example.com", "mx"
	}
	sess := goldenSession()
	sess.Target = "192.0.2.10:587"
	sess.Results = sess.Results[:1]
	sess.Findings = sess.Findings[:1]
	sess.Outcome = probe.OK
	for i := range sess.Results {
		sess.Results[i].Target, sess.Results[i].Module = "192.0.2.10:587", "submission"
	}
	failed := &probe.Report{Command: "timeout", Target: "mx9.example.net", Results: []probe.Result{},
		Findings: []probe.Finding{{Severity: probe.SevCritical, Code: dnscheck.CodeCheckFailed,
			Message: "the check could not run: mx9.example.net: no such host"}}}
	failedSummary := probe.NewCheckSummary("mx9.example.net", "idle", "timeout", nil, errGolden("mx9.example.net: no such host"))
	failed.Checks = []probe.CheckSummary{failedSummary}
	runs = []render.Run{
		{Target: "example.com", Module: "mx", Report: mx,
			Warn: assess.Thresholds{Time: 2 * time.Second, CertDays: 14}, Crit: assess.Thresholds{Time: 5 * time.Second, CertDays: 7}},
		{Target: "192.0.2.10:587", Module: "submission", Report: sess,
			Crit: assess.Thresholds{CertDays: 10}},
		{Target: "mx9.example.net", Module: "idle", Report: failed, Err: errGolden("mx9.example.net: no such host")},
	}
	combined = &probe.Report{Command: "check", Target: "/etc/smtpprobe/check.yaml", Started: goldenStart, Duration: 2040 * time.Millisecond,
		Results: []probe.Result{}, Findings: []probe.Finding{}}
	var outs []probe.Outcome
	for _, r := range runs {
		if r.Err == nil {
			combined.Checks = append(combined.Checks, probe.NewCheckSummary(r.Target, r.Module, r.Report.Command, r.Report, nil))
			outs = append(outs, r.Report.Outcome)
		} else {
			combined.Checks = append(combined.Checks, failedSummary)
		}
		combined.Results = append(combined.Results, r.Report.Results...)
		for _, f := range r.Report.Findings {
			f.Message = "[" + r.Module + " " + r.Target + "] " + f.Message
			combined.Findings = append(combined.Findings, f)
		}
	}
	combined.Outcome = probe.Worst(outs...)
	probe.SortFindings(combined.Findings)
	return combined, runs
}

type errGolden string

func (e errGolden) Error() string { return string(e) }

// pinnedReport is a report with fixed times and documentation addresses.
func pinnedReport() *probe.Report {
	pref := func(n int) *int { return &n }
	yes, no := true, false
	ehlo := wire.Reply{Code: 250, Text: "mx1.example.com\nPIPELINING\nSIZE 10240000\nSTARTTLS", Lines: []string{"mx1.example.com", "PIPELINING", "SIZE 10240000", "STARTTLS"}}
	return &probe.Report{
		Command:  "mx",
		Target:   "example.com",
		Started:  time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC),
		Duration: 2031 * time.Millisecond,
		Outcome:  probe.ConnectTimeout,
		Results: []probe.Result{{
			Host: "mx1.example.com", Address: "192.0.2.10", Port: 25, Preference: pref(10), Outcome: probe.OK,
			Phases:       goldenMap(map[string]float64{"connect": 0.41, "banner": 2.2, "ehlo": 0.52, "starttls": 8.1, "ehlo_tls": 0.6, "quit": 0.3}),
			PhaseOrder:   []string{"connect", "banner", "ehlo", "starttls", "ehlo_tls", "quit"},
			Reply:        &wire.Reply{Code: 221, Enhanced: "2.0.0", Text: "Bye"},
			Banner:       "220 mx1.example.com ESMTP Postfix",
			Capabilities: []string{"PIPELINING", "SIZE 10240000", "8BITMIME"},
			TLS: &probe.TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Subject: "CN=mx1.example.com",
				Issuer: "CN=Example CA", Names: []string{"mx1.example.com"}, NotAfter: time.Date(2027, 2, 20, 0, 0, 0, 0, time.UTC),
				DaysLeft: 89, Verified: true},
			PTR: []string{"mx1.example.com"}, FCrDNS: &yes,
			Timeline: []wire.Event{
				{At: 410 * time.Microsecond, Kind: wire.EvConnect, Text: "192.0.2.1:40000 -> 192.0.2.10:25"},
				{At: 2610 * time.Microsecond, Kind: wire.EvReply, Reply: &wire.Reply{Code: 220, Text: "mx1.example.com ESMTP Postfix"}},
				{At: 2620 * time.Microsecond, Kind: wire.EvSend, Text: "EHLO probe.example.com"},
				{At: 3140 * time.Microsecond, Kind: wire.EvReply, Reply: &ehlo},
			},
		}, {
			Host: "mx2.example.com", Address: "2001:db8::25", Port: 25, Preference: pref(20), Outcome: probe.ConnectTimeout,
			Error:  "no answer to SYN within 2.000s (4.4.1 No answer from host)",
			Phases: goldenMap(map[string]float64{"connect": 2000}), PhaseOrder: []string{"connect"},
			PTR: []string{}, FCrDNS: &no, Timeline: []wire.Event{},
		}},
		Findings: []probe.Finding{
			{Severity: "warning", Code: dnscheck.CodeMXCNAME, Message: "MX target mx2.example.com is a CNAME (RFC 2181 §10.3)"},
			{Severity: "info", Code: dnscheck.CodeNoPTR, Message: "2001:db8::25 has no PTR record"},
		},
	}
}
