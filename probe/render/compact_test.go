package render_test

// Golden files of the compact text (issue 20, item 1): reports built the
// way the engine leaves them (each finding on the result it is about, in
// Result.Findings, and once in the report's Findings), for a mixed domain,
// a domain of 1,000 exchangers, a dead resolver, a session into a PMTU
// black hole and an mtu bracket of one.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// withFindings gives rep the findings of its results, each once, after
// the report's own ones, sorted as probe.Run sorts them.
func withFindings(rep *probe.Report, own ...probe.Finding) *probe.Report {
	rep.Findings = append([]probe.Finding{}, own...)
	for _, r := range rep.Results {
		for _, f := range r.Findings {
			dup := false
			for _, g := range rep.Findings {
				dup = dup || g == f
			}
			if !dup {
				rep.Findings = append(rep.Findings, f)
			}
		}
	}
	probe.SortFindings(rep.Findings)
	return rep
}

// goldenMixed is `smtpprobe mx mixed.example.com --warning time=1s`: one
// good address and one black hole at MX 10, SYNs dropped at MX 20 (the
// path sweep's findings and the connect time past the threshold), nothing
// listening at MX 30, and a finding code the renderer has never seen, at
// two addresses.
func goldenMixed() *probe.Report {
	ok, okOrder := goldenPhases("connect", 0.61, "banner", 3.1, "ehlo", 0.7, "starttls", 11.2, "ehlo_tls", 0.8, "quit", 0.4)
	bh, bhOrder := goldenPhases("connect", 0.58, "banner", 2.9, "ehlo", 0.66, "starttls", 411.3)
	ct, ctOrder := goldenPhases("connect", 5002.1)
	rf, rfOrder := goldenPhases("connect", 0.21)
	who := func(host, addr string) string { return host + " [" + addr + "]" }
	future := func(host, addr string) probe.Finding {
		return probe.Finding{Severity: probe.SevInfo, Code: "server-software", Message: who(host, addr) + " runs Postfix (from its banner and replies)"}
	}
	dropped := func(addr, r2 string) []probe.Finding {
		w := who("dropped.example.com", addr)
		return []probe.Finding{
			{Severity: probe.SevWarning, Code: dnscheck.CodeSYNDroppedAfterHop, Message: w + ": SYNs to port 25 get no answer after hop 2 (" + r2 + "); the target is 3 hops away (port 587 answers there); the drop is at the destination: its firewall"},
			{Severity: probe.SevWarning, Code: dnscheck.CodePort25FilteredAtHop, Message: w + ": port 25 is filtered at the destination, hop 3 (" + addr + "), while port 587 passes on the same path: a filter drops port 25, the path itself works"},
			{Severity: probe.SevWarning, Code: dnscheck.CodeThresholdTime, Message: w + ": connect took 5.002s, above 1s"},
		}
	}
	end := func(last string) *trace.PathEnd {
		return &trace.PathEnd{Answer: "silent", LastTTL: 2, LastAddress: last, Probes: 18, ElapsedMS: 652.7,
			ComparePort: 587, CompareAnswer: "rst", CompareTTL: 3, CompareProbes: 8}
	}
	rep := &probe.Report{Command: "mx", Target: "mixed.example.com", Started: goldenStart, Duration: 5671 * time.Millisecond, Outcome: probe.ConnectTimeout,
		Results: []probe.Result{{
			Host: "mx1.example.com", Address: "192.0.2.10", Port: 25, Preference: goldenInt(10), Outcome: probe.OK,
			Phases: ok, PhaseOrder: okOrder, Banner: "220 mx1.example.com ESMTP Postfix",
			TLS: &probe.TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Names: []string{"mx1.example.com"},
				NotAfter: time.Date(2027, 2, 20, 0, 0, 0, 0, time.UTC), DaysLeft: 90, Verified: true},
			Findings: []probe.Finding{future("mx1.example.com", "192.0.2.10")},
		}, {
			Host: "mx1.example.com", Address: "2001:db8::10", Port: 25, Preference: goldenInt(10), Outcome: probe.PMTUBlackhole, FailedPhase: "starttls",
			Error:  "starttls: TLS handshake failed: starttls stalled: the TLS ClientHello (1511 bytes, 2 segments) unacknowledged after 3 retransmits in 411ms; 1500-byte packets lost, largest acknowledged 99 (TCP_INFO, path MTU 1500)",
			Phases: bh, PhaseOrder: bhOrder, Banner: "220 mx1.example.com ESMTP Postfix",
			Findings: []probe.Finding{
				{Severity: probe.SevCritical, Code: dnscheck.CodePMTUBlackhole, Message: who("mx1.example.com", "2001:db8::10") + ": PMTU black hole toward the server (client-to-server): the TLS ClientHello (1511 bytes, 2 segments of snd_mss 1428) was retransmitted 3 times without an acknowledgement for 411ms, while smaller segments were acknowledged: 1500-byte packets vanish, the largest acknowledged was 99 bytes, and no ICMPv6 type 2 (packet too big) came back (path MTU still 1500); bracket it with smtpprobe mtu 2001:db8::10"},
				{Severity: probe.SevWarning, Code: dnscheck.CodeClampMSS, Message: "or clamp the MSS on the bottleneck router to the path MTU (nftables: tcp flags syn tcp option maxseg size set rt mtu)"},
				future("mx1.example.com", "2001:db8::10"),
			},
		}, {
			Host: "dropped.example.com", Address: "192.0.2.20", Port: 25, Preference: goldenInt(20), Outcome: probe.ConnectTimeout, FailedPhase: "connect",
			Error: "no answer to SYN within 5.002s (4.4.1 No answer from host)", Phases: ct, PhaseOrder: ctOrder,
			PathEnd: end("192.0.2.254"), Findings: dropped("192.0.2.20", "192.0.2.254"),
		}, {
			Host: "dropped.example.com", Address: "2001:db8::20", Port: 25, Preference: goldenInt(20), Outcome: probe.ConnectTimeout, FailedPhase: "connect",
			Error: "no answer to SYN within 5.002s (4.4.1 No answer from host)", Phases: ct, PhaseOrder: ctOrder,
			PathEnd: end("2001:db8::fe"), Findings: dropped("2001:db8::20", "2001:db8::fe"),
		}, {
			Host: "closed.example.com", Address: "192.0.2.30", Port: 25, Preference: goldenInt(30), Outcome: probe.Refused, FailedPhase: "connect",
			Error: "connection refused (RST to SYN): ECONNREFUSED", Phases: rf, PhaseOrder: rfOrder,
		}, {
			Host: "closed.example.com", Address: "2001:db8::30", Port: 25, Preference: goldenInt(30), Outcome: probe.Refused, FailedPhase: "connect",
			Error: "connection refused (RST to SYN): ECONNREFUSED", Phases: rf, PhaseOrder: rfOrder,
		}},
		// Nothing published: the compact text prints no Policy block.
		Policy: &policy.Report{Domain: "mixed.example.com"},
	}
	return withFindings(rep)
}

