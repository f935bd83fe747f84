package probe

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// SessionOptions script one synthetic mail transaction.
type SessionOptions struct {
	From string   // reverse-path; "" is the null sender <> (RFC 5321 §4.5.5)
	To   []string // forward-paths; at least one
	Size int      // message bytes (headers included)
	// ChunkSize is the bytes per write (per BDAT chunk with BDAT); 0
	// means the whole message at once.
	ChunkSize       int
	ChunkPause      time.Duration // between chunks
	PauseBeforeData time.Duration // after the RCPT replies, before DATA
	PauseAfterData  time.Duration // after the 354, before the body
	Pipelining      bool          // MAIL, RCPT and DATA in one write when offered (RFC 2920)
	BDAT            bool          // RFC 3030 BDAT chunks; the server must offer CHUNKING
	StartTLS        bool
	// Deliver sends the final dot (or BDAT LAST) so the server queues the
	// message. Without it the transaction is abandoned once TCP has
	// acknowledged every byte, and nothing is delivered.
	Deliver bool
	// RetryDeferral reconnects once when postscreen deferred the new
	// client (postscreen-deferral), and reports both sessions.
	RetryDeferral bool
}

// CapabilityError means the options need something the server does not
// offer, such as BDAT without CHUNKING or a message above SIZE. It is an
// input problem, not a probe outcome. Field names the SessionOptions
// field neutrally, as the job's option keys do ("size", "bdat"), so that
// each front end can name it in its own words.
type CapabilityError struct {
	Host, Address string
	Field         string // the option the server cannot honour: "size" or "bdat"
	Reason        string // what the server lacks, without the option's spelling
}

func (e *CapabilityError) Error() string {
	return fmt.Sprintf("%s [%s]: %s", e.Host, e.Address, e.Reason)
}

// Session runs one scripted transaction against t: greeting, EHLO,
// optional STARTTLS, MAIL, RCPT, DATA (or BDAT) with the configured
// pauses, the body in chunks, and then either the final dot (Deliver) or
// an abandoned transaction once every byte is acknowledged. The timeline
// records everything the wire did. The error is non-nil only for a
// *CapabilityError, a *LocalError (this host's socket layer failed) or a
// cancelled ctx.
func (p *Prober) Session(ctx context.Context, t Target, opt SessionOptions) (Result, error) {
	r, err := p.session(ctx, t, opt)
	if err != nil || !opt.RetryDeferral || !deferred(r) {
		return r, err
	}
	r2, err := p.session(ctx, t, opt)
	return retried(r, r2), err
}

// deferred reports whether postscreen deferred the session's new client.
func deferred(r Result) bool {
	return hasFindingCode(r.Findings, dnscheck.CodePostscreenDeferral)
}

// retried is the result of a session retried after a postscreen
// deferral: the second session's, with the first kept in Deferred and
// its findings joined, and a finding that tells how the retry went.
func retried(first, second Result) Result {
	f := first
	second.Deferred = &f
	findings := append(first.Findings, second.Findings...)
	verdict := "passed"
	if !second.Good() {
		verdict = fmt.Sprintf("ended %s (%s)", second.Outcome, second.Error)
	}
	second.Findings = append(findings, Finding{Severity: SevInfo, Code: dnscheck.CodePostscreenDeferralRetried,
		Message: fmt.Sprintf("%s: the session after postscreen's deferral, from the same address, %s", who(Target{Host: second.Host}, second.Address), verdict)})
	return second
}

func hasFindingCode(fs []Finding, code string) bool {
	for _, f := range fs {
		if f.Code == code {
			return true
		}
	}
	return false
}

