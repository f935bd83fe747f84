package probe

// The dialogue shared by every probe kind (MX, Session, Timeout
// and the mtu probes' sessions): connect, greet (banner, EHLO or HELO,
// STARTTLS), timed steps, the envelope, QUIT.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/mta"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

func (r *Result) timePhase(name string, d time.Duration) {
	if _, ok := r.Phases[name]; !ok {
		r.PhaseOrder = append(r.PhaseOrder, name)
	}
	r.Phases[name] = d
}

// setFailure records the first failure; later ones do not overwrite it.
func (r *Result) setFailure(o Outcome, msg string) {
	r.setFailureIn("", o, msg)
}

// setFailureIn is setFailure for a failure of phase's step: it also
// records the phase in FailedPhase.
func (r *Result) setFailureIn(phase string, o Outcome, msg string) {
	if r.Outcome != OK {
		return
	}
	r.Outcome, r.Error, r.FailedPhase = o, msg, phase
}

// replyOutcome classifies a reply received for a command. A reply that
// nobody asked for and that is not a rejection (a 2yz "keepalive", a 3yz)
// is a protocol error: RFC 5321 §4.2 has a server reply only to commands,
// and §3.8 allows only the closing 421 unprompted. A 4yz or 5yz is a
// rejection, whether it answers the command or came just before it (a
// 421 the server sent while the client was quiet is then retold as a
// server timeout by explainClose). want is the code the command needs
// (354 for DATA, RFC 5321 §4.1.1.4), or 0 for any 2yz.
func replyOutcome(rp wire.Reply, want int) (Outcome, string) {
	switch {
	case rp.Unsolicited && rp.OK():
		return ProtocolError, "reply nobody asked for: " + rp.String()
	case !rp.OK() && rp.Unsolicited:
		return Rejected, "server ended the session unasked: " + rp.String()
	case !rp.OK():
		return Rejected, "rejected: " + rp.String()
	case want != 0 && rp.Code != want:
		return ProtocolError, fmt.Sprintf("answered %s, not %d", rp.String(), want)
	case want == 0 && rp.Class() != 2:
		return ProtocolError, fmt.Sprintf("answered %s, not 2yz", rp.String())
	}
	return OK, ""
}

// helo returns the EHLO argument for a session from local.
func (p *Prober) helo(local net.Addr) string {
	if p.Helo != "" {
		return p.Helo
	}
	hn := os.Hostname
	if p.Hostname != nil {
		hn = p.Hostname
	}
	if h, err := hn(); err == nil && strings.Contains(strings.Trim(h, "."), ".") {
		return strings.TrimSuffix(h, ".")
	}
	return addressLiteral(local)
}

// dialogue is one probe session in progress: the connection, the result
// it fills in, and the steps every kind of probe shares.
type dialogue struct {
	p    *Prober
	ctx  context.Context
	c    *wire.Conn
	r    *Result
	t    Target
	rt   time.Duration
	name string // the EHLO name

	release func()             // frees the Limiter slot
	rcpts   map[string]string  // RCPT TO line -> its recipient (rcptLine)
	inData  bool               // a pipelined DATA got its 354 after the group failed
	noted   []*wire.StallError // stalls whose finding was added (evidence.go)
}

// begin connects to t; on failure it records the outcome in r and
// returns nil.
func (p *Prober) begin(ctx context.Context, t Target, r *Result) *dialogue {
	release, err := p.Limiter.Acquire(ctx, t.Addr.Addr())
	if err != nil {
		r.setFailure(ReplyTimeout, "waiting for a session slot: "+err.Error())
		return nil
	}
	p.forgetCachedPMTU(t, r) // mtu_reverse.go
	c, err := p.Dial(ctx, t.Addr)
	if err != nil {
		release()
		r.timePhase("connect", dialElapsed(err))
		r.setFailureIn("connect", Classify(err), err.Error())
		errors.As(err, &r.local)
		p.locate(ctx, t, r, err) // where the SYNs stop (path.go)
		return nil
	}
	r.timePhase("connect", c.Since())
	c.WatchStalls(p.watchStalls()) // stalls decided from TCP evidence (evidence.go)
	return &dialogue{p: p, ctx: ctx, c: c, r: r, t: t, rt: p.replyTimeout(), name: p.helo(c.LocalAddr()), release: release}
}