// golden1000 is `smtpprobe mx many.example.com` for a domain of 1,000
// exchangers, none of which offers STARTTLS.
func golden1000() *probe.Report {
	ph, order := goldenPhases("connect", 0.4, "banner", 1.2, "ehlo", 0.5, "quit", 0.3)
	rep := &probe.Report{Command: "mx", Target: "many.example.com", Started: goldenStart, Duration: 4210 * time.Millisecond, Outcome: probe.OK}
	for i := range 1000 {
		host, addr := fmt.Sprintf("mx%04d.example.com", i+1), fmt.Sprintf("2001:db8::%x", i+1)
		rep.Results = append(rep.Results, probe.Result{Host: host, Address: addr, Port: 25, Preference: goldenInt(10), Outcome: probe.OK,
			Phases: ph, PhaseOrder: order,
			Findings: []probe.Finding{{Severity: probe.SevWarning, Code: dnscheck.CodeStartTLSNotOffered,
				Message: host + " [" + addr + "] does not offer STARTTLS; mail to it travels in the clear"}}})
	}
	return withFindings(rep)
}

// goldenResolverDown is `smtpprobe mx example.com` with the resolver
// down: the MX query and both policy lookups time out.
func goldenResolverDown() *probe.Report {
	timedOut := func(name string) string {
		return "lookup " + name + " TXT at 192.0.2.53:53: no answer from 192.0.2.53:53: timed out"
	}
	rep := &probe.Report{Command: "mx", Target: "example.com", Started: goldenStart, Duration: 6010 * time.Millisecond, Outcome: probe.DNSError,
		Results: []probe.Result{},
		Policy: &policy.Report{Domain: "example.com",
			MTASTS: policy.MTASTSReport{RecordError: timedOut("_mta-sts.example.com.")},
			TLSRPT: policy.TLSRPTReport{Error: timedOut("_smtp._tls.example.com.")}},
	}
	return withFindings(rep,
		probe.Finding{Severity: probe.SevCritical, Code: dnscheck.CodeResolverTimeout, Message: "no answer to the MX query for example.com from resolver 192.0.2.53:53 (2 attempts of 3s each)"},
		probe.Finding{Severity: probe.SevWarning, Code: dnscheck.CodeMTASTSLookupFailed, Message: "example.com: the _mta-sts TXT lookup failed (" + timedOut("_mta-sts.example.com.") + "); senders cannot discover an MTA-STS policy"},
		probe.Finding{Severity: probe.SevInfo, Code: dnscheck.CodeTLSRPTLookupFailed, Message: "example.com: the _smtp._tls lookup failed (" + timedOut("_smtp._tls.example.com.") + "); whether senders send TLS reports is unknown"})
}