func (p *Prober) session(ctx context.Context, t Target, opt SessionOptions) (r Result, err error) {
	r = newResult(t)
	d := p.begin(ctx, t, &r)
	if d == nil {
		if r.local != nil && ctx.Err() == nil {
			return r, r.local
		}
		return r, ctx.Err()
	}
	defer d.end()
	if !d.greet(opt.StartTLS) {
		return r, ctx.Err()
	}
	if opt.StartTLS && r.TLS == nil {
		r.Findings = append(r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeStartTLSNotOffered,
			Message: fmt.Sprintf("%s [%s] does not offer STARTTLS; the session went on in the clear", t.Host, r.Address)})
	}
	rcpt := opt.To
	if len(rcpt) == 0 {
		rcpt = []string{Postmaster}
	}
	msg := message(opt.From, rcpt[0], d.name, opt.Size, p.now())
	r.MessageBytes = len(msg)
	sizeMax, hasSize := capParam(r.Capabilities, "SIZE")
	if n, err := strconv.Atoi(sizeMax); hasSize && err == nil && n > 0 && len(msg) > n {
		d.finish()
		return r, &CapabilityError{t.Host, r.Address, "size", fmt.Sprintf(
			"message of %d bytes exceeds the server's advertised SIZE %d (RFC 1870); give a smaller message size", len(msg), n)}
	}
	if opt.BDAT && !hasCap(r.Capabilities, "CHUNKING") {
		d.finish()
		return r, &CapabilityError{t.Host, r.Address, "bdat", "BDAT needs CHUNKING (RFC 3030), which the server does not offer"}
	}
	pipelining := opt.Pipelining && hasCap(r.Capabilities, "PIPELINING")
	if opt.Pipelining && !pipelining {
		r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodePipeliningNotOffered,
			Message: fmt.Sprintf("%s [%s] does not offer PIPELINING (RFC 2920); commands were sent one by one", t.Host, r.Address)})
	}

	mail := "MAIL FROM:<" + opt.From + ">"
	if hasSize {
		mail += fmt.Sprintf(" SIZE=%d", len(msg)) // RFC 1870 §6
	}
	if opt.BDAT {
		mail += " BODY=8BITMIME" // RFC 3030 §2: BDAT carries any body type
	}
	env := []string{mail}
	phases := []string{"mail"}
	for _, to := range rcpt {
		env = append(env, d.rcptLine(to))
		phases = append(phases, "rcpt")
	}
	withData := pipelining && !opt.BDAT && opt.PauseBeforeData == 0
	if withData {
		// As the field report's sender did: RCPT and DATA in one write;
		// DATA ends the pipelined group (RFC 2920 §3.1).
		env = append(env, "DATA")
		phases = append(phases, "data")
	}
	if pipelining {
		if _, ok := d.step(phases, env...); !ok {
			d.abandon(opt)
			return r, ctx.Err()
		}
	} else {
		for i, line := range env {
			if _, ok := d.step1(phases[i], line); !ok {
				d.abandon(opt)
				return r, ctx.Err()
			}
		}
	}
	if opt.PauseBeforeData > 0 {
		if _, err := d.c.Pause(ctx, wire.PauseBeforeData, opt.PauseBeforeData, false); err != nil {
			return d.cut(err)
		}
	}
	if opt.BDAT {
		return r, d.bdat(msg, opt)
	}
	if !withData {
		if _, ok := d.step1("data", "DATA"); !ok {
			d.abandon(opt)
			return r, ctx.Err()
		}
	}
	if opt.PauseAfterData > 0 {
		if _, err := d.c.Pause(ctx, wire.PauseAfterData, opt.PauseAfterData, false); err != nil {
			return d.cut(err)
		}
	}
	start := d.c.Since()
	defer d.bodyTCP()() // the true byte counts, from TCP_INFO
	for off, ch := range chunks(msg, opt.ChunkSize) {
		if off > 0 && opt.ChunkPause > 0 {
			if _, err := d.c.Pause(ctx, wire.ChunkPause, opt.ChunkPause, false); err != nil {
				return d.cut(err)
			}
		}
		if err := d.c.WriteData(ctx, d.rt, ch); err != nil {
			r.timePhase("body", d.c.Since()-start)
			d.writeFailed(err, opt)
			return r, ctx.Err()
		}
		r.BytesWritten += len(ch)
	}
	if !opt.Deliver {
		ok := d.awaitAcked("body", start, opt)
		if ok && !d.peerSpoke(opt) {
			d.c.Event(wire.EvClose, "every byte acknowledged; closing without the final dot, so no mail is delivered")
		}
		return r, ctx.Err()
	}
	r.timePhase("body", d.c.Since()-start)
	// RFC 5321 §4.1.1.4: the body ends with CRLF.CRLF; Message ends with
	// CRLF already.
	rp, ok := d.step1("dot", ".")
	if !ok {
		d.abandon(opt)
		return r, ctx.Err()
	}
	r.QueueID = queueID(rp)
	d.finish()
	return r, ctx.Err()
}

