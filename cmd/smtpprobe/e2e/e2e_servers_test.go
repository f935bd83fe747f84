package e2e

// End-to-end tests of issue 18 (the field beyond Postfix): the built binary,
// in the lab's client namespace, against the real Exim, sendmail, OpenSMTPD,
// postscreen and tarpit that testdata/lab/servers.sh runs beside the lab
// Postfix, over IPv4 and IPv6. Each server's own log is the independent
// witness where it has one.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// The lab servers' idle timeouts (testdata/lab/mta/, servers.sh).
const (
	eximTimeout                = 9 * time.Second   // smtp_receive_timeout
	sendmailCmdTimeout         = 6 * time.Second   // Timeout.command
	sendmailDataTimeout        = 7 * time.Second   // Timeout.datablock
	openSMTPDTimeout           = 300 * time.Second // SMTPD_SESSION_TIMEOUT, compiled in
	postscreenGreetWait        = 3 * time.Second   // postscreen_greet_wait
	postscreenCommandTimeLimit = 8 * time.Second   // postscreen_command_time_limit
	tarpitDelay                = 4 * time.Second   // Exim's connect ACL delay on tarpit.lab.example
)

type srvFinding struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Option   string `json:"option"`
}

type srvReport struct {
	Outcome  string       `json:"outcome"`
	Results  []srvResult  `json:"results"`
	Findings []srvFinding `json:"findings"`
}

type srvResult struct {
	Address         string      `json:"address"`
	Outcome         string      `json:"outcome"`
	Error           string      `json:"error"`
	Phase           string      `json:"phase"`
	TimeoutMS       *float64    `json:"timeout_ms"`
	ClosedBy        string      `json:"closed_by"`
	ServerLog       string      `json:"server_log"`
	Reply           *probeReply `json:"reply"`
	GreetingDelayMS *float64    `json:"greeting_delay_ms"`
	Server          *struct {
		Software   string   `json:"software"`
		Confidence string   `json:"confidence"`
		Evidence   []string `json:"evidence"`
	} `json:"server"`
	Deferred *srvResult `json:"deferred_session"`
}

func (r srvResult) software() string {
	if r.Server == nil {
		return "absent"
	}
	return r.Server.Software
}

// srvRun runs `smtpprobe CMD ARGS... --json` in the client namespace and
// decodes its report; limit bounds the run.
func srvRun(t *testing.T, l *Lab, bin string, limit time.Duration, cmd string, args ...string) (probeRun, srvReport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	argv := append([]string{bin, cmd}, args...)
	argv = append(argv, "--resolver", l.DNS+":53", "--connect-timeout", "2s", "--json")
	start := time.Now()
	stdout, stderr, exit := l.Exec(t, ctx, "env", argv...)
	r := probeRun{in: cmd + "(" + strings.Join(args, " ") + ")", stdout: stdout, stderr: stderr, exit: exit, elapsed: time.Since(start)}
	if exit == -1 {
		t.Fatalf("%s did not finish within %s: %s", r.in, limit, stderr)
	}
	var rep srvReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%s: stdout is not one JSON report: %v\nstdout: %s\nstderr: %s", r.in, err, probetest.Truncate(stdout, 2000), stderr)
	}
	return r, rep
}

func srvFindings(rep srvReport, code string) []srvFinding {
	var out []srvFinding
	for _, f := range rep.Findings {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}

func srvCodes(rep srvReport) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, f.Code)
	}
	return out
}

// serverRow is one row of the closing table, logged by each test.
type serverRow struct {
	server, family, phase, measured, close, advice, log string
}

var (
	rowsMu sync.Mutex
	rows   []serverRow
)

func logRow(t *testing.T, r serverRow) {
	t.Helper()
	rowsMu.Lock()
	rows = append(rows, r)
	rowsMu.Unlock()
	t.Logf("ROW | %s | %s | %s | %s | %s | %s | %s |", r.server, r.family, r.phase, r.measured, r.close, r.advice, r.log)
}

