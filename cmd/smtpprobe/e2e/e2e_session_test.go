package e2e

// End-to-end tests of `smtpprobe session` and `smtpprobe timeout`: the real
// binary, run inside the lab's client namespace against real Postfix (see
// lab_test.go), with the evidence a pause past the server's timeout leaves —
// the 421 4.4.2 after smtpd_timeout, the FIN, the RST to the late body — and
// Postfix's own maillog as the independent witness.
//
// Every maillog assertion finds its own session by the client's TCP port,
// taken from the timeline's connect event. Postfix does not log client ports
// by default, so each lab gets smtpd_client_port_logging = yes (a logging
// setting only) before the subtests start.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
)

// probeReport is the JSON document of `smtpprobe session|timeout --json`
// (README "JSON").
type probeReport struct {
	Command    string        `json:"command"`
	Target     string        `json:"target"`
	Started    string        `json:"started"`
	DurationMS *float64      `json:"duration_ms"`
	Outcome    string        `json:"outcome"`
	Results    []probeResult `json:"results"`
	Findings   []mxFinding   `json:"findings"`
}

type probeResult struct {
	Host          string             `json:"host"`
	Address       string             `json:"address"`
	Port          int                `json:"port"`
	Outcome       string             `json:"outcome"`
	Error         string             `json:"error"`
	Phases        map[string]float64 `json:"phases"`
	Reply         *probeReply        `json:"reply"`
	Capabilities  []string           `json:"capabilities"`
	TLS           *mxTLS             `json:"tls"`
	MessageBytes  int                `json:"message_bytes"`
	BytesWritten  int                `json:"bytes_written"`
	Acked         bool               `json:"acked"`
	QueueID       string             `json:"queue_id"`
	IdleTimeoutMS *float64           `json:"idle_timeout_ms"`
	Phase         string             `json:"phase"`
	TimeoutMS     *float64           `json:"timeout_ms"`
	ClosedBy      string             `json:"closed_by"`
	ServerLog     string             `json:"server_log"`
	Timeline      []probeEvent       `json:"timeline"`
}

type probeReply struct {
	Code        int    `json:"code"`
	Enhanced    string `json:"enhanced"`
	Text        string `json:"text"`
	Unsolicited bool   `json:"unsolicited"`
	Transient   bool   `json:"transient"`
}

type probeEvent struct {
	TMS   float64     `json:"t_ms"`
	Kind  string      `json:"kind"`
	Text  string      `json:"text"`
	Bytes int         `json:"bytes"`
	Reply *probeReply `json:"reply"`
}

func (e probeEvent) String() string {
	s := fmt.Sprintf("%.3f ms %s", e.TMS, e.Kind)
	if e.Reply != nil {
		s += fmt.Sprintf(" %d %s %s", e.Reply.Code, e.Reply.Enhanced, e.Reply.Text)
	}
	if e.Text != "" {
		s += " " + e.Text
	}
	return s
}

// probeRun is one run of the smtpprobe binary in the client namespace
// (mxRun, under the name the tests of other commands use).
type probeRun = mxRun

// probeKill ends a hung run; every run here needs well under 15 s.
const probeKill = 45 * time.Second

// labSMTPDTimeout is the smtpd_timeout of the labs of this file: short, so a
// test pauses past it quickly, and long enough that 100 ms of tolerance
// (max(100 ms, 1 %), timeoutTolerance) is not eaten by scheduling noise.
const labSMTPDTimeout = 3 * time.Second

// timeoutTolerance is how close a measured idle timeout must be to the
// configured one: max(100 ms, 1 %).
func timeoutTolerance(want time.Duration) time.Duration {
	return max(100*time.Millisecond, want/100)
}

func withinTolerance(gotMS float64, want time.Duration) bool {
	return math.Abs(gotMS-float64(want.Milliseconds())) <= float64(timeoutTolerance(want).Milliseconds())
}

// runProbe runs `smtpprobe CMD ARGS... --resolver DNS -4` in the client
// namespace, trusting the lab's certificate.
func runProbe(t *testing.T, l *Lab, bin, cmd string, args ...string) probeRun {
	t.Helper()
	r := runProbeArgs(t, l, bin, cmd, append(slices.Clone(args), "--resolver", l.DNS+":53", "--connect-timeout", "2s", "--timeout", "10s")...)
	r.in = cmd + "(" + strings.Join(quoteArgs(args), " ") + ")"
	return r
}

// decodeProbe parses stdout as exactly one JSON report of command cmd.
func decodeProbe(t *testing.T, r probeRun, cmd string) probeReport {
	t.Helper()
	var rep probeReport
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("%s stdout is not JSON: %v\nstdout:\n%s\nstderr:\n%s", r.in, err, r.stdout, r.stderr)
	}
	if dec.More() {
		t.Errorf("%s stdout holds more than one JSON document:\n%s", r.in, r.stdout)
	}
	if rep.Command != cmd {
		t.Errorf("%s command = %q, want %q", r.in, rep.Command, cmd)
	}
	if rep.DurationMS == nil {
		t.Errorf("%s duration_ms missing", r.in)
	}
	if !slices.Contains(outcomes, rep.Outcome) {
		t.Errorf("%s outcome = %q, want one of the taxonomy %q", r.in, rep.Outcome, outcomes)
	}
	return rep
}

// oneResult checks that the report has exactly one result and returns it.
func oneResult(t *testing.T, r probeRun, rep probeReport) probeResult {
	t.Helper()
	if len(rep.Results) != 1 {
		t.Fatalf("%s results = %d, want 1 (-4 and one MX address)\nstdout:\n%s", r.in, len(rep.Results), r.stdout)
	}
	return rep.Results[0]
}

func wantExit(t *testing.T, r probeRun, want ...int) {
	t.Helper()
	if !slices.Contains(want, r.exit) {
		t.Errorf("%s exit = %d, want one of %v\nstderr:\n%s", r.in, r.exit, want, r.stderr)
	}
}