// bdat sends the message in BDAT chunks (RFC 3030 §2), each answered by
// 250. Without Deliver no chunk is LAST and the transaction is reset
// (RSET) and the session ended with QUIT, so nothing is delivered.
func (d *dialogue) bdat(msg []byte, opt SessionOptions) error {
	defer d.bodyTCP()() // the true byte counts, from TCP_INFO
	if opt.PauseAfterData > 0 {
		if _, err := d.c.Pause(d.ctx, wire.PauseAfterData, opt.PauseAfterData, false); err != nil {
			_, err = d.cut(err)
			return err
		}
	}
	for off, ch := range chunks(msg, opt.ChunkSize) {
		last := off+len(ch) == len(msg)
		if off > 0 && opt.ChunkPause > 0 {
			if _, err := d.c.Pause(d.ctx, wire.ChunkPause, opt.ChunkPause, false); err != nil {
				_, err = d.cut(err)
				return err
			}
		}
		cmd := fmt.Sprintf("BDAT %d", len(ch))
		if last && opt.Deliver {
			cmd += " LAST"
		}
		start := d.c.Since()
		if err := d.c.Send(d.ctx, d.rt, cmd); err != nil {
			d.r.timePhase("bdat", d.c.Since()-start)
			d.writeFailed(err, opt)
			return d.ctx.Err()
		}
		if err := d.c.WriteData(d.ctx, d.rt, ch); err != nil {
			d.r.timePhase("bdat", d.c.Since()-start)
			d.writeFailed(err, opt)
			return d.ctx.Err()
		}
		d.r.BytesWritten += len(ch)
		rp, ok := d.step1("bdat")
		if !ok {
			d.abandon(opt)
			return d.ctx.Err()
		}
		if last && opt.Deliver {
			d.r.QueueID = queueID(rp)
		}
	}
	if !opt.Deliver {
		if _, ok := d.step1("rset", "RSET"); !ok {
			return d.ctx.Err()
		}
	}
	d.finish()
	return d.ctx.Err()
}

// chunks yields msg in pieces of size n (all of it when n <= 0), with
// each piece's offset; nothing is allocated per piece.
func chunks(msg []byte, n int) iter.Seq2[int, []byte] {
	if n <= 0 {
		n = len(msg)
	}
	return func(yield func(int, []byte) bool) {
		for off := 0; off < len(msg) || off == 0; off += n {
			if !yield(off, msg[off:min(off+n, len(msg))]) {
				return
			}
			if n == 0 {
				return
			}
		}
	}
}

// cut records a run deadline or cancellation that ended a pause (see
// Classify) and returns the result with ctx's error.
func (d *dialogue) cut(err error) (Result, error) {
	d.r.setFailure(Classify(err), "run deadline during a pause: "+err.Error())
	return *d.r, err
}

// queueID extracts the queue id from a 250 reply to the final dot, such
// as Postfix's "250 2.0.0 Ok: queued as 4Xb1Y20Q3Tz8".
func queueID(rp wire.Reply) string {
	if _, after, ok := strings.Cut(rp.Text, "queued as "); ok {
		return strings.Fields(after + " ")[0]
	}
	return rp.Text
}

// bodyTCP returns the function that records what TCP did with the body
// in Result.BodyTCP (wire.Conn.CountBody), or nothing where TCP_INFO
// cannot be read.
func (d *dialogue) bodyTCP() func() {
	count := d.c.CountBody()
	return func() {
		if b := count(d.r.MessageBytes); b != nil {
			d.r.BodyTCP = b
		}
	}
}