// families are the address families every server is probed over.
var families = []struct{ name, flag, client string }{
	{"IPv4", "-4", "198.18.1.2"},
	{"IPv6", "-6", "2001:db8:1::2"},
}

// TestE2EServers: every real server's idle timeout per phase, its close
// (421 or bare FIN), the advice in its own words and its own log line, over
// IPv4 and IPv6; postscreen's pre-greet wait and deferral with a second
// session that passes; a tarpit named; OpenSMTPD's fixed 300 s.
func TestE2EServers(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	bin := smtpprobeBinary(t)

	// OpenSMTPD's 300 s is the long pole: one run, both families at
	// once, started now in the background so that everything else runs
	// meanwhile; its subtest, the last, only collects it.
	long := make(chan srvOutput, 1)
	longArgs := []string{"opensmtpd.lab.example", "--phase", "banner", "--max-wait", "330s", "--timeout", "10s"}
	ctx, cancel := context.WithTimeout(context.Background(), openSMTPDTimeout+90*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		argv := append([]string{bin, "timeout"}, longArgs...)
		argv = append(argv, "--resolver", l.DNS+":53", "--connect-timeout", "2s", "--json")
		start := time.Now()
		stdout, stderr, exit := l.Exec(t, ctx, "env", argv...)
		long <- srvOutput{probeRun{in: "timeout(" + strings.Join(longArgs, " ") + ")", stdout: stdout, stderr: stderr, exit: exit, elapsed: time.Since(start)}}
	}()
	t.Cleanup(func() {
		// The opensmtpd subtest has collected the run by now, unless
		// -run left it out: then the run is ended here, before the lab
		// goes down.
		cancel()
		<-done
	})
	for _, fam := range families {
		t.Run("exim/"+fam.name, func(t *testing.T) {
			t.Parallel()
			testExim(t, l, bin, fam.flag, fam.client)
		})
		t.Run("sendmail/"+fam.name, func(t *testing.T) {
			t.Parallel()
			testSendmail(t, l, bin, fam.flag)
		})
		t.Run("tarpit/"+fam.name, func(t *testing.T) {
			t.Parallel()
			testTarpit(t, l, bin, fam.flag)
		})
		t.Run("postfix/"+fam.name, func(t *testing.T) {
			t.Parallel()
			testPostfixRow(t, l, bin, fam.flag)
		})
	}
	// postscreen keeps state per client address: its two families run one
	// after the other, each from a new client.
	t.Run("postscreen", func(t *testing.T) {
		t.Parallel()
		for _, fam := range families {
			t.Run(fam.name, func(t *testing.T) { testPostscreen(t, l, bin, fam.flag, fam.client) })
		}
	})
	t.Run("opensmtpd", func(t *testing.T) {
		t.Parallel()
		testOpenSMTPD(t, l, bin, long)
	})
}

// srvOutput is a run started in the background.
type srvOutput struct{ r probeRun }

// wantPhases checks a `timeout --phase all` report: every phase measured
// within max(100 ms, 1 %) of want(phase), closed as close(phase), by the
// software sw.
func wantPhases(t *testing.T, r probeRun, rep srvReport, sw string, want func(string) time.Duration, closeBy func(string) string) map[string]srvResult {
	t.Helper()
	got := map[string]srvResult{}
	for _, res := range rep.Results {
		got[res.Phase] = res
		if res.TimeoutMS == nil {
			t.Errorf("%s phase %s: no timeout measured (outcome %s: %s)", r.in, res.Phase, res.Outcome, res.Error)
			continue
		}
		if !withinTolerance(*res.TimeoutMS, want(res.Phase)) {
			t.Errorf("%s phase %s: timeout %.3f ms, want %v ± %v", r.in, res.Phase, *res.TimeoutMS, want(res.Phase), timeoutTolerance(want(res.Phase)))
		}
		if res.ClosedBy != closeBy(res.Phase) {
			t.Errorf("%s phase %s: closed_by %q, want %q", r.in, res.Phase, res.ClosedBy, closeBy(res.Phase))
		}
		if res.software() != sw {
			t.Errorf("%s phase %s: server %s, want %s", r.in, res.Phase, res.software(), sw)
		}
		if strings.HasPrefix(res.ServerLog, "timeout after") && sw != "postfix" {
			t.Errorf("%s phase %s: Postfix's log line %q claimed for %s", r.in, res.Phase, res.ServerLog, sw)
		}
	}
	if len(got) != 6 {
		t.Errorf("%s: %d phases measured, want 6:\n%s", r.in, len(got), probetest.Truncate(r.stdout, 3000))
	}
	return got
}