func wantProbeFinding(t *testing.T, r probeRun, rep probeReport, code, severity string) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Code == code {
			if severity != "" && f.Severity != severity {
				t.Errorf("%s finding %s severity = %q, want %q", r.in, code, f.Severity, severity)
			}
			return
		}
	}
	var codes []string
	for _, f := range rep.Findings {
		codes = append(codes, f.Code)
	}
	t.Errorf("%s findings = %q, want one with code %q", r.in, codes, code)
}

// wantProbeUsageError checks the contract for bad input: exit 3, nothing on
// stdout, one line on stderr (containing mention, if set).
func wantProbeUsageError(t *testing.T, r probeRun, mention string) {
	t.Helper()
	if r.exit != 3 {
		t.Errorf("%s exit = %d, want 3\nstdout:\n%s\nstderr:\n%s", r.in, r.exit, r.stdout, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("%s stdout = %q, want empty", r.in, r.stdout)
	}
	msg := strings.TrimSuffix(r.stderr, "\n")
	if msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("%s stderr = %q, want exactly one line", r.in, r.stderr)
	}
	if mention != "" && !strings.Contains(msg, mention) {
		t.Errorf("%s stderr = %q, want it to mention %q", r.in, msg, mention)
	}
}

// clientPort is the local TCP port of a session, from the timeline's connect
// event ("198.18.1.2:52960 -> 198.18.3.10:25").
func clientPort(t *testing.T, r probeRun, res probeResult) string {
	t.Helper()
	for _, e := range res.Timeline {
		if e.Kind != "connect" {
			continue
		}
		local, _, _ := strings.Cut(e.Text, " -> ")
		ap, err := netip.ParseAddrPort(local)
		if err != nil {
			t.Fatalf("%s connect event %q: cannot read the local address: %v", r.in, e.Text, err)
		}
		return fmt.Sprint(ap.Port())
	}
	t.Fatalf("%s timeline has no connect event: %v", r.in, res.Timeline)
	return ""
}

// enablePortLogging makes the lab's Postfix log client ports
// ("connect from unknown[198.18.1.2]:52960"), so that each session's log
// lines can be told apart. It changes nothing but logging.
func enablePortLogging(t *testing.T, l *Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cf := l.Dir + "/postfix"
	_, errOut, exit := l.ExecNS(t, ctx, l.ServerNS, "bash", "-c",
		`export PATH="$PATH:/usr/sbin:/sbin"; postconf -c "$1" -e smtpd_client_port_logging=yes && postfix -c "$1" reload`, "reload", cf)
	if exit != 0 {
		t.Fatalf("postfix reload with smtpd_client_port_logging=yes: exit %d: %s", exit, errOut)
	}
	waitLog(t, l, 10*time.Second, "postfix reload", func(log string) bool {
		return strings.Contains(log, "postfix/master") && strings.Contains(log, "reload --")
	})
}

func readMailLog(t *testing.T, l *Lab) string {
	t.Helper()
	b, err := os.ReadFile(l.MailLog)
	if err != nil {
		t.Fatalf("reading the lab maillog: %v", err)
	}
	return string(b)
}

// waitLog polls the maillog (every 50 ms, at most limit) until cond holds,
// and returns it. what names the awaited lines for the failure message.
func waitLog(t *testing.T, l *Lab, limit time.Duration, what string, cond func(log string) bool) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		log := readMailLog(t, l)
		if cond(log) {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("maillog: no %s within %v; last lines:\n%s", what, limit, tail(log, 30))
			return log
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// smtpdLines are the smtpd lines of the session from 198.18.1.2:port.
func smtpdLines(log, port string) []string {
	var out []string
	tag := "[" + labClientv4 + "]:" + port
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "postfix/smtpd[") && (strings.Contains(line, tag+" ") || strings.HasSuffix(line, tag)) {
			out = append(out, line)
		}
	}
	return out
}

var clientLineRE = regexp.MustCompile(`postfix/smtpd\[\d+\]: ([0-9A-F]+): client=unknown\[([^\]]+)\]:(\d+)`)

// sessionQueueID is the queue id Postfix gave the transaction of the session
// from 198.18.1.2:port ("QUEUEID: client=unknown[198.18.1.2]:port"), or "".
func sessionQueueID(log, port string) string {
	for _, m := range clientLineRE.FindAllStringSubmatch(log, -1) {
		if m[2] == labClientv4 && m[3] == port {
			return m[1]
		}
	}
	return ""
}

// queuedLines are the lines that mark a message as really queued and
// delivered (discarded) by the lab's Postfix: qmgr's
// "QUEUEID: from=<...>, size=N, nrcpt=N (queue active)" and discard's
// "QUEUEID: to=<...>, ... status=sent". (cleanup's "QUEUEID: message-id=" is
// not one: cleanup logs it while it reads the headers, also for a transaction
// the client abandons before the final dot.)
func queuedLines(log, qid string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if qid == "" || !strings.Contains(line, " "+qid+": ") {
			continue
		}
		if strings.Contains(line, "postfix/qmgr[") && strings.Contains(line, ": from=<") ||
			strings.Contains(line, "postfix/discard[") && strings.Contains(line, "status=sent") {
			out = append(out, line)
		}
	}
	return out
}

// qmgrFromLines are qmgr's "from=<sender>" lines: one per queued message
// from that sender.
func qmgrFromLines(log, sender string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "postfix/qmgr[") && strings.Contains(line, ": from=<"+sender+">,") {
			out = append(out, line)
		}
	}
	return out
}

func eventIndex(tl []probeEvent, from int, match func(probeEvent) bool) int {
	for i := max(from, 0); i < len(tl); i++ {
		if match(tl[i]) {
			return i
		}
	}
	return -1
}

func timelineString(tl []probeEvent) string {
	var b strings.Builder
	for _, e := range tl {
		b.WriteString("  " + e.String() + "\n")
	}
	return b.String()
}