// awaitAcked waits until TCP has acknowledged every byte written (TCP_INFO
// on Linux), so that abandoning the transaction still proves the path
// carried the message. It records the phase and any failure, and reports
// whether the bytes were acknowledged.
func (d *dialogue) awaitAcked(phase string, start time.Duration, opt SessionOptions) bool {
	err := d.c.WaitAcked(d.ctx, d.rt)
	d.r.timePhase(phase, d.c.Since()-start)
	err = d.bodyStall(err, start) // a black hole, from TCP evidence (evidence.go)
	switch {
	case err == nil:
		d.r.Acked = true
		return true
	case errors.Is(err, errors.ErrUnsupported):
		// No TCP_INFO here: the kernel accepted the bytes, which is
		// all that can be said.
		d.r.Findings = append(d.r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeAckUnverified,
			Message: "this system cannot read TCP_INFO; delivery of the body to the peer's TCP was not verified"})
		return true
	}
	var le *wire.LostError
	if errors.As(err, &le) {
		d.r.Findings = append(d.r.Findings, Finding{Severity: SevCritical, Code: dnscheck.CodeBodySegmentsLost,
			Message: fmt.Sprintf("%s: the commands passed but the body's full-size segments (snd_mss %d) were retransmitted %d times without an acknowledgement; a PMTU black hole looks like this (smtpprobe mtu %s brackets it)",
				who(d.t, d.r.Address), le.SndMSS, le.Retransmits, d.r.Address)})
	}
	d.writeFailed(err, opt)
	return false
}

// writeFailed classifies a failed write or acknowledgement wait and, when
// the server had already ended an idle session, tells that story.
func (d *dialogue) writeFailed(err error, opt SessionOptions) {
	d.noteStall(err) // the finding of a write ended by TCP evidence (evidence.go)
	if d.explainClose(opt) {
		return
	}
	d.r.setFailureIn("body", Classify(err), "body: "+err.Error())
}

// explainClose looks for the server ending the session on its own, with
// a 4yz/5yz nobody asked for (a 421, RFC 5321 §3.8) or a FIN, and tells
// that story; it reports whether it found such a close.
//
// The close is an idle timeout (server-timeout, RFC 5321 §4.5.3.2) only
// when the client was idle: no command awaited its reply and a pause lay
// behind it (the close came during the pause, or after it before the
// client sent anything). The result then carries how long the server had
// waited since it last heard or said anything, and which pause was longer
// than that. A FIN that comes while the client was not idle (a command
// awaited its reply, or the body was being written) is closed; a 421
// then stays the rejection it is.
func (d *dialogue) explainClose(opt SessionOptions) bool {
	switch d.r.Outcome {
	case TLSError, ProtocolError:
		return false // the server said why, or its bytes were not SMTP
	case Rejected:
		if d.r.Reply == nil || !d.r.Reply.Unsolicited {
			return false // a reply to a command
		}
	}
	var (
		idleFrom   time.Duration
		closeAt    time.Duration = -1
		closeWhat  string
		fin        bool
		pause      wire.Pause // the pause in progress
		after      wire.Pause // the pause that ended last, with nothing sent since
		closePause wire.Pause
		sending    bool                       // the body was being written
		awaiting   = []string{"the greeting"} // commands awaiting their replies
		doing      string                     // what the client was doing when the close came
		rst        *wire.Event                // the RST after the close
	)
	for _, e := range d.c.Timeline() {
		if closeAt >= 0 {
			if e.Kind == wire.EvRST && rst == nil {
				rst = &e
			}
			continue
		}
		switch e.Kind {
		case wire.EvSend:
			idleFrom, after, sending = e.At, "", false
			awaiting = append(awaiting, fmt.Sprintf("%q", e.Text))
		case wire.EvData:
			if e.Text == "" || e.Count > 1 {
				idleFrom, after, sending = e.End(), "", true
			}
		case wire.EvReply:
			idleFrom = e.At
			if len(awaiting) > 0 {
				awaiting = awaiting[1:]
			}
		case wire.EvPauseStart:
			pause = e.Pause
		case wire.EvPauseEnd:
			after, pause = pause, ""
		case wire.EvUnsolicited:
			if e.Reply == nil || e.Reply.OK() {
				continue // a stray 2yz is a protocol event, not a close
			}
			closeAt, closeWhat = e.At, e.Reply.String()
		case wire.EvFIN:
			closeAt, closeWhat, fin = e.At, "FIN", true
		}
		if closeAt >= 0 {
			closePause = pause
			if closePause == "" {
				closePause = after
			}
			switch {
			case len(awaiting) > 0:
				closePause, doing = "", "while "+awaiting[0]+" awaited its reply"
			case sending && pause == "":
				doing = "while the client was sending the body"
			}
		}
	}
	if closeAt < 0 {
		return false
	}
	idle := closeAt - idleFrom
	finAt, finished := d.c.FINAt()
	late := ""
	if rst != nil {
		late = fmt.Sprintf("; the late write at %s met RST (%s)", fmtDur(rst.At), rst.Text)
	}
	if closePause == "" {
		// Not an idle timeout: the server hung up on a client that was
		// talking to it or waiting for it.
		if !fin {
			return false // the unasked 4yz/5yz stays a rejection
		}
		msg := fmt.Sprintf("server closed the connection (FIN) at %s", fmtDur(closeAt))
		if doing != "" {
			msg += " " + doing
		}
		d.r.Outcome, d.r.Error, d.r.FailedPhase = Closed, msg+late, ""
		return true
	}
	d.r.IdleTimeout = ptr(idle)
	var msg string
	switch {
	case fin:
		msg = fmt.Sprintf("server ended the session %s after it last heard or said anything (FIN during the %s)", fmtDur(idle), closePause)
	case finished:
		msg = fmt.Sprintf("server ended the session %s after it last heard or said anything (%s during the %s), FIN at %s", fmtDur(idle), closeWhat, closePause, fmtDur(finAt))
	default:
		msg = fmt.Sprintf("server gave up on the session %s after it last heard or said anything (%s during the %s) but kept the connection open", fmtDur(idle), closeWhat, closePause)
	}
	// The server's close is the cause; a reset or EPIPE on the late
	// write, which a sender logs as "Broken pipe", is only its echo.
	d.r.Outcome, d.r.Error, d.r.FailedPhase = ServerTimeout, msg+late, ""
	if p := pauseLength(closePause, opt); p > 0 {
		srv := d.identify()
		d.r.Findings = append(d.r.Findings, Finding{Severity: SevCritical, Code: dnscheck.CodePauseExceedsServerTimeout, Option: pauseOption(closePause),
			Message: fmt.Sprintf("%s [%s]: the %s of %s is longer than the server's idle timeout of %s; shorten it below %s, %s",
				d.t.Host, d.r.Address, closePause, units.Setting(p), fmtDur(idle), fmtDur(idle), pauseAdvice(srv.Software, pausePhase(closePause), p))})
	}
	return true
}

