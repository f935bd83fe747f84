package e2e

// Issue 20, items 1, 2 and 8, through the built binary: the compact text
// of mx and check on the lab's mixed and dead domains, one spelling of
// durations, the true byte counts of a body sent into a PMTU black hole,
// no empty data line, mx's progress on a terminal, a link-local target
// without a zone, and every mistake of a configuration in one run.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// badDuration matches the spellings of a duration that issue 20 retired:
// a space before the unit ("5.003 s", "412 ms"), Go's "5m0s" and
// "1m30s", and more digits than a measurement has ("19.99999979s").
var badDuration = regexp.MustCompile(`\d (ms|s)\b|\d+m\d+(\.\d+)?s\b|\d\.\d{4,}s\b`)

// wantOneSpelling fails for any retired spelling of a duration in what.
func wantOneSpelling(t *testing.T, what, text string) {
	t.Helper()
	if m := badDuration.FindAllString(text, 5); m != nil {
		t.Errorf("%s spells durations %q; want one spelling (\"5.002s\", \"412ms\", \"90s\"):\n%s", what, m, text)
	}
}

// findingsOf is the text from the findings heading on.
func findingsOf(s string) string {
	if i := strings.Index(s, "\nFindings\n"); i >= 0 {
		return s[i:]
	}
	return ""
}