// noPostfixWords fails when a finding of a non-Postfix server speaks Postfix.
func noPostfixWords(t *testing.T, r probeRun, rep srvReport) {
	t.Helper()
	for _, f := range rep.Findings {
		for _, w := range []string{"smtpd_timeout", "postconf", "Postfix"} {
			if strings.Contains(f.Message, w) {
				t.Errorf("%s: finding %s says %q: %s", r.in, f.Code, w, f.Message)
			}
		}
	}
}

func testExim(t *testing.T, l *Lab, bin, fam, client string) {
	r, rep := srvRun(t, l, bin, 60*time.Second, "timeout", "exim.lab.example", fam, "--phase", "all", "--max-wait", "30s", "--timeout", "10s")
	wantExit(t, r, 1)
	got := wantPhases(t, r, rep, "exim", func(string) time.Duration { return eximTimeout }, func(string) string { return "421" })
	for phase, res := range got {
		text := "SMTP command timeout - closing connection"
		line := "SMTP command timeout on connection from "
		if phase == "data" || phase == "body" {
			text, line = "SMTP incoming data timeout - closing connection", "SMTP data timeout (message abandoned) on connection from "
		}
		if res.Reply == nil || res.Reply.Code != 421 || !strings.Contains(res.Reply.Text, text) {
			t.Errorf("%s phase %s: reply %+v, want Exim's 421 %q", r.in, phase, res.Reply, text)
		}
		if !strings.HasPrefix(res.ServerLog, line) || !strings.Contains(res.ServerLog, "["+client+"]") {
			t.Errorf("%s phase %s: server_log %q, want Exim's %q... [%s]", r.in, phase, res.ServerLog, line, client)
		}
	}
	below := srvFindings(rep, dnscheck.CodeServerTimeoutBelowRFC)
	if len(below) != 1 || !strings.Contains(below[0].Message, "smtp_receive_timeout = 300s") || strings.Contains(below[0].Message, "180s") {
		t.Errorf("%s: server-timeout-below-rfc %+v, want one in Exim's words (smtp_receive_timeout = 300s: one timer for commands and data)", r.in, below)
	}
	noPostfixWords(t, r, rep)
	// Exim's own mainlog has the very line the probe names.
	mainlog := filepath.Join(l.Dir, "exim", "mainlog")
	waitFile(t, mainlog, 5*time.Second, got["rcpt"].ServerLog)
	waitFile(t, mainlog, 5*time.Second, got["data"].ServerLog)
	for _, ph := range []string{"rcpt", "data"} {
		res := got[ph]
		logRow(t, serverRow{"Exim 4.96", fam, ph, ms(res.TimeoutMS), closeText(res), firstAdvice(below), res.ServerLog})
	}
}