// wantServerTimeoutTimeline checks the field report's wire story in order:
// the 354 (or the last reply before the pause), an unsolicited 421 4.4.2
// smtpd_timeout later, the FIN, and an RST to the write after the pause.
func wantServerTimeoutTimeline(t *testing.T, r probeRun, res probeResult, lastCode int, pause time.Duration) {
	t.Helper()
	tl := res.Timeline
	last := eventIndex(tl, 0, func(e probeEvent) bool { return e.Kind == "reply" && e.Reply != nil && e.Reply.Code == lastCode })
	u := eventIndex(tl, last+1, func(e probeEvent) bool { return e.Kind == "unsolicited" })
	fin := eventIndex(tl, u+1, func(e probeEvent) bool { return e.Kind == "fin" })
	pend := eventIndex(tl, fin+1, func(e probeEvent) bool { return e.Kind == "pause-end" })
	rst := eventIndex(tl, pend+1, func(e probeEvent) bool { return e.Kind == "rst" })
	switch {
	case last < 0:
		t.Errorf("%s timeline has no %d reply, want one\n%s", r.in, lastCode, timelineString(tl))
	case u < 0:
		t.Errorf("%s timeline has no unsolicited event after the %d, want 421 4.4.2\n%s", r.in, lastCode, timelineString(tl))
	default:
		ue := tl[u]
		if ue.Reply == nil || ue.Reply.Code != 421 || ue.Reply.Enhanced != "4.4.2" {
			t.Errorf("%s unsolicited event = %v, want reply 421 4.4.2", r.in, ue)
		}
		if idle := ue.TMS - tl[last].TMS; !withinTolerance(idle, labSMTPDTimeout) {
			t.Errorf("%s 421 came %.1f ms after the %d, want %v ± %v\n%s", r.in, idle, lastCode, labSMTPDTimeout, timeoutTolerance(labSMTPDTimeout), timelineString(tl))
		}
		switch {
		case fin < 0:
			t.Errorf("%s timeline has no fin after the 421, want one\n%s", r.in, timelineString(tl))
		case pend < 0:
			t.Errorf("%s timeline has no pause-end after the fin, want one\n%s", r.in, timelineString(tl))
		case rst < 0:
			t.Errorf("%s timeline has no rst after the pause, want one (the late write meets RST)\n%s", r.in, timelineString(tl))
		default:
			if min := tl[last].TMS + float64(pause.Milliseconds()); tl[rst].TMS < min {
				t.Errorf("%s rst at %.1f ms, want after the %v pause (>= %.1f ms)", r.in, tl[rst].TMS, pause, min)
			}
		}
	}
	if res.IdleTimeoutMS == nil || !withinTolerance(*res.IdleTimeoutMS, labSMTPDTimeout) {
		t.Errorf("%s idle_timeout_ms = %s, want %d ± %d", r.in, ptrString(res.IdleTimeoutMS), labSMTPDTimeout.Milliseconds(), timeoutTolerance(labSMTPDTimeout).Milliseconds())
	} else {
		t.Logf("%s idle_timeout_ms %.3f", r.in, *res.IdleTimeoutMS)
	}
}