// goldenSessionBlackhole is `smtpprobe session 192.0.2.10 --size 100000`
// into a PMTU black hole: the body stalls after the first segments.
func goldenSessionBlackhole() *probe.Report {
	ph, order := goldenPhases("connect", 2.7, "banner", 148.2, "ehlo", 2.01, "mail", 0.59, "rcpt", 8.83, "data", 0.1, "body", 666.2)
	return withFindings(&probe.Report{Command: "session", Target: "192.0.2.10", Started: goldenStart, Duration: 828 * time.Millisecond, Outcome: probe.PMTUBlackhole,
		Results: []probe.Result{{
			Host: "192.0.2.10", Address: "192.0.2.10", Port: 25, Outcome: probe.PMTUBlackhole, FailedPhase: "body",
			Error:  "body: body stalled: the message body (100000 bytes, 70 segments) unacknowledged after 2 retransmits in 666ms; 1500-byte packets lost, largest acknowledged 78 (TCP_INFO, path MTU 1500)",
			Phases: ph, PhaseOrder: order, MessageBytes: 100000,
			// As measured in the lab (issue 20, item 8): the write never
			// returned, so BytesWritten is 0; TCP_INFO says what went out.
			BodyTCP: &wire.BodyTCP{Sent: 24616, Retransmitted: 2896, Acked: 0, Segments: 17},
			Timeline: []wire.Event{
				{At: 40300 * time.Microsecond, Kind: wire.EvData, Bytes: 100000},
				{At: 692 * time.Millisecond, Kind: wire.EvTCP, Text: "body stalled: the message body (100000 bytes, 70 segments) unacknowledged after 2 retransmits in 651ms; 1500-byte packets lost, largest acknowledged 78 (TCP_INFO, path MTU 1500)"},
				{At: 692 * time.Millisecond, Kind: wire.EvClose},
			},
			Findings: []probe.Finding{{Severity: probe.SevCritical, Code: dnscheck.CodePMTUBlackhole,
				Message: "192.0.2.10: PMTU black hole toward the server (client-to-server): the message body (100000 bytes, 70 segments of snd_mss 1448) was retransmitted 2 times without an acknowledgement for 666ms, while smaller segments were acknowledged: 1500-byte packets vanish, the largest acknowledged was 78 bytes, and no ICMP type 3 code 4 (fragmentation needed) came back (path MTU still 1500); bracket it with smtpprobe mtu 192.0.2.10"}},
		}},
	})
}