func testSendmail(t *testing.T, l *Lab, bin, fam string) {
	r, rep := srvRun(t, l, bin, 60*time.Second, "timeout", "sendmail.lab.example", fam, "--phase", "all", "--max-wait", "30s", "--timeout", "10s", "--pause-before-data", "8s")
	wantExit(t, r, 2)
	isData := func(p string) bool { return p == "data" || p == "body" }
	got := wantPhases(t, r, rep, "sendmail",
		func(p string) time.Duration {
			if isData(p) {
				return sendmailDataTimeout
			}
			return sendmailCmdTimeout
		},
		func(p string) string {
			if isData(p) {
				return "421" // 421 4.4.1 collect: ... read timeout
			}
			return "fin" // a bare FIN in commands
		})
	for phase, res := range got {
		if isData(phase) && (res.Reply == nil || res.Reply.Enhanced != "4.4.1" || !strings.Contains(res.Reply.Text, "read timeout")) {
			t.Errorf("%s phase %s: reply %+v, want sendmail's 421 4.4.1 collect: ... read timeout", r.in, phase, res.Reply)
		}
		if res.ServerLog != "" {
			t.Errorf("%s phase %s: server_log %q claimed for sendmail", r.in, phase, res.ServerLog)
		}
	}
	pause := srvFindings(rep, dnscheck.CodePauseExceedsServerTimeout)
	if len(pause) != 1 || !strings.Contains(pause[0].Message, "Timeout.command=300s") || !strings.Contains(pause[0].Message, "confTO_COMMAND") {
		t.Errorf("%s: pause-exceeds-server-timeout %+v, want sendmail's Timeout.command=300s (RFC 5321's 5 minutes, not 20 s)", r.in, pause)
	}
	below := srvFindings(rep, dnscheck.CodeServerTimeoutBelowRFC)
	if len(below) != 1 || !strings.Contains(below[0].Message, "Timeout.datablock=180s") {
		t.Errorf("%s: server-timeout-below-rfc %+v, want sendmail's Timeout.datablock=180s for data", r.in, below)
	}
	noPostfixWords(t, r, rep)
	for _, ph := range []string{"rcpt", "data"} {
		res := got[ph]
		adv := firstAdvice(below)
		if ph == "rcpt" && len(pause) > 0 {
			adv = pause[0].Message
		}
		logRow(t, serverRow{"sendmail 8.17", fam, ph, ms(res.TimeoutMS), closeText(res), adv, "(none claimed)"})
	}
}

func testOpenSMTPD(t *testing.T, l *Lab, bin string, long chan srvOutput) {
	// A session first: OpenSMTPD accepts the postmaster and is named.
	r, rep := srvRun(t, l, bin, 30*time.Second, "session", "opensmtpd.lab.example", "-4", "--timeout", "10s")
	if rep.Outcome != "ok" || len(rep.Results) != 1 || rep.Results[0].software() != "opensmtpd" {
		t.Errorf("%s = %s, server %v, want ok from opensmtpd:\n%s", r.in, rep.Outcome, rep.Results, probetest.Truncate(r.stdout, 2000))
	}
	// The banner phase over both families in one run: 300 s, once.
	out := <-long
	long <- out // for the parent's cleanup
	r = out.r
	if r.exit == -1 {
		t.Fatalf("%s did not finish: %s", r.in, r.stderr)
	}
	rep = srvReport{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%s: stdout is not one JSON report: %v\nstdout: %s\nstderr: %s", r.in, err, probetest.Truncate(r.stdout, 2000), r.stderr)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%s: %d results, want IPv4 and IPv6:\n%s", r.in, len(rep.Results), probetest.Truncate(r.stdout, 3000))
	}
	for _, res := range rep.Results {
		if res.TimeoutMS == nil || !withinTolerance(*res.TimeoutMS, openSMTPDTimeout) {
			t.Errorf("%s [%s]: timeout %s ms, want 300 s ± 3 s", r.in, res.Address, ptrString(res.TimeoutMS))
		}
		if res.ClosedBy != "fin" || res.software() != "opensmtpd" || res.ServerLog != "smtp disconnected reason=timeout" {
			t.Errorf("%s [%s]: closed_by %q, server %s, log %q; want a bare FIN from opensmtpd that logs reason=timeout", r.in, res.Address, res.ClosedBy, res.software(), res.ServerLog)
		}
		fam := "IPv4"
		if strings.Contains(res.Address, ":") {
			fam = "IPv6"
		}
		logRow(t, serverRow{"OpenSMTPD 6.8", fam, "banner", ms(res.TimeoutMS), closeText(res), "none (fixed at 300 s)", res.ServerLog})
	}
	// 299.997 s is 300 s: the timer's tolerance, not a short timeout.
	if f := srvFindings(rep, dnscheck.CodeServerTimeoutBelowRFC); len(f) > 0 {
		t.Errorf("%s: %+v; OpenSMTPD's fixed 300 s meets RFC 5321 §4.5.3.2.7", r.in, f)
	}
	waitFile(t, filepath.Join(l.Dir, "opensmtpd", "smtpd.log"), 5*time.Second, "smtp disconnected reason=timeout")
}