func TestE2ESession(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--smtpd-timeout", labSMTPDTimeout.String())
	if l.SMTPDTimeout != labSMTPDTimeout {
		t.Fatalf("lab smtpd_timeout = %v, want %v", l.SMTPDTimeout, labSMTPDTimeout)
	}
	bin := smtpprobeBinary(t)
	enablePortLogging(t, l)
	const pauseLong = 5 * time.Second  // > smtpd_timeout
	const pauseShort = 1 * time.Second // < smtpd_timeout

	// Greylisting by a real Postfix (a check_recipient_access 450 4.2.0, as
	// postgrey answers a first attempt): a transient rejection, WARNING and
	// not CRITICAL, with the finding that a retry will pass.
	t.Run(dnscheck.CodeGreylisted, func(t *testing.T) {
		t.Parallel()
		r := runProbe(t, l, bin, "session", "ok.lab.example", "-4", "--to", "greylist@lab.example", "--json")
		wantExit(t, r, 1)
		rep := decodeProbe(t, r, "session")
		res := oneResult(t, r, rep)
		if res.Outcome != "rejected" || res.Reply == nil || res.Reply.Code != 450 || res.Reply.Enhanced != "4.2.0" || !res.Reply.Transient {
			t.Errorf("%s = outcome %q, reply %+v; want rejected with 450 4.2.0, transient", r.in, res.Outcome, res.Reply)
		}
		wantProbeFinding(t, r, rep, dnscheck.CodeGreylisted, "info")
		r = runProbe(t, l, bin, "session", "ok.lab.example", "-4", "--to", "greylist@lab.example", "--critical", "transient=1", "--json")
		wantExit(t, r, 2)
	})

	// A pipelining client that pauses too long: RCPT and DATA pipelined, 354, then a
	// pause longer than smtpd_timeout before the body.
	t.Run("pause-exceeds-timeout", func(t *testing.T) {
		t.Parallel()
		r := runProbe(t, l, bin, "session", "ok.lab.example", "-4", "--pipelining",
			"--pause-after-data", pauseLong.String(), "--from", "pause-long@lab.example", "--json")
		wantExit(t, r, 2)
		rep := decodeProbe(t, r, "session")
		res := oneResult(t, r, rep)
		if rep.Outcome != "server-timeout" || res.Outcome != "server-timeout" {
			t.Errorf("%s outcome = %q (result %q), want server-timeout", r.in, rep.Outcome, res.Outcome)
		}
		wantProbeFinding(t, r, rep, dnscheck.CodePauseExceedsServerTimeout, "critical")
		// The pipelined group went out in one write: MAIL, RCPT, DATA before any reply.
		if i := eventIndex(res.Timeline, 0, func(e probeEvent) bool { return e.Kind == "send" && e.Text == "DATA" }); i < 0 ||
			eventIndex(res.Timeline[:i], 0, func(e probeEvent) bool {
				return e.Kind == "reply" && e.Reply != nil && e.Reply.Code == 250 && e.Reply.Enhanced == "2.1.0"
			}) >= 0 {
			t.Errorf("%s timeline does not show MAIL, RCPT and DATA pipelined\n%s", r.in, timelineString(res.Timeline))
		}
		wantServerTimeoutTimeline(t, r, res, 354, pauseLong)
		if r.elapsed > pauseLong+5*time.Second {
			t.Errorf("%s took %v, want about %v", r.in, r.elapsed, pauseLong)
		}
		port := clientPort(t, r, res)
		want := "timeout after DATA (0 bytes) from unknown[" + labClientv4 + "]:" + port
		waitLog(t, l, 10*time.Second, fmt.Sprintf("%q", want), func(log string) bool { return strings.Contains(log, want) })
		if t.Failed() {
			t.Logf("%s stdout:\n%s", r.in, r.stdout)
		}
	})

	// The field report's sender did send the final dot. The server timed out
	// the session exactly as above; the outcome must say so rather than
	// blame the RST ("Broken pipe" is the symptom the report starts from).
	t.Run("pause-exceeds-timeout-deliver", func(t *testing.T) {
		t.Parallel()
		r := runProbe(t, l, bin, "session", "ok.lab.example", "-4", "--pipelining", "--deliver",
			"--pause-after-data", pauseLong.String(), "--from", "pause-long-deliver@lab.example", "--json")
		wantExit(t, r, 2)
		rep := decodeProbe(t, r, "session")
		res := oneResult(t, r, rep)
		if rep.Outcome != "server-timeout" || res.Outcome != "server-timeout" {
			t.Errorf("%s outcome = %q (result %q, error %q), want server-timeout", r.in, rep.Outcome, res.Outcome, res.Error)
		}
		wantProbeFinding(t, r, rep, dnscheck.CodePauseExceedsServerTimeout, "critical")
		if res.QueueID != "" {
			t.Errorf("%s queue_id = %q, want none", r.in, res.QueueID)
		}
		wantServerTimeoutTimeline(t, r, res, 354, pauseLong)
		port := clientPort(t, r, res)
		want := "timeout after DATA (0 bytes) from unknown[" + labClientv4 + "]:" + port
		waitLog(t, l, 10*time.Second, fmt.Sprintf("%q", want), func(log string) bool { return strings.Contains(log, want) })
		if n := qmgrFromLines(readMailLog(t, l), "pause-long-deliver@lab.example"); len(n) != 0 {
			t.Errorf("%s: Postfix queued %q, want nothing", r.in, n)
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s", r.in, r.stdout)
		}
	})

	// A pause before DATA longer than smtpd_timeout: the server times out
	// after RCPT; the report must explain it like the pause after DATA.
	t.Run("pause-before-data-exceeds-timeout", func(t *testing.T) {
		t.Parallel()
		const pause = 4 * time.Second
		r := runProbe(t, l, bin, "session", "ok.lab.example", "-4",
			"--pause-before-data", pause.String(), "--from", "pause-before@lab.example", "--json")
		wantExit(t, r, 2)
		rep := decodeProbe(t, r, "session")
		res := oneResult(t, r, rep)
		if rep.Outcome != "server-timeout" || res.Outcome != "server-timeout" {
			t.Errorf("%s outcome = %q (result %q), want server-timeout", r.in, rep.Outcome, res.Outcome)
		}
		wantProbeFinding(t, r, rep, dnscheck.CodePauseExceedsServerTimeout, "critical")
		if res.IdleTimeoutMS == nil || !withinTolerance(*res.IdleTimeoutMS, labSMTPDTimeout) {
			t.Errorf("%s idle_timeout_ms = %s, want %d ± %d", r.in, ptrString(res.IdleTimeoutMS), labSMTPDTimeout.Milliseconds(), timeoutTolerance(labSMTPDTimeout).Milliseconds())
		}
		port := clientPort(t, r, res)
		want := "timeout after RCPT from unknown[" + labClientv4 + "]:" + port
		waitLog(t, l, 10*time.Second, fmt.Sprintf("%q", want), func(log string) bool { return strings.Contains(log, want) })
		if t.Failed() {
			t.Logf("%s stdout:\n%s", r.in, r.stdout)
		}
	})

	// The same session with a pause shorter than smtpd_timeout: everything
	// arrives and is acknowledged, and without --deliver nothing is queued.
	t.Run("pause-within-timeout", func(t *testing.T) {
		tests := []struct {
			name    string
			deliver bool
		}{
			{"abort", false},
			{"deliver", true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				from := "pause-short-" + tt.name + "@lab.example"
				args := []string{"ok.lab.example", "-4", "--pipelining", "--pause-after-data", pauseShort.String(), "--from", from, "--json"}
				if tt.deliver {
					args = append(args, "--deliver")
				}
				r := runProbe(t, l, bin, "session", args...)
				wantExit(t, r, 0)
				rep := decodeProbe(t, r, "session")
				res := oneResult(t, r, rep)
				if rep.Outcome != "ok" || res.Outcome != "ok" {
					t.Errorf("%s outcome = %q (result %q, error %q), want ok", r.in, rep.Outcome, res.Outcome, res.Error)
				}
				if res.MessageBytes < 2048 || res.BytesWritten != res.MessageBytes {
					t.Errorf("%s message_bytes, bytes_written = %d, %d, want >= 2048 and equal", r.in, res.MessageBytes, res.BytesWritten)
				}
				if i := eventIndex(res.Timeline, 0, func(e probeEvent) bool { return e.Kind == "unsolicited" || e.Kind == "rst" }); i >= 0 {
					t.Errorf("%s timeline has %v, want no unsolicited reply and no rst", r.in, res.Timeline[i])
				}
				port := clientPort(t, r, res)
				tag := "[" + labClientv4 + "]:" + port
				log := waitLog(t, l, 10*time.Second, "disconnect of "+tag, func(log string) bool {
					return strings.Contains(log, "disconnect from unknown"+tag)
				})
				qid := sessionQueueID(log, port)
				if qid == "" {
					t.Fatalf("%s: maillog has no \"QUEUEID: client=unknown%s\" line\n%s", r.in, tag, tail(log, 30))
				}
				if !tt.deliver {
					if !res.Acked {
						t.Errorf("%s acked = false, want true (TCP acknowledged every byte)", r.in)
					}
					if res.QueueID != "" {
						t.Errorf("%s queue_id = %q, want none", r.in, res.QueueID)
					}
					// Postfix received the whole body and lost the client before the dot.
					want := fmt.Sprintf("lost connection after DATA (%d bytes) from unknown%s", res.MessageBytes, tag)
					if !strings.Contains(log, want) {
						t.Errorf("%s: maillog has no %q\n%s", r.in, want, strings.Join(smtpdLines(log, port), "\n"))
					}
					// Give qmgr the time it takes for a queued message (see the deliver case: milliseconds).
					time.Sleep(1500 * time.Millisecond)
					log = readMailLog(t, l)
					if q := queuedLines(log, qid); len(q) != 0 {
						t.Errorf("%s: Postfix queued %s anyway, want nothing queued:\n%s", r.in, qid, strings.Join(q, "\n"))
					}
					if q := qmgrFromLines(log, from); len(q) != 0 {
						t.Errorf("%s: Postfix queued from <%s>, want nothing:\n%s", r.in, from, strings.Join(q, "\n"))
					}
					return
				}
				if res.QueueID == "" {
					t.Fatalf("%s queue_id empty, want Postfix's queue id\n%s", r.in, timelineString(res.Timeline))
				}
				if res.QueueID != qid {
					t.Errorf("%s queue_id = %q, want %q (maillog, client port %s)", r.in, res.QueueID, qid, port)
				}
				if res.Reply == nil || res.Reply.Code != 221 {
					t.Errorf("%s reply = %+v, want 221 to QUIT", r.in, res.Reply)
				}
				log = waitLog(t, l, 10*time.Second, "discard of "+res.QueueID, func(log string) bool {
					return len(queuedLines(log, res.QueueID)) == 2
				})
				if q := qmgrFromLines(log, from); len(q) != 1 || !strings.Contains(q[0], " "+res.QueueID+": ") {
					t.Errorf("%s: qmgr lines from <%s> = %q, want exactly one, for %s", r.in, from, q, res.QueueID)
				}
			})
		}
	})

	t.Run("bdat", func(t *testing.T) {
		tests := []struct {
			name      string
			args      []string
			wantBDATs []string // the BDAT commands sent, in order
		}{
			{"abort", nil, []string{"BDAT 2048"}},
			{"abort-chunks", []string{"--chunk-size", "700"}, []string{"BDAT 700", "BDAT 700", "BDAT 648"}},
			{"deliver", []string{"--deliver"}, []string{"BDAT 2048 LAST"}},
			{"deliver-chunks", []string{"--deliver", "--chunk-size", "1000"}, []string{"BDAT 1000", "BDAT 1000", "BDAT 48 LAST"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				deliver := slices.Contains(tt.args, "--deliver")
				from := "bdat-" + tt.name + "@lab.example"
				args := append([]string{"ok.lab.example", "-4", "--bdat", "--from", from, "--json"}, tt.args...)
				r := runProbe(t, l, bin, "session", args...)
				wantExit(t, r, 0)
				rep := decodeProbe(t, r, "session")
				res := oneResult(t, r, rep)
				if rep.Outcome != "ok" || res.Outcome != "ok" {
					t.Errorf("%s outcome = %q (result %q, error %q), want ok", r.in, rep.Outcome, res.Outcome, res.Error)
				}
				if !slices.Contains(res.Capabilities, "CHUNKING") {
					t.Errorf("%s capabilities = %q, want CHUNKING", r.in, res.Capabilities)
				}
				var bdats []string
				for i, e := range res.Timeline {
					if e.Kind == "send" && e.Text == "DATA" {
						t.Errorf("%s sent DATA, want BDAT only", r.in)
					}
					if e.Kind != "send" || !strings.HasPrefix(e.Text, "BDAT ") {
						continue
					}
					bdats = append(bdats, e.Text)
					// Each chunk is answered by 250 (RFC 3030 §2).
					if j := eventIndex(res.Timeline, i+1, func(e probeEvent) bool { return e.Kind == "reply" }); j < 0 || res.Timeline[j].Reply.Code != 250 {
						t.Errorf("%s: %s not answered by 250\n%s", r.in, e.Text, timelineString(res.Timeline))
					}
				}
				if !slices.Equal(bdats, tt.wantBDATs) {
					t.Errorf("%s BDAT commands = %q, want %q", r.in, bdats, tt.wantBDATs)
				}
				port := clientPort(t, r, res)
				tag := "[" + labClientv4 + "]:" + port
				log := waitLog(t, l, 10*time.Second, "disconnect of "+tag, func(log string) bool {
					return strings.Contains(log, "disconnect from unknown"+tag)
				})
				qid := sessionQueueID(log, port)
				if !deliver {
					if res.QueueID != "" {
						t.Errorf("%s queue_id = %q, want none", r.in, res.QueueID)
					}
					if i := eventIndex(res.Timeline, 0, func(e probeEvent) bool { return e.Kind == "send" && e.Text == "RSET" }); i < 0 {
						t.Errorf("%s timeline has no RSET, want the transaction reset\n%s", r.in, timelineString(res.Timeline))
					}
					time.Sleep(1500 * time.Millisecond)
					log = readMailLog(t, l)
					if q := queuedLines(log, qid); qid != "" && len(q) != 0 {
						t.Errorf("%s: Postfix queued %s, want nothing queued:\n%s", r.in, qid, strings.Join(q, "\n"))
					}
					if q := qmgrFromLines(log, from); len(q) != 0 {
						t.Errorf("%s: Postfix queued from <%s>, want nothing:\n%s", r.in, from, strings.Join(q, "\n"))
					}
					return
				}
				if res.QueueID == "" || res.QueueID != qid {
					t.Fatalf("%s queue_id = %q, want %q (maillog, client port %s)", r.in, res.QueueID, qid, port)
				}
				log = waitLog(t, l, 10*time.Second, "discard of "+qid, func(log string) bool {
					return len(queuedLines(log, qid)) == 2
				})
				if q := qmgrFromLines(log, from); len(q) != 1 {
					t.Errorf("%s: qmgr lines from <%s> = %q, want exactly one", r.in, from, q)
				}
			})
		}
	})

	t.Run("starttls", func(t *testing.T) {
		t.Parallel()
		r := runProbe(t, l, bin, "session", "ok.lab.example", "-4", "--starttls", "--pipelining", "--json")
		wantExit(t, r, 0)
		rep := decodeProbe(t, r, "session")
		res := oneResult(t, r, rep)
		if rep.Outcome != "ok" || res.Outcome != "ok" {
			t.Errorf("%s outcome = %q (result %q, error %q), want ok", r.in, rep.Outcome, res.Outcome, res.Error)
		}
		if res.TLS == nil || res.TLS.Version == "" || res.TLS.Cipher == "" {
			t.Fatalf("%s tls = %+v, want the negotiated version and cipher", r.in, res.TLS)
		}
		if !res.TLS.Verified || !slices.Contains(res.TLS.Names, "mx1.lab.example") {
			t.Errorf("%s tls = %+v, want verified for mx1.lab.example", r.in, res.TLS)
		}
		if _, ok := res.Phases["starttls"]; !ok {
			t.Errorf("%s phases = %v, want starttls", r.in, res.Phases)
		}
		if slices.Contains(res.Capabilities, "STARTTLS") {
			t.Errorf("%s capabilities = %q, want those of the EHLO after TLS (no STARTTLS, RFC 3207 §4.2)", r.in, res.Capabilities)
		}
		tlsAt := eventIndex(res.Timeline, 0, func(e probeEvent) bool { return e.Kind == "tls" })
		mailAt := eventIndex(res.Timeline, 0, func(e probeEvent) bool { return e.Kind == "send" && strings.HasPrefix(e.Text, "MAIL FROM:") })
		if tlsAt < 0 || mailAt < tlsAt {
			t.Errorf("%s timeline: tls event at %d, MAIL at %d, want TLS before the transaction\n%s", r.in, tlsAt, mailAt, timelineString(res.Timeline))
		}
	})

	t.Run(string(probe.Refused), func(t *testing.T) {
		t.Parallel()
		r := runProbe(t, l, bin, "session", labClosedv4, "--json")
		wantExit(t, r, 2)
		rep := decodeProbe(t, r, "session")
		res := oneResult(t, r, rep)
		if rep.Outcome != string(probe.Refused) || res.Outcome != string(probe.Refused) {
			t.Errorf("%s outcome = %q (result %q), want refused", r.in, rep.Outcome, res.Outcome)
		}
		if res.Address != labClosedv4 {
			t.Errorf("%s address = %q, want %s", r.in, res.Address, labClosedv4)
		}
		if r.elapsed > 5*time.Second {
			t.Errorf("%s took %v, want a quick refusal", r.in, r.elapsed)
		}
	})

	t.Run("bad-input", func(t *testing.T) {
		tests := []struct {
			name    string
			args    []string
			mention string
		}{
			{"chunk-size-zero", []string{"--chunk-size", "0"}, "--chunk-size"},
			{"pause-negative", []string{"--pause-after-data", "-1s"}, "--pause-after-data"},
			{"pause-text", []string{"--pause-after-data", "soon"}, "soon"},
			// Postfix offers SIZE 10240000 (message_size_limit); RFC 1870.
			{"size-above-server", []string{"--size", "20000000"}, "SIZE"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				r := runProbe(t, l, bin, "session", append([]string{"ok.lab.example", "-4", "--json"}, tt.args...)...)
				wantProbeUsageError(t, r, tt.mention)
				if r.elapsed > 5*time.Second {
					t.Errorf("%s took %v, want <= 5s", r.in, r.elapsed)
				}
			})
		}
	})
}