// goldenMTUBlackhole is `smtpprobe mtu 192.0.2.10` on a path whose
// 1400-byte link drops larger packets without ICMP, located between hops 1
// and 2, with the fixes the engine suggests.
func goldenMTUBlackhole() *probe.Report {
	ph, order := goldenPhases("mtu_in", 5.24, "mtu", 832.4)
	w := "192.0.2.10"
	return withFindings(&probe.Report{Command: "mtu", Target: "192.0.2.10", Started: goldenStart, Duration: 832 * time.Millisecond, Outcome: probe.PMTUBlackhole,
		Results: []probe.Result{{
			Host: "192.0.2.10", Address: "192.0.2.10", Port: 25, Outcome: probe.PMTUBlackhole, Error: "segments above 1400 bytes vanish and no ICMP comes back",
			Phases: ph, PhaseOrder: order,
			MTUInfo: &probe.MTUInfo{PathMTU: goldenInt(1400), Verdict: mtu.VerdictBlackhole, Bracket: [2]*int{goldenInt(1400), goldenInt(1401)},
				Sessions: 28, Rounds: 4, Retests: 6, Retransmits: 15, InterfaceMTU: 1500, MTUProbing: goldenInt(0), Range: [2]int{576, 1500},
				Reverse: &probe.MTUReverse{PathMTU: goldenInt(1400), Verdict: "pmtud-working", Bracket: [2]*int{goldenInt(1400), goldenInt(1401)},
					Sessions: 2, Rounds: 1, FlightBytes: 3368, TestedUpTo: 1500}},
			Findings: []probe.Finding{
				{Severity: probe.SevCritical, Code: dnscheck.CodePMTUBlackhole, Message: w + ": packets larger than 1400 bytes vanish and no ICMP type 3 code 4 (fragmentation needed) comes back; mail larger than a few KB stalls (\"timeout after DATA\"). Fix: allow ICMP type 3 code 4 (fragmentation needed) and ICMP time exceeded through the firewalls on the path"},
				{Severity: probe.SevCritical, Code: dnscheck.CodeBlackholeLink, Message: w + ": the black-holed link lies between hop 1 (192.0.2.1) and hop 2 (192.0.2.2): a 1500-byte packet reached hop 1 (192.0.2.1), but only small packets reach hop 2 (192.0.2.2)"},
				{Severity: probe.SevWarning, Code: dnscheck.CodeClampMSS, Message: "or clamp the MSS on the bottleneck router to the path MTU (nftables: tcp flags syn tcp option maxseg size set rt mtu)"},
				{Severity: probe.SevWarning, Code: dnscheck.CodePMTUStopgap, Message: "as a stopgap on this host, lower the interface MTU to 1400 (ip link set dev IFACE mtu 1400) or enable net.ipv4.tcp_mtu_probing=1 (currently 0)"},
				{Severity: probe.SevInfo, Code: dnscheck.CodeReversePMTUBottleneck, Message: w + ": server-to-client, the path MTU is 1400 bytes: ICMP type 3 code 4 (fragmentation needed) reaches the server and its TCP adapts"},
			},
		}},
	})
}

// TestCompactGolden renders the compact text of each report, and its -v
// text, which lists every finding.
func TestCompactGolden(t *testing.T) {
	for name, mk := range map[string]func() *probe.Report{
		"mx-mixed":          goldenMixed,
		"mx-1000":           golden1000,
		"mx-resolver-down":  goldenResolverDown,
		"session-blackhole": goldenSessionBlackhole,
		"mtu-blackhole":     goldenMTUBlackhole,
	} {
		// session shows its timeline without -v, as the command does.
		wantGolden(t, name+".text.golden", renderAs(t, mk(), nil, "text", render.Options{Timeline: strings.HasPrefix(name, "session")}))
		if name != "mx-1000" { // 4,000 lines that say what mx-mixed's -v says
			wantGolden(t, name+".verbose.text.golden", renderAs(t, mk(), nil, "text", render.Options{Verbose: true}))
		}
	}
}