// end closes the connection, copies the timeline into the result and
// frees the session slot.
func (d *dialogue) end() {
	if d.r.Server == nil { // timeout's has the close in its evidence
		srv := d.identify() // server.go
		d.r.Server = &srv
	}
	d.r.TCP = d.c.TCPStats()
	d.noteCachedAdv() // mtu_reverse.go
	d.c.Close()
	d.r.Timeline = d.c.Timeline()
	d.release()
}

// step sends lines in one write (none: read the greeting; several:
// PIPELINING, RFC 2920) and reads one reply per line. phases names the
// replies in order; each is timed from the previous reply's arrival (the
// first from the write). It stops at the first failure, records it and
// returns false.
func (d *dialogue) step(phases []string, lines ...string) ([]wire.Reply, bool) {
	c, r := d.c, d.r
	prev := c.Since()
	n := max(len(lines), 1)
	fail := func(i int, o Outcome, msg string) {
		phase := phases[min(i, len(phases)-1)]
		r.timePhase(phase, c.Since()-prev)
		r.setFailureIn(phase, o, phase+": "+msg)
	}
	failErr := func(i int, err error) {
		if le := wire.LocalFailure(err); le != nil && r.local == nil {
			r.local = le // ENOBUFS on a write, say: this host's doing
		}
		fail(i, Classify(err), err.Error())
	}
	if len(lines) > 0 {
		if err := c.Send(d.ctx, d.rt, lines...); err != nil {
			failErr(0, err)
			return nil, false
		}
	}
	var replies []wire.Reply
	for i := 0; i < n; i++ {
		rp, err := c.ReadReply(d.ctx, d.rt)
		if err != nil {
			failErr(i, err)
			return replies, false
		}
		replies = append(replies, rp)
		rc := rp
		r.Reply = &rc
		phase := phases[min(i, len(phases)-1)]
		if o, msg := replyOutcome(rp, wantCode(phase)); o != OK {
			fail(i, o, msg)
			if o == Rejected && !rp.Unsolicited {
				line := ""
				if i < len(lines) {
					line = lines[i]
				}
				d.noteRejection(phase, line, rp)
			}
			// The rest of a pipelined group is still owed (RFC 2920
			// §3.1); read it so that a later QUIT gets its own reply.
			// Those replies go to the timeline; the result keeps the
			// one that failed.
			for j := i + 1; j < n && !rp.Unsolicited; j++ {
				late, err := c.ReadReply(d.ctx, quitTimeout)
				if err != nil {
					break
				}
				if j < len(phases) && phases[j] == "data" && late.Code == 354 {
					// The server now reads message text: a QUIT
					// would be a line of the body (RFC 5321
					// §4.1.1.4), so quit sends none.
					d.inData = true
				}
			}
			return replies, false
		}
		at := rp.At
		if at < prev { // queued before the command was sent
			at = c.Since()
		}
		r.timePhase(phase, at-prev)
		prev = at
	}
	return replies, true
}

// wantCode is the reply a phase needs: 220 for the greeting (RFC 5321
// §4.3.2), 354 for DATA (§4.1.1.4: the body is sent only after 354), and
// any 2yz (0) otherwise.
func wantCode(phase string) int {
	switch phase {
	case "banner":
		return 220
	case "data":
		return 354
	}
	return 0
}