func TestE2ETimeout(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--smtpd-timeout", labSMTPDTimeout.String())
	if l.SMTPDTimeout != labSMTPDTimeout {
		t.Fatalf("lab smtpd_timeout = %v, want %v", l.SMTPDTimeout, labSMTPDTimeout)
	}
	bin := smtpprobeBinary(t)
	enablePortLogging(t, l)
	tol := timeoutTolerance(labSMTPDTimeout)

	// What Postfix logs when smtpd_timeout fires in each phase.
	serverLog := map[string]string{
		"banner": "timeout after CONNECT",
		"ehlo":   "timeout after EHLO",
		"mail":   "timeout after MAIL",
		"rcpt":   "timeout after RCPT",
		"data":   "timeout after DATA (0 bytes)",
		"body":   "timeout after DATA (", // N bytes: the headers sent
	}

	wantMeasured := func(t *testing.T, r probeRun, res probeResult, phase string) {
		t.Helper()
		if res.Phase != phase {
			t.Errorf("%s phase = %q, want %q", r.in, res.Phase, phase)
		}
		if res.Outcome != "server-timeout" {
			t.Errorf("%s %s outcome = %q (error %q), want server-timeout", r.in, phase, res.Outcome, res.Error)
		}
		if res.TimeoutMS == nil {
			t.Errorf("%s %s timeout_ms absent, want %d ± %d", r.in, phase, labSMTPDTimeout.Milliseconds(), tol.Milliseconds())
		} else {
			t.Logf("%s %s: timeout_ms %.3f (error %+.3f ms)", r.in, phase, *res.TimeoutMS, *res.TimeoutMS-float64(labSMTPDTimeout.Milliseconds()))
			if !withinTolerance(*res.TimeoutMS, labSMTPDTimeout) {
				t.Errorf("%s %s timeout_ms = %.3f, want %d ± %d", r.in, phase, *res.TimeoutMS, labSMTPDTimeout.Milliseconds(), tol.Milliseconds())
			}
		}
		if res.ClosedBy != "421" {
			t.Errorf("%s %s closed_by = %q, want \"421\"", r.in, phase, res.ClosedBy)
		}
		if res.Reply == nil || res.Reply.Code != 421 || res.Reply.Enhanced != "4.4.2" {
			t.Errorf("%s %s reply = %+v, want 421 4.4.2", r.in, phase, res.Reply)
		}
		if !strings.HasPrefix(res.ServerLog, serverLog[phase]) {
			t.Errorf("%s %s server_log = %q, want %q", r.in, phase, res.ServerLog, serverLog[phase])
		}
	}

	t.Run("data", func(t *testing.T) {
		tests := []struct {
			name    string
			family  string
			address string
		}{
			{"ipv4", "-4", labMX1v4},
			{"ipv6", "-6", labMX1v6},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				r := runProbe(t, l, bin, "timeout", "ok.lab.example", tt.family, "--phase", "data", "--json")
				// Measured: not OK (the timeout is below RFC 5321's 5 minutes), not UNKNOWN.
				wantExit(t, r, 1, 2)
				rep := decodeProbe(t, r, "timeout")
				res := oneResult(t, r, rep)
				if rep.Outcome != "server-timeout" {
					t.Errorf("%s outcome = %q, want server-timeout", r.in, rep.Outcome)
				}
				if normAddr(res.Address) != tt.address {
					t.Errorf("%s address = %q, want %s", r.in, res.Address, tt.address)
				}
				wantMeasured(t, r, res, "data")
				if res.ServerLog != "timeout after DATA (0 bytes)" {
					t.Errorf("%s server_log = %q, want %q", r.in, res.ServerLog, "timeout after DATA (0 bytes)")
				}
				wantProbeFinding(t, r, rep, dnscheck.CodeServerTimeoutBelowRFC, "")
				if tt.family == "-4" {
					// Postfix's own log agrees with server_log, for this very session.
					port := clientPort(t, r, res)
					want := res.ServerLog + " from unknown[" + labClientv4 + "]:" + port
					waitLog(t, l, 10*time.Second, fmt.Sprintf("%q", want), func(log string) bool { return strings.Contains(log, want) })
				}
				if t.Failed() {
					t.Logf("%s stdout:\n%s", r.in, r.stdout)
				}
			})
		}
	})

	t.Run("all", func(t *testing.T) {
		t.Parallel()
		r := runProbe(t, l, bin, "timeout", "ok.lab.example", "-4", "--phase", "all", "--json")
		wantExit(t, r, 1, 2)
		rep := decodeProbe(t, r, "timeout")
		if rep.Outcome != "server-timeout" {
			t.Errorf("%s outcome = %q, want server-timeout", r.in, rep.Outcome)
		}
		var got []string
		for _, res := range rep.Results {
			got = append(got, res.Phase)
			wantMeasured(t, r, res, res.Phase)
		}
		if want := []string{"banner", "ehlo", "mail", "rcpt", "data", "body"}; !slices.Equal(got, want) {
			t.Errorf("%s phases = %q, want %q", r.in, got, want)
		}
		// The phases run in parallel sessions: the wall time is one timeout, not six.
		t.Logf("%s duration_ms %s, process wall %v", r.in, ptrString(rep.DurationMS), r.elapsed.Round(time.Millisecond))
		if limit := labSMTPDTimeout + time.Second; rep.DurationMS == nil || *rep.DurationMS >= float64(limit.Milliseconds()) {
			t.Errorf("%s duration_ms = %v, want < %d (parallel, not the sum of six)", r.in, ptrString(rep.DurationMS), limit.Milliseconds())
		}
		if r.elapsed >= labSMTPDTimeout+2*time.Second {
			t.Errorf("%s took %v, want < %v", r.in, r.elapsed, labSMTPDTimeout+2*time.Second)
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s", r.in, r.stdout)
		}
	})

	// smtpd_timeout (3 s) is longer than --max-wait: nothing to measure, and that is not a failure.
	t.Run("max-wait-shorter", func(t *testing.T) {
		t.Parallel()
		r := runProbe(t, l, bin, "timeout", "ok.lab.example", "-4", "--phase", "data", "--max-wait", "1s", "--json")
		wantExit(t, r, 0)
		rep := decodeProbe(t, r, "timeout")
		res := oneResult(t, r, rep)
		if rep.Outcome != "ok" || res.Outcome != "ok" {
			t.Errorf("%s outcome = %q (result %q), want ok", r.in, rep.Outcome, res.Outcome)
		}
		if res.TimeoutMS != nil || res.ClosedBy != "" {
			t.Errorf("%s timeout_ms, closed_by = %s, %q, want neither", r.in, ptrString(res.TimeoutMS), res.ClosedBy)
		}
		wantProbeFinding(t, r, rep, dnscheck.CodeNoTimeoutWithinMaxWait, "")
		if r.elapsed < time.Second || r.elapsed > 2500*time.Millisecond {
			t.Errorf("%s took %v, want about 1s", r.in, r.elapsed)
		}
	})

	t.Run("bad-input", func(t *testing.T) {
		tests := []struct {
			name    string
			args    []string
			mention string
		}{
			{"phase-unknown", []string{"--phase", "lunch"}, "lunch"},
			{"max-wait-zero", []string{"--max-wait", "0s"}, "--max-wait"},
			{"max-wait-negative", []string{"--max-wait", "-5s"}, "--max-wait"},
			{"pause-negative", []string{"--pause-after-data", "-1s"}, "--pause-after-data"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				r := runProbe(t, l, bin, "timeout", append([]string{"ok.lab.example", "-4", "--json"}, tt.args...)...)
				wantProbeUsageError(t, r, tt.mention)
				if r.elapsed > 5*time.Second {
					t.Errorf("%s took %v, want <= 5s", r.in, r.elapsed)
				}
			})
		}
	})
}