// TestCompactFolds checks the folding itself, apart from the layout.
func TestCompactFolds(t *testing.T) {
	text := func(rep *probe.Report) string { return string(renderAs(t, rep, nil, "text", render.Options{})) }
	t.Run("mixed", func(t *testing.T) {
		got := text(goldenMixed())
		findings := got[strings.Index(got, "\nFindings\n"):]
		// One line per cause and address: the dropped address's four
		// findings (its outcome, the sweep's two, the time threshold)
		// are one line, which says where the SYNs die.
		for _, addr := range []string{"192.0.2.20:25", "[2001:db8::20]:25"} {
			if n := strings.Count(findings, addr); n != 1 {
				t.Errorf("compact mx: %s appears %d times in the findings, want 1:\n%s", addr, n, findings)
			}
		}
		if !strings.Contains(findings, "192.0.2.20:25 connect-timeout: SYNs to port 25 get no answer after hop 2 (192.0.2.254)") {
			t.Errorf("compact mx findings = \n%s\nwant the connect-timeout line to carry the sweep's evidence", findings)
		}
		for _, gone := range []string{dnscheck.CodePort25FilteredAtHop, dnscheck.CodeThresholdTime, "address-", "Policy", "banner:"} {
			if strings.Contains(got, gone) {
				t.Errorf("compact mx = \n%s\nwant no %q (folded, or -v's)", got, gone)
			}
		}
		if !strings.Contains(findings, "  critical [2001:db8::10]:25 pmtu-blackhole: PMTU black hole toward the server") ||
			!strings.Contains(findings, "\n           fix: or clamp the MSS") {
			t.Errorf("compact mx findings = \n%s\nwant the black hole's line with its fix under it", findings)
		}
		if !strings.Contains(findings, "refused at 2 of 6 addresses (192.0.2.30:25, [2001:db8::30]:25): connection refused") {
			t.Errorf("compact mx findings = \n%s\nwant the two refused addresses once, with a count", findings)
		}
		if !strings.Contains(findings, "info     server-software at 2 of 6 addresses: mx1.example.com [192.0.2.10] runs Postfix") {
			t.Errorf("compact mx findings = \n%s\nwant a code the renderer does not know counted across addresses too", findings)
		}
	})
	t.Run("critical-threshold", func(t *testing.T) {
		// --critical time=1s: the folded threshold still makes the
		// dropped addresses' lines critical, as it makes the status.
		rep := goldenMixed()
		for i := range rep.Results {
			for j, f := range rep.Results[i].Findings {
				if f.Code == dnscheck.CodeThresholdTime {
					rep.Results[i].Findings[j].Severity = probe.SevCritical
				}
			}
			rep.Results[i].Findings = append([]probe.Finding(nil), rep.Results[i].Findings...)
		}
		rep = withFindings(rep)
		got := text(rep)
		if !strings.Contains(got, "  critical 192.0.2.20:25 connect-timeout: ") || strings.Contains(got, dnscheck.CodeThresholdTime) {
			t.Errorf("compact mx with a critical time threshold = \n%s\nwant the dropped address's line critical, the threshold folded", got)
		}
	})
	t.Run("host-lines", func(t *testing.T) {
		// A host's lines that read the same at each of its addresses
		// print once, under the host; -v keeps them under each row.
		ph, order := goldenPhases("connect", 0.4, "banner", 1.2)
		tlsInfo := &probe.TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Names: []string{"mx.example.com"},
			NotAfter: time.Date(2027, 2, 20, 0, 0, 0, 0, time.UTC), DaysLeft: 90, Verified: true}
		rep := &probe.Report{Command: "mx", Target: "example.com", Started: goldenStart, Outcome: probe.OK, Results: []probe.Result{
			{Host: "mx.example.com", Address: "192.0.2.10", Port: 25, Preference: goldenInt(10), Outcome: probe.OK, Phases: ph, PhaseOrder: order, TLS: tlsInfo},
			{Host: "mx.example.com", Address: "2001:db8::10", Port: 25, Preference: goldenInt(10), Outcome: probe.OK, Phases: ph, PhaseOrder: order, TLS: tlsInfo},
		}, Findings: []probe.Finding{}}
		got := text(rep)
		want := "MX 10 mx.example.com\n    tls:    TLS 1.3 TLS_AES_128_GCM_SHA256, cert mx.example.com, expires 2027-02-20 (90 days), verified\n  192.0.2.10:25"
		if !strings.Contains(got, want) || strings.Count(got, "tls:") != 1 {
			t.Errorf("compact mx of one host with two addresses = \n%s\nwant its tls line once, under the host", got)
		}
		if v := string(renderAs(t, rep, nil, "text", render.Options{Verbose: true})); strings.Count(v, "      tls:") != 2 {
			t.Errorf("-v = \n%s\nwant the tls line under each address", v)
		}
	})
	t.Run("1000", func(t *testing.T) {
		got := text(golden1000())
		if n := strings.Count(got, dnscheck.CodeStartTLSNotOffered); n != 1 {
			t.Errorf("compact mx of 1000 exchangers names starttls-not-offered %d times, want 1", n)
		}
		if !strings.Contains(got, "warning  starttls-not-offered at 1000 of 1000 addresses: ") {
			t.Errorf("compact mx of 1000 exchangers = ...%s, want the count", got[strings.Index(got, "\nFindings"):])
		}
		q := strconv.Quote(dnscheck.CodeStartTLSNotOffered)
		if v := string(renderAs(t, golden1000(), nil, "json", render.Options{})); strings.Count(v, q) != 1000 {
			t.Errorf("JSON has %d %s findings, want all 1000", strings.Count(v, q), q)
		}
	})
	t.Run("resolver-down", func(t *testing.T) {
		got := text(goldenResolverDown())
		if n := strings.Count(got, "timed out") + strings.Count(got, "no answer"); n != 1 {
			t.Errorf("compact mx with the resolver down says it %d times, want once:\n%s", n, got)
		}
	})
}