// abandon ends a transaction that failed: it tells the server-close story
// when there is one, and says QUIT if the server still listens.
func (d *dialogue) abandon(opt SessionOptions) {
	d.explainClose(opt)
	d.quit()
}

// peerSpoke judges what the server did while the client wrote the body
// without waiting for a reply: a close is told by explainClose, and a
// reply nobody asked for is a protocol error. It reports whether there
// was anything.
func (d *dialogue) peerSpoke(opt SessionOptions) bool {
	if !d.c.PeerActed() {
		return false
	}
	if rp, err := d.c.ReadReply(d.ctx, time.Millisecond); err == nil {
		rc := rp
		d.r.Reply = &rc
		o, msg := replyOutcome(rp, 0)
		if o == OK {
			o, msg = ProtocolError, "reply during the body: "+rp.String()
		}
		d.r.setFailureIn("body", o, "body: "+msg)
	} else {
		d.r.setFailureIn("body", Classify(err), "body: "+err.Error())
	}
	d.explainClose(opt)
	return true
}

// pauseLength returns the configured length of the named pause.
func pauseLength(name wire.Pause, opt SessionOptions) time.Duration {
	switch name {
	case wire.PauseBeforeData:
		return opt.PauseBeforeData
	case wire.PauseAfterData:
		return opt.PauseAfterData
	case wire.ChunkPause:
		return opt.ChunkPause
	}
	return 0
}

func ptr[T any](v T) *T { return &v }

// intOr renders *p, or dflt when p is nil.
func intOr(p *int, dflt string) string {
	if p == nil {
		return dflt
	}
	return fmt.Sprint(*p)
}

// fmtDur renders a measured duration the one way people read it
// (units.Duration).
func fmtDur(d time.Duration) string { return units.Duration(d) }