func testTarpit(t *testing.T, l *Lab, bin, fam string) {
	// A greeting that outlasts the probe's own limit: the finding names
	// that limit, RFC 5321's 5 minutes and the option to raise.
	r, rep := srvRun(t, l, bin, 30*time.Second, "session", "tarpit.lab.example", fam, "--timeout", "2s")
	if rep.Outcome != "reply-timeout" {
		t.Errorf("%s outcome = %s, want reply-timeout", r.in, rep.Outcome)
	}
	gt := srvFindings(rep, dnscheck.CodeGreetingTimeout)
	if len(gt) != 1 || !strings.Contains(gt[0].Message, "2s") || !strings.Contains(gt[0].Message, "5 minutes") ||
		!strings.Contains(gt[0].Message, "probe's own") {
		t.Fatalf("%s: greeting-timeout %+v, want one naming the probe's 2s limit and RFC 5321's 5 minutes", r.in, gt)
	}
	// The text names the option to raise.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	text, stderr, _ := l.Exec(t, ctx, bin, "session", "tarpit.lab.example", fam, "--timeout", "2s", "--resolver", l.DNS+":53")
	if !strings.Contains(text, dnscheck.CodeGreetingTimeout) || !strings.Contains(text, "(set with --timeout)") {
		t.Errorf("session tarpit --timeout 2s text output does not say to raise --timeout:\n%s%s", text, stderr)
	}
	// With room, the delay is measured and named.
	r, rep = srvRun(t, l, bin, 30*time.Second, "session", "tarpit.lab.example", fam, "--timeout", "10s")
	if rep.Outcome != "ok" || len(rep.Results) != 1 {
		t.Fatalf("%s = %s, want ok:\n%s", r.in, rep.Outcome, probetest.Truncate(r.stdout, 2000))
	}
	res := rep.Results[0]
	if res.GreetingDelayMS == nil || !withinTolerance(*res.GreetingDelayMS, tarpitDelay) {
		t.Errorf("%s: greeting_delay_ms %s, want %v ± %v", r.in, ptrString(res.GreetingDelayMS), tarpitDelay, timeoutTolerance(tarpitDelay))
	}
	if len(srvFindings(rep, dnscheck.CodeGreetingDelayed)) != 1 || res.software() != "exim" {
		t.Errorf("%s: findings %v, server %s; want greeting-delayed from exim", r.in, srvCodes(rep), res.software())
	}
	logRow(t, serverRow{"tarpit (Exim, 4 s delay)", fam, "greeting", ms(res.GreetingDelayMS), "-", gt[0].Message, "-"})
}