// goldenCheckResolverDown is a check of two modules of example.com and one
// of example.net with the resolver down: the table, then each problem
// once, the two runs of example.com under one heading, and no policy line
// for lookups that failed with the resolver.
func goldenCheckResolverDown() (*probe.Report, []render.Run) {
	idle := goldenResolverDown()
	idle.Command, idle.Policy = "timeout", nil
	idle.Findings = idle.Findings[:1]
	net := goldenResolverDown()
	net.Target = "example.net"
	net.Findings = []probe.Finding{{Severity: probe.SevCritical, Code: dnscheck.CodeResolverTimeout, Message: "no answer to the MX query for example.net from resolver 192.0.2.53:53 (2 attempts of 3s each)"}}
	runs := []render.Run{
		{Target: "example.com", Module: "mx", Report: goldenResolverDown()},
		{Target: "example.com", Module: "idle", Report: idle},
		{Target: "example.net", Module: "mx", Report: net},
	}
	combined := &probe.Report{Command: "check", Target: "/etc/smtpprobe/check.yaml", Started: goldenStart, Duration: 6020 * time.Millisecond,
		Outcome: probe.DNSError, Results: []probe.Result{}, Findings: []probe.Finding{}}
	for _, r := range runs {
		combined.Checks = append(combined.Checks, probe.NewCheckSummary(r.Target, r.Module, r.Report.Command, r.Report, nil))
	}
	return combined, runs
}

func TestCompactCheckGolden(t *testing.T) {
	combined, runs := goldenCheckResolverDown()
	got := renderAs(t, combined, runs, "text", render.Options{})
	wantGolden(t, "check-resolver-down.text.golden", got)
	if n := strings.Count(string(got), "example.com from resolver"); n != 1 {
		t.Errorf("check with the resolver down names example.com's failure %d times, want once:\n%s", n, got)
	}
	if strings.Contains(string(got), "policy:") {
		t.Errorf("check with the resolver down has a policy line:\n%s", got)
	}
}