// noteRejection adds the findings a rejection of line (sent in phase)
// calls for: greylisting is a healthy server asking for a retry later,
// not a failure; a recipient refused for good is the probe's own input
// to change (rcptRefused).
func (d *dialogue) noteRejection(phase, line string, rp wire.Reply) {
	if to, ok := d.rcpts[line]; ok && phase == "rcpt" && rp.Class() == 5 {
		d.r.Findings = append(d.r.Findings, rcptRefused(who(d.t, d.r.Address), to, rp))
	}
	if phase == "rcpt" && rp.Code == 450 && rp.Enhanced == "4.3.2" {
		if srv := d.identify(); srv.Software == mta.SoftwarePostscreen {
			d.r.Findings = append(d.r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodePostscreenDeferral,
				Message: fmt.Sprintf("%s is Postfix's postscreen: it deferred this new client with %s after its after-220 (deep protocol) tests, which a new client passes by being deferred once; transient, not a failure: the next session from the same address is handed to smtpd",
					who(d.t, d.r.Address), rp.String())})
			return
		}
	}
	if !isGreylisting(rp) {
		return
	}
	d.r.Findings = append(d.r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeGreylisted,
		Message: fmt.Sprintf("%s greylisted the probe at %s (%s): the server is healthy; a sender that retries after the server's greylisting delay will pass",
			who(d.t, d.r.Address), phase, rp.String())})
}

// rcptLine is the RCPT TO command for the recipient to (RFC 5321
// §4.1.1.3); the dialogue remembers which recipient it names, so that a
// refusal can say which one it was.
func (d *dialogue) rcptLine(to string) string {
	line := "RCPT TO:<" + to + ">"
	if d.rcpts == nil {
		d.rcpts = map[string]string{}
	}
	d.rcpts[line] = to
	return line
}

// OptionTo is the Finding.Option of the envelope recipient.
const OptionTo = "to"

// rcptRefused is the finding for a recipient that the server refused
// with a 5yz reply to RCPT (RFC 5321 §4.1.1.3, §4.2.2: 550 mailbox
// unavailable, 501 syntax, 553 name not allowed): the probe cannot go on
// past RCPT until it is given a recipient the server accepts. Every probe
// kind that sends RCPT (session, timeout, mtu) reports it the same way.
func rcptRefused(who, to string, rp wire.Reply) Finding {
	return Finding{Severity: SevWarning, Code: dnscheck.CodeRcptRefused, Option: OptionTo,
		Message: fmt.Sprintf("%s refused the recipient <%s> (%s); give a recipient the server accepts", who, to, rp.String())}
}

// step1 is step for one command (or the greeting, with no line).
func (d *dialogue) step1(phase string, line ...string) (wire.Reply, bool) {
	rs, ok := d.step([]string{phase}, line...)
	if len(rs) == 0 {
		return wire.Reply{}, ok
	}
	return rs[len(rs)-1], ok
}

// quit says QUIT after a failure, as RFC 5321 §3.1 and §4.1.1.10 ask,
// when the server is still talking; its reply is not judged and is
// awaited for quitTimeout at most. After a pipelined DATA's 354 the server
// reads message text, so the session just ends (the message is never
// completed, nothing is delivered).
func (d *dialogue) quit() {
	if d.r.Reply != nil && !d.r.Reply.Unsolicited && d.c.Ended() == nil && !d.inData {
		_, _ = d.c.Cmd(d.ctx, min(d.rt, quitTimeout), "QUIT")
	}
}

// finish ends a successful dialogue with QUIT, timed as phase "quit". The
// server must answer 221 (RFC 5321 §4.1.1.10); one that just closes, or
// does not answer within quitTimeout, is not failed for it, but a reply
// nobody asked for is.
func (d *dialogue) finish() {
	start := d.c.Since()
	rp, err := d.c.Cmd(d.ctx, min(d.rt, quitTimeout), "QUIT")
	d.r.timePhase("quit", d.c.Since()-start)
	if err == nil {
		rc := rp
		d.r.Reply = &rc
		if rp.Unsolicited {
			o, msg := replyOutcome(rp, 0)
			d.r.setFailureIn("quit", o, "quit: "+msg)
		}
	}
}