func ptrString(p *float64) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprintf("%.3f", *p)
}

// runProbeArgs runs `smtpprobe CMD ARGS...` in the client namespace with
// exactly these arguments (runProbe appends its own --timeout).
func runProbeArgs(t *testing.T, l *Lab, bin, cmd string, args ...string) probeRun {
	t.Helper()
	r := runInLab(t, l, probeKill, []string{"SSL_CERT_FILE=" + l.TLSCert}, bin, cmd, args...)
	r.in = cmd + "(" + r.in + ")"
	return r
}

// TestE2ESessionBlackhole: `session` and `timeout` on a PMTU black hole name
// it from the TCP evidence within seconds at --timeout 30s: the body's
// full-size segments (a small body that fits the send buffer, and a large
// one whose write blocks), the ClientHello with --starttls, and the
// server's TLS flight on a reverse black hole.
func TestE2ESessionBlackhole(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	bin := smtpprobeBinary(t)
	fams := []struct{ flag, addr string }{{"-4", labMX1v4}, {"-6", labMX1v6}}
	common := func(fam string) []string {
		return []string{"ok.lab.example", fam, "--json", "--resolver", l.DNS + ":53", "--connect-timeout", "2s", "--timeout", blackholeTimeout}
	}
	type blackholeCase struct {
		name  string
		cmd   string
		args  []string
		code  string   // finding code
		has   []string // in its message
		event string   // in a tcp timeline event
	}
	check := func(t *testing.T, c blackholeCase, fam string, addr string) {
		t.Helper()
		r := runProbeArgs(t, l, bin, c.cmd, append(common(fam), c.args...)...)
		rep := decodeProbe(t, r, c.cmd)
		res := oneResult(t, r, rep)
		if r.exit != 2 || rep.Outcome != string(probe.PMTUBlackhole) || res.Outcome != string(probe.PMTUBlackhole) {
			t.Errorf("%s = exit %d, outcome %q (result %q: %s), want exit 2, pmtu-blackhole", r.in, r.exit, rep.Outcome, res.Outcome, res.Error)
			// A learned path MTU hides a black hole: say who had one.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			for _, ns := range []string{l.ClientNS, l.ServerNS} {
				out, _, _ := l.ExecNS(t, ctx, ns, "ip", fam, "route", "show", "cache")
				t.Logf("%s: ip %s route show cache in %s after the run:\n%s", r.in, fam, ns, out)
			}
			cancel()
			t.Logf("%s timeline:\n%s", r.in, timelineString(res.Timeline))
		}
		if r.elapsed >= blackholeVerdictMax {
			t.Errorf("%s took %v, want < %v at --timeout %s", r.in, r.elapsed.Round(time.Millisecond), blackholeVerdictMax, blackholeTimeout)
		}
		has := append(slices.Clone(c.has), addr)
		if _, ok := findingWith(mxReport{Findings: rep.Findings}, c.code, has...); !ok {
			t.Errorf("%s findings = %+v, want %s mentioning %q", r.in, rep.Findings, c.code, has)
		}
		wantTCPEvidence(t, r.in, stallResult{Address: res.Address, Timeline: res.Timeline}, c.event)
	}

	t.Run("forward", func(t *testing.T) {
		l.SetICMP(t, "drop")
		l.FlushPMTU(t)
		cases := []blackholeCase{
			{"body", "session", nil, dnscheck.CodePMTUBlackhole, []string{"client-to-server", "message body", "1500-byte packets vanish", "smtpprobe mtu "}, "message body"},
			{"body-blocking-write", "session", []string{"--size", "2000000"}, dnscheck.CodePMTUBlackhole, []string{"message body", "1500-byte packets vanish"}, "message body"},
			{"starttls", "session", []string{"--starttls"}, dnscheck.CodePMTUBlackhole, []string{"ClientHello", "segments"}, "ClientHello"},
			{"timeout-starttls", "timeout", []string{"--starttls", "--phase", "ehlo", "--max-wait", "20s"}, dnscheck.CodePMTUBlackhole, []string{"ClientHello"}, "ClientHello"},
		}
		for _, c := range cases {
			for _, fam := range fams {
				t.Run(c.name+fam.flag, func(t *testing.T) { check(t, c, fam.flag, fam.addr) })
			}
		}
	})

	// ICMP let through: PMTUD works and the same session passes.
	t.Run("forward-icmp-allowed", func(t *testing.T) {
		l.SetICMP(t, "allow")
		l.FlushPMTU(t)
		for _, fam := range fams {
			t.Run(fam.flag, func(t *testing.T) {
				r := runProbeArgs(t, l, bin, "session", append(common(fam.flag), "--starttls")...)
				rep := decodeProbe(t, r, "session")
				res := oneResult(t, r, rep)
				if r.exit != 0 || res.Outcome != "ok" || !res.Acked {
					t.Errorf("%s = exit %d, outcome %q (%s), acked %v, want exit 0, ok, acked", r.in, r.exit, res.Outcome, res.Error, res.Acked)
				}
			})
		}
	})

	t.Run("reverse", func(t *testing.T) {
		l.SetICMP(t, "allow")
		l.SetICMPReverse(t, "drop")
		t.Cleanup(func() { l.SetICMPReverse(t, "allow") })
		for _, fam := range fams {
			t.Run("starttls"+fam.flag, func(t *testing.T) {
				l.FlushPMTU(t)
				check(t, blackholeCase{"starttls", "session", []string{"--starttls"}, dnscheck.CodeReversePMTUBlackhole,
					[]string{"server-to-client", "advertising MSS"}, "handshake completed"}, fam.flag, fam.addr)
			})
		}
	})
}