func TestE2EAdminOutput(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	bin := smtpprobeBinary(t)
	lab := []string{"--resolver", l.DNS + ":53", "--connect-timeout", "2s", "--timeout", "10s"}

	// Item 1: one line per cause and address. The dropped exchanger's two
	// addresses had four findings each (address-connect-timeout,
	// syn-dropped-after-hop, port25-filtered-at-hop and threshold-time);
	// the two refused addresses print once, with a count; mixed has no
	// policy, so no Policy block. Twice in a row: state is part of it.
	t.Run("mx-compact", func(t *testing.T) {
		args := append([]string{"mixed.lab.example", "--warning", "time=1s"}, lab...)
		for run := 1; run <= 2; run++ {
			r := runLabBinary(t, l, bin, "mx", args...)
			wantExit(t, r, 1)
			found := findingsOf(r.stdout)
			for _, a := range []string{labDroppedv4 + ":25", "[" + labDroppedv6 + "]:25"} {
				if n := strings.Count(found, a); n != 1 {
					t.Errorf("run %d: %s: %s appears %d times among the findings, want once:\n%s", run, r.in, a, n, r.stdout)
				}
				if !strings.Contains(found, "  warning  "+a+" connect-timeout: SYNs to port 25 get no answer after hop 2 (") ||
					!strings.Contains(found, "port 587 answers there); the drop is at the destination: its firewall\n") {
					t.Errorf("run %d: %s: want one line for %s that says where its SYNs die:\n%s", run, r.in, a, r.stdout)
				}
			}
			if !strings.Contains(found, "  warning  refused at 2 of 6 addresses ("+labClosedv4+":25, ["+labClosedv6+"]:25): connection refused (RST to SYN): ECONNREFUSED\n") {
				t.Errorf("run %d: %s: want the two refused addresses once, with a count:\n%s", run, r.in, r.stdout)
			}
			for _, gone := range []string{dnscheck.CodePort25FilteredAtHop, dnscheck.CodeThresholdTime, dnscheck.CodeAddressPrefix + string(probe.ConnectTimeout), "\nPolicy\n", "banner:", "hop  address"} {
				if strings.Contains(r.stdout, gone) {
					t.Errorf("run %d: %s: text has %q, want it folded (or left to -v):\n%s", run, r.in, gone, r.stdout)
				}
			}
			if n := strings.Count(r.stdout, "\n"); n > 22 {
				t.Errorf("run %d: %s: %d lines, want at most 22 (the text was 55 before issue 20):\n%s", run, r.in, n, r.stdout)
			}
			wantOneSpelling(t, r.in, r.stdout)
		}
		// JSON keeps every finding; -v prints them all.
		j := decodeReport(t, mxRun(runLabBinary(t, l, bin, "mx", append(args, "--json")...)))
		count := map[string]int{}
		for _, f := range j.Findings {
			count[f.Code]++
			if f.Code == dnscheck.CodeThresholdTime && !regexp.MustCompile(`: connect took \d+\.\d{3}s, above 1s$`).MatchString(f.Message) {
				t.Errorf("threshold-time = %q, want \"connect took N.NNNs, above 1s\"", f.Message)
			}
		}
		for _, code := range []string{dnscheck.CodeSYNDroppedAfterHop, dnscheck.CodePort25FilteredAtHop, dnscheck.CodeThresholdTime} {
			if count[code] != 2 {
				t.Errorf("mx --json: %d %s findings, want 2 (one per dropped address): %v", count[code], code, count)
			}
		}
		v := runLabBinary(t, l, bin, "mx", append(args, "-v")...)
		for _, want := range []string{dnscheck.CodePort25FilteredAtHop, dnscheck.CodeThresholdTime, "hop  address", "banner:", "\nPolicy\n"} {
			if !strings.Contains(v.stdout, want) {
				t.Errorf("%s: want the full report, with %q:\n%s", v.in, want, v.stdout)
			}
		}
		wantOneSpelling(t, v.in, v.stdout)
		// Nagios keeps base units in perfdata, and its text spells the
		// connect timeout as the text does.
		n := runLabBinary(t, l, bin, "mx", append(args, "--format", "nagios")...)
		if !regexp.MustCompile(`'`+regexp.QuoteMeta(labDroppedv4)+`:25 connect'=2\.\d+s;1;`).MatchString(n.stdout) ||
			!regexp.MustCompile(`no answer to SYN within 2\.\d{3}s \(4\.4\.1`).MatchString(n.stdout) ||
			!regexp.MustCompile(`no answer to SYN within 2\.\d{3}s \(4\.4\.1`).MatchString(v.stdout) {
			t.Errorf("%s and %s: want perfdata in seconds and the text's spelling of the connect time:\n%s\n%s", n.in, v.in, n.stdout, v.stdout)
		}
	})

	// Item 1: with the resolver down, its error is said once (it was
	// five times: the MX finding, and the MTA-STS and TLS-RPT lookups as
	// findings and in the Policy block).
	t.Run("resolver-down", func(t *testing.T) {
		r := runLabBinary(t, l, bin, "mx", "ok.lab.example", "--resolver", "198.18.3.99:53", "--connect-timeout", "2s")
		wantExit(t, r, 2)
		if n := strings.Count(r.stdout, "198.18.3.99"); n != 1 || strings.Contains(r.stdout, "Policy") {
			t.Errorf("%s names the dead resolver %d times, want once and no Policy block:\n%s", r.in, n, r.stdout)
		}
	})

	// Item 1: check prints its table and then only the problems; -v the
	// full reports.
	t.Run("check-compact", func(t *testing.T) {
		cfg := labCheckConfig(t, l)
		r := runCheckBinary(t, l, bin, "--config", cfg, "--only-module", "mx")
		wantExit(t, r, 2)
		v := runCheckBinary(t, l, bin, "--config", cfg, "--only-module", "mx", "-v")
		wantExit(t, v, 2)
		for _, want := range []string{"\n[mx] mixed.lab.example: WARNING\n", "\n[mx] down.lab.example: CRITICAL\n", "\n[mx] nullmx.lab.example: CRITICAL\n", "\n[mx] missing.lab.example: CRITICAL\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s: want the problems of each failing check, headed %q:\n%s", r.in, want, r.stdout)
			}
		}
		for _, gone := range []string{"[mx] ok.lab.example", "banner:", "  info ", "[mx] mx "} {
			if strings.Contains(r.stdout, gone) {
				t.Errorf("%s has %q; want only the problems of the failing checks:\n%s", r.in, gone, r.stdout)
			}
		}
		if !strings.Contains(v.stdout, "[mx] mx ok.lab.example port 25: OK") || !strings.Contains(v.stdout, "banner:") {
			t.Errorf("%s: want every check's full report:\n%s", v.in, v.stdout)
		}
		short, long := strings.Count(r.stdout, "\n"), strings.Count(v.stdout, "\n")
		t.Logf("check --only-module mx: %d lines, with -v %d", short, long)
		if short*2 > long {
			t.Errorf("%s: %d lines, -v %d; want the default to be well under half", r.in, short, long)
		}
		wantOneSpelling(t, r.in, r.stdout+v.stdout)
	})

	// Item 8: a normal session prints no "C: 0 bytes of message data"
	// line; what TCP showed of the body reads as a data line.
	t.Run("no-empty-data-line", func(t *testing.T) {
		for run := 1; run <= 2; run++ {
			r := runLabBinary(t, l, bin, "session", append([]string{"ok.lab.example"}, lab...)...)
			wantExit(t, r, 0)
			if strings.Contains(r.stdout, "C: 0 bytes") || !strings.Contains(r.stdout, "data: all bytes acknowledged (TCP_INFO: ") {
				t.Errorf("run %d: %s: want no \"C: 0 bytes\" line and the acknowledgement as a data line:\n%s", run, r.in, r.stdout)
			}
			if !strings.Contains(r.stdout, "message: 2048 bytes, all acknowledged by the peer's TCP") {
				t.Errorf("run %d: %s: want the message line with the acknowledgement:\n%s", run, r.in, r.stdout)
			}
			wantOneSpelling(t, r.in, r.stdout)
		}
	})

	// Item 8: mx shows its progress on a terminal after the first second
	// (the dropped addresses wait out the 2s connect timeout), and never
	// without one.
	t.Run("mx-progress", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), checkKill)
		defer cancel()
		line := bin + " mx down.lab.example --no-policy " + strings.Join(lab, " ") + " >/dev/null"
		out, errOut, exit := l.Exec(t, ctx, "script", "-qec", line, "/dev/null")
		if exit != 2 || !strings.Contains(out, "\r\x1b[Kmx: probing down.lab.example: ") ||
			!regexp.MustCompile(`: \d/4 addresses done, [12]s`).MatchString(out) {
			t.Errorf("mx on a terminal = exit %d, terminal %q, stderr %q; want exit 2 and a progress line after 1s", exit, out, errOut)
		}
		r := runLabBinary(t, l, bin, "mx", append([]string{"down.lab.example", "--no-policy"}, lab...)...)
		if r.stderr != "" {
			t.Errorf("%s stderr = %q, want nothing (not a terminal)", r.in, r.stderr)
		}
	})
}