// greet reads the banner, says EHLO (falling back to HELO on 5yz), and
// with starttls runs STARTTLS when offered and says EHLO again. It
// reports whether the session may go on.
func (d *dialogue) greet(starttls bool) bool {
	r, t := d.r, d.t
	_, ok := d.greeting()
	if !ok {
		d.quit() // RFC 5321 §3.1: after a 554 greeting the client should QUIT.
		return false
	}
	ehlo, ok := d.step1("ehlo", "EHLO "+d.name)
	if !ok && ehlo.Class() == 5 && !ehlo.Unsolicited {
		r.Outcome, r.Error, r.FailedPhase = OK, "", "" // retry with HELO; the EHLO 5yz stays in the timeline
		delete(r.Phases, "ehlo")
		r.PhaseOrder = r.PhaseOrder[:len(r.PhaseOrder)-1]
		r.Findings = append(r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeEHLORejected,
			Message: fmt.Sprintf("%s [%s] rejected EHLO (%s); fell back to HELO", t.Host, r.Address, ehlo.String())})
		if _, ok = d.step1("helo", "HELO "+d.name); !ok {
			d.quit()
			return false
		}
	} else if !ok {
		d.quit()
		return false
	}
	r.Capabilities = ehlo.Keywords()
	if !starttls || !hasCap(r.Capabilities, "STARTTLS") {
		return true
	}
	start := d.c.Since()
	hello := wire.NewHelloConn(d.c.Raw(), 0) // records the ClientHello (tlshello.go)
	d.c.WrapTLS = hello.Wrap
	rp, st, err := d.c.StartTLS(d.ctx, d.rt, d.p.tlsConfig(t, r))
	r.timePhase("starttls", d.c.Since()-start)
	if rp.Code != 0 {
		rc := rp
		r.Reply = &rc
	}
	if d.diagnoseHello(err, hello) { // a large hello that stalled: middlebox or black hole
		return false
	}
	err = d.explainStall(err) // TCP evidence of a stalled handshake (evidence.go)
	switch {
	case err != nil:
		r.setFailureIn("starttls", Classify(err), "starttls: "+err.Error())
		return false
	case st == nil:
		o, msg := replyOutcome(rp, 220)
		r.setFailureIn("starttls", o, "starttls: "+msg)
		d.quit()
		return false
	}
	d.p.verifyTLS(t, r, st)
	r.TLS.noteHello(helloRecord(hello, "whole"), st)
	d.p.tlsFindings(t, r, st)
	ehlo2, ok := d.step1("ehlo_tls", "EHLO "+d.name)
	if !ok {
		d.quit()
		return false
	}
	r.Capabilities = ehlo2.Keywords()
	return true
}

func dialElapsed(err error) time.Duration {
	var de *wire.DialError
	if errors.As(err, &de) {
		return de.Elapsed
	}
	return 0
}

// hasCap reports whether keyword is among caps.
func hasCap(caps []string, keyword string) bool {
	_, ok := capParam(caps, keyword)
	return ok
}

// capParam returns the parameters of an EHLO keyword.
func capParam(caps []string, keyword string) (string, bool) {
	for _, c := range caps {
		kw, params, _ := strings.Cut(c, " ")
		if kw == keyword {
			return params, true
		}
	}
	return "", false
}

// Postmaster is the forward-path a probe uses when none is given:
// every domain's postmaster, which RFC 5321 §4.5.1 requires a server to
// accept.
const Postmaster = "postmaster"

// DefaultRecipient is the recipient a front end gives a probe of host
// when the user names none: postmaster at host's domain, which RFC 5321
// §4.5.1 requires to exist, or for an IP literal (or a name that is not
// a domain) the bare Postmaster every server must accept.
func DefaultRecipient(host string) string {
	if _, ok := parseIP(host); ok {
		return Postmaster
	}
	d, err := dnscheck.NormalizeDomain(host)
	if err != nil {
		return Postmaster
	}
	return Postmaster + "@" + d
}

// recipient returns to, or Postmaster when to is empty.
func recipient(to string) string {
	if to == "" {
		return Postmaster
	}
	return to
}

// envelope opens a mail transaction one command at a time (RFC 5321
// §3.3): MAIL FROM, RCPT TO and DATA, stopping after the step named last
// ("mail", "rcpt" or "data"). It returns the last reply read and whether
// every step passed; a failure is recorded by step.
func (d *dialogue) envelope(from, to, last string) (wire.Reply, bool) {
	var (
		rp wire.Reply
		ok bool
	)
	for _, s := range []struct{ phase, line string }{
		{"mail", "MAIL FROM:<" + from + ">"},
		{"rcpt", d.rcptLine(to)},
		{"data", "DATA"},
	} {
		if rp, ok = d.step1(s.phase, s.line); !ok || s.phase == last {
			break
		}
	}
	return rp, ok
}