// testPostfixRow measures the lab Postfix (smtpd_timeout 5s) at rcpt for
// the table: its own log line and advice in its words.
func testPostfixRow(t *testing.T, l *Lab, bin, fam string) {
	r, rep := srvRun(t, l, bin, 30*time.Second, "timeout", "mx1.lab.example", fam, "--phase", "rcpt", "--max-wait", "20s", "--timeout", "10s", "--pause-before-data", "8s")
	if len(rep.Results) != 1 {
		t.Fatalf("%s: %d results:\n%s", r.in, len(rep.Results), probetest.Truncate(r.stdout, 2000))
	}
	res := rep.Results[0]
	if res.TimeoutMS == nil || !withinTolerance(*res.TimeoutMS, l.SMTPDTimeout) || res.ClosedBy != "421" || res.software() != "postfix" || res.ServerLog != "timeout after RCPT" {
		t.Errorf("%s: timeout %s ms closed by %q, server %s, log %q; want %v, 421, postfix, timeout after RCPT", r.in, ptrString(res.TimeoutMS), res.ClosedBy, res.software(), res.ServerLog, l.SMTPDTimeout)
	}
	pause := srvFindings(rep, dnscheck.CodePauseExceedsServerTimeout)
	// The field report's contradiction: an 8 s pause advised 20 s, below
	// the RFC's 300 s that the next finding asked for.
	if len(pause) != 1 || !strings.Contains(pause[0].Message, "smtpd_timeout=300s") || strings.Contains(pause[0].Message, "smtpd_timeout=20s") {
		t.Errorf("%s: pause-exceeds-server-timeout %+v, want smtpd_timeout=300s (RFC 5321's minimum)", r.in, pause)
	}
	adv := ""
	if len(pause) > 0 {
		adv = pause[0].Message
	}
	logRow(t, serverRow{"Postfix 3.7", fam, "rcpt", ms(res.TimeoutMS), closeText(res), adv, res.ServerLog})
}