// Item 8: into a PMTU black hole the body's write never returns; the
// text said "100000 bytes, 0 written" while the timeline showed 70
// segments. TCP_INFO's counters say what went out.
func TestE2EAdminBlackholeBytes(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--icmp", "drop")
	bin := smtpprobeBinary(t)
	args := []string{labMX1v4, "--size", "100000", "--connect-timeout", "2s", "--timeout", "10s"}
	sent := regexp.MustCompile(`message: 100000 bytes; TCP sent ([1-9]\d*) bytes(?: \(\d+ retransmitted\))? in ([1-9]\d*) segments, the peer acknowledged (\d+)\n`)
	for run := 1; run <= 2; run++ {
		r := runLabBinary(t, l, bin, "session", args...)
		wantExit(t, r, 2)
		if !sent.MatchString(r.stdout) || strings.Contains(r.stdout, "0 written") {
			t.Errorf("run %d: %s: want the bytes TCP sent, not \"0 written\":\n%s", run, r.in, r.stdout)
		}
		j := runLabBinary(t, l, bin, "session", append(args, "--json")...)
		var rep struct {
			Results []struct {
				Outcome string `json:"outcome"`
				BodyTCP *struct {
					Sent     int64 `json:"bytes_sent"`
					Acked    int64 `json:"bytes_acked"`
					Segments int   `json:"segments"`
				} `json:"body_tcp"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil || len(rep.Results) != 1 {
			t.Fatalf("run %d: %s: %v\n%s", run, j.in, err, j.stdout)
		}
		b := rep.Results[0].BodyTCP
		if rep.Results[0].Outcome != string(probe.PMTUBlackhole) || b == nil || b.Sent <= 0 || b.Segments <= 0 || b.Acked >= 100000 {
			t.Errorf("run %d: %s: outcome %s, body_tcp %+v; want pmtu-blackhole and bytes sent but not all acknowledged", run, j.in, rep.Results[0].Outcome, b)
		}
	}
	// Item 1: the remedies print as fix: lines under their cause (they
	// were "warning clamp-mss: ..." findings of their own).
	for run := 1; run <= 2; run++ {
		r := runLabBinary(t, l, bin, "mtu", labMX1v4, "--connect-timeout", "2s", "--timeout", "10s")
		wantExit(t, r, 2)
		found := findingsOf(r.stdout)
		cause := strings.Index(found, "\n  critical "+labMX1v4+":25 pmtu-blackhole: ")
		fix := strings.Index(found, "\n           fix: or clamp the MSS on the bottleneck router")
		if cause < 0 || fix < cause || strings.Contains(found, "clamp-mss:") || strings.Contains(found, "pmtu-stopgap:") {
			t.Errorf("run %d: %s: want the black hole's cause line with its fixes under it:\n%s", run, r.in, r.stdout)
		}
		wantOneSpelling(t, r.in, r.stdout)
	}
}

// Items 2 and 8 without a network: a link-local target without a zone,
// every mistake of a configuration in one run, the demo's and the help's
// durations.
func TestE2EAdminInput(t *testing.T) {
	t.Parallel()
	bin := cliPrereqs(t)

	r := isolated(t, bin, "session", "[fe80::1]:25")
	wantUsage(t, "session [fe80::1]:25", r, `target "[fe80::1]:25": a link-local address needs a zone: fe80::1%eth0`)
	if strings.Contains(r.stderr, "invalid argument") {
		t.Errorf("session [fe80::1]:25 stderr = %q, want no connect error", r.stderr)
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "five.yaml")
	five := "parallel: 0\nmodules:\n  mx:\n    command: mx\n    timeout: 3\n    warning: time=2s,mtu=1400\n" +
		"  s:\n    comand: session\ntargets:\n  - target: example.com\n    module: mz\n"
	if err := os.WriteFile(cfg, []byte(five), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"check", "serve"} {
		r = isolated(t, bin, cmd, "--config", cfg, "--validate")
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if r.code != 3 || r.stdout != "" || len(lines) != 5 {
			t.Errorf("%s --validate (five mistakes) = %d, stdout %q, stderr:\n%s\nwant exit 3 and five lines", cmd, r.code, r.stdout, r.stderr)
			continue
		}
		for i, line := range []string{":1: parallel 0", `:5: timeout: "3"`, ":6: warning: mtu=1400", `:8: unknown key "comand"`, `:10: target example.com: unknown module "mz"`} {
			if !strings.HasPrefix(lines[i], "smtpprobe: "+cfg+line) {
				t.Errorf("%s --validate line %d = %q, want %q", cmd, i+1, lines[i], "smtpprobe: "+cfg+line)
			}
		}
	}

	d := isolated(t, bin, "demo", "-v", "--idle-timeout", "500ms")
	if d.code != 0 || !strings.Contains(d.stdout, "quiet for 500ms") || !strings.Contains(d.stdout, "pause-start: quiet 5") {
		t.Errorf("demo -v = %d\n%s\n%s\nwant the idle server and the quiet pause", d.code, d.stdout, d.stderr)
	}
	wantOneSpelling(t, "demo -v", d.stdout)
	for _, cmd := range []string{"session", "timeout", "mtu", "mx"} {
		h := isolated(t, bin, cmd, "--help")
		wantOneSpelling(t, cmd+" --help", h.stdout)
	}
}

// Item 1: a domain of 1,000 exchangers without STARTTLS (in-process
// miekg/dns and go-smtp peers on loopback) gets one warning with a count,
// not 1,000; JSON keeps all 1,000.
func TestE2EAdmin1000MX(t *testing.T) {
	t.Parallel()
	bin := cliPrereqs(t)
	port := localSMTP(t) // no STARTTLS
	var zone strings.Builder
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&zone, "many.example. 300 IN MX 10 mx%04d.many.example.\nmx%04d.many.example. 300 IN A 127.0.0.1\n", i, i)
	}
	dns, err := probetest.StartDNS("127.0.0.1:0", zone.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Close() })
	args := []string{"mx", "many.example:" + port, "--resolver", dns.Addr, "--no-ptr", "--no-policy", "--parallel", "32", "--connect-timeout", "2s", "--timeout", "5s"}
	r := runCLI(t, nil, bin, args...)
	if r.code != 1 || strings.Count(r.stdout, dnscheck.CodeStartTLSNotOffered) != 1 ||
		!strings.Contains(r.stdout, "\n  warning  starttls-not-offered at 1000 of 1000 addresses: mx") || !strings.Contains(r.stdout, "(and 999 more like it)\n") {
		t.Errorf("mx of 1000 exchangers = %d, findings:\n%s\nstderr %q\nwant exit 1 and one starttls-not-offered line with a count", r.code, findingsOf(r.stdout), r.stderr)
	}
	j := runCLI(t, nil, bin, append(args, "--json")...)
	q := strconv.Quote(dnscheck.CodeStartTLSNotOffered)
	if n := strings.Count(j.stdout, `"code":`+q) + strings.Count(j.stdout, `"code": `+q); n != 1000 {
		t.Errorf("mx of 1000 exchangers --json: %d starttls-not-offered findings, want 1000", n)
	}
}