// who names an address for a finding: "host [address]", or the address
// alone when the target was a literal.
func who(t Target, address string) string {
	if t.Host == address || t.Host == "" {
		return address
	}
	return fmt.Sprintf("%s [%s]", t.Host, address)
}

// quitTimeout bounds the wait for the reply to QUIT. The verdict is in by
// then, so a server that does not answer QUIT costs a couple of seconds,
// not another reply timeout (RFC 5321 §4.1.1.10 asks for 221, but the
// probe does not judge it).
const quitTimeout = 2 * time.Second

// isGreylisting reports whether a rejection is greylisting: 450 or 451
// with enhanced code 4.2.0 or 4.7.1 (RFC 3463 §3.3, §3.8, as Postgrey
// and Postfix's policy services send them), or a text that says
// "greylist" (or "graylist"), in any case.
func isGreylisting(rp wire.Reply) bool {
	if rp.Code != 450 && rp.Code != 451 {
		return false
	}
	if rp.Enhanced == "4.2.0" || rp.Enhanced == "4.7.1" {
		return true
	}
	t := strings.ToLower(rp.Text)
	return strings.Contains(t, "greylist") || strings.Contains(t, "graylist")
}

// addressLiteral renders an address as an RFC 5321 §4.1.3 address literal:
// "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func addressLiteral(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return "[127.0.0.1]"
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		return "[IPv6:" + ip.WithZone("").String() + "]"
	}
	return "[" + ip.String() + "]"
}

// greetingDelayNotable is the delay from connect after which a greeting
// counts as late: a server that holds its 220 this long does it on purpose
// (a tarpit: Exim's delay in the connect ACL, sendmail's greet_pause,
// postscreen_greet_wait).
const greetingDelayNotable = time.Second

// greeting reads the server's greeting (RFC 5321 §4.3.1), the whole of it:
// the client never talks before the final "220 " line, so that
// postscreen's pre-greet test, which blacklists a client for one early
// byte, is never failed. A late greeting is measured (GreetingDelay) and
// named; one that outlasts the probe's own reply timeout gets a finding
// that names that limit.
func (d *dialogue) greeting() (wire.Reply, bool) {
	r := d.r
	banner, ok := d.step1("banner")
	if banner.Code != 0 {
		r.Banner = banner.String()
	}
	switch {
	case ok && banner.At >= greetingDelayNotable:
		r.GreetingDelay = ptr(banner.At)
		if mta.Teaser(banner) {
			r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodePostscreenPregreet,
				Message: fmt.Sprintf("%s is Postfix's postscreen: it sent a 220- teaser and the final 220 %s after connect (postscreen_greet_wait); the probe waited for the final 220, as postscreen's pre-greet test requires (a client that talks early is blacklisted)",
					who(d.t, r.Address), fmtDur(banner.At))})
			break
		}
		r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeGreetingDelayed,
			Message: fmt.Sprintf("%s delays its greeting: the 220 came %s after connect (a tarpit; RFC 5321 §4.5.3.2.1 lets a client wait 5 minutes for it)",
				who(d.t, r.Address), fmtDur(banner.At))})
	case !ok && r.Outcome == ReplyTimeout && r.FailedPhase == "banner" && d.c.Ended() == nil:
		r.Findings = append(r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeGreetingTimeout, Option: OptionReplyTimeout,
			Message: fmt.Sprintf("%s accepted the connection but sent no greeting within %s, the probe's own reply limit; RFC 5321 §4.5.3.2.1 gives the 220 greeting 5 minutes, and a tarpit delays it on purpose: if the delay is intended, raise the probe's reply limit above it",
				who(d.t, r.Address), d.rt)})
	}
	return banner, ok
}

// OptionReplyTimeout is the Finding.Option of the probe's reply limit.
const OptionReplyTimeout = "timeout"