func testPostscreen(t *testing.T, l *Lab, bin, fam, client string) {
	// A new client: the 220- teaser, the final 220 after
	// postscreen_greet_wait, then postscreen's own engine, whose idle
	// limit is postscreen_command_time_limit (8s in the lab).
	r, rep := srvRun(t, l, bin, 40*time.Second, "timeout", "postscreen.lab.example", fam, "--phase", "ehlo", "--max-wait", "20s", "--timeout", "10s")
	if len(rep.Results) != 1 {
		t.Fatalf("%s: %d results:\n%s", r.in, len(rep.Results), probetest.Truncate(r.stdout, 3000))
	}
	pt := rep.Results[0]
	if pt.GreetingDelayMS == nil || !withinTolerance(*pt.GreetingDelayMS, postscreenGreetWait) || len(srvFindings(rep, dnscheck.CodePostscreenPregreet)) != 1 {
		t.Errorf("%s: greeting_delay_ms %s, findings %v; want postscreen_greet_wait %v ± %v and postscreen-pregreet", r.in, ptrString(pt.GreetingDelayMS), srvCodes(rep), postscreenGreetWait, timeoutTolerance(postscreenGreetWait))
	}
	if pt.TimeoutMS == nil || !withinTolerance(*pt.TimeoutMS, postscreenCommandTimeLimit) || pt.ClosedBy != "421" || pt.software() != "postscreen" {
		t.Errorf("%s: timeout %s ms closed by %q, server %s; want %v ± %v, 421, postscreen", r.in, ptrString(pt.TimeoutMS), pt.ClosedBy, pt.software(), postscreenCommandTimeLimit, timeoutTolerance(postscreenCommandTimeLimit))
	}
	below := srvFindings(rep, dnscheck.CodeServerTimeoutBelowRFC)
	if len(below) != 1 || !strings.Contains(below[0].Message, "postscreen_command_time_limit=300s") || strings.Contains(below[0].Message, "smtpd_timeout=") {
		t.Errorf("%s: server-timeout-below-rfc %+v, want postscreen's postscreen_command_time_limit", r.in, below)
	}
	if !strings.HasPrefix(pt.ServerLog, "COMMAND TIME LIMIT from ["+client+"]:") {
		t.Errorf("%s: server_log %q, want postscreen's COMMAND TIME LIMIT line", r.in, pt.ServerLog)
	}
	waitLog(t, l, 5*time.Second, "postscreen's "+pt.ServerLog, func(s string) bool { return strings.Contains(s, pt.ServerLog) })
	logRow(t, serverRow{"postscreen (Postfix 3.7)", fam, "ehlo (greeting " + ms(pt.GreetingDelayMS) + ")", ms(pt.TimeoutMS), closeText(pt), firstAdvice(below), pt.ServerLog})

	// 450 4.3.2 at RCPT after the deep protocol tests (the pre-greet
	// test passed above, so no teaser now), and with --retry-deferral a
	// second session that passes.
	r, rep = srvRun(t, l, bin, 40*time.Second, "session", "postscreen.lab.example", fam, "--timeout", "10s", "--retry-deferral")
	wantExit(t, r, 0)
	if rep.Outcome != "ok" || len(rep.Results) != 1 {
		t.Fatalf("%s = %s, want ok after the retry:\n%s", r.in, rep.Outcome, probetest.Truncate(r.stdout, 3000))
	}
	res := rep.Results[0]
	first := res.Deferred
	if first == nil {
		t.Fatalf("%s: no deferred_session; findings %v", r.in, srvCodes(rep))
	}
	if first.Reply == nil || first.Reply.Code != 450 || first.Reply.Enhanced != "4.3.2" || first.software() != "postscreen" {
		t.Errorf("%s: first session reply %+v, server %s; want postscreen's 450 4.3.2", r.in, first.Reply, first.software())
	}
	if res.software() != "postfix" || res.GreetingDelayMS != nil {
		t.Errorf("%s: second session server %s, greeting delay %s; want Postfix's smtpd at once", r.in, res.software(), ptrString(res.GreetingDelayMS))
	}
	for _, code := range []string{dnscheck.CodePostscreenDeferral, dnscheck.CodePostscreenDeferralRetried} {
		if len(srvFindings(rep, code)) != 1 {
			t.Errorf("%s: findings %v, want one %s", r.in, srvCodes(rep), code)
		}
	}
	for _, f := range rep.Findings {
		if f.Severity != "info" {
			t.Errorf("%s: finding %s is %s; the deferral is not a failure", r.in, f.Code, f.Severity)
		}
	}
	// postscreen's own log: the client passed and was never taken for
	// a pre-greet talker (one early byte would have been PREGREET).
	log := waitLog(t, l, 5*time.Second, "postscreen PASS OLD", func(s string) bool {
		return strings.Contains(s, "PASS NEW ["+client+"]") && strings.Contains(s, "PASS OLD ["+client+"]")
	})
	if pregreetFor(log, client) {
		t.Errorf("postscreen logged PREGREET for %s: the probe talked before the final 220", client)
	}
	deferral := firstAdvice(srvFindings(rep, dnscheck.CodePostscreenDeferral))
	// Again, caches untouched: the client is known now and passes at once.
	r, rep = srvRun(t, l, bin, 40*time.Second, "session", "postscreen.lab.example", fam, "--timeout", "10s", "--retry-deferral")
	if rep.Outcome != "ok" || len(rep.Results) != 1 || rep.Results[0].Deferred != nil || len(srvFindings(rep, dnscheck.CodePostscreenDeferral)) != 0 {
		t.Errorf("%s again = %s, findings %v; want ok at once for a client postscreen passed", r.in, rep.Outcome, srvCodes(rep))
	}
	logRow(t, serverRow{"postscreen (Postfix 3.7)", fam, "rcpt", "-", "450 4.3.2 at RCPT, then PASS", deferral, "-"})
}

func pregreetFor(log, client string) bool {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "PREGREET") && strings.Contains(line, "["+client+"]") {
			return true
		}
	}
	return false
}

// waitFile waits until the file at path contains want.
func waitFile(t *testing.T, path string, limit time.Duration, want string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s has no %q within %v:\n%s", path, want, limit, probetest.Truncate(string(b), 2000))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ms(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f s", *p/1000)
}

func closeText(r srvResult) string {
	if r.ClosedBy == "fin" {
		return "bare FIN"
	}
	if r.Reply != nil {
		s := fmt.Sprintf("%d", r.Reply.Code)
		if r.Reply.Enhanced != "" {
			s += " " + r.Reply.Enhanced
		}
		return s + " " + strings.SplitN(r.Reply.Text, "\n", 2)[0]
	}
	return r.ClosedBy
}

func firstAdvice(fs []srvFinding) string {
	if len(fs) == 0 {
		return "-"
	}
	return fs[0].Message
}
