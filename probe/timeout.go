package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/mta"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// TimeoutPhases are the points of a session at which Timeout can go
// quiet, in session order.
var TimeoutPhases = []string{"banner", "ehlo", "mail", "rcpt", "data", "body"}

// rFCServerTimeout is the least time a server should wait for the next
// command: RFC 5321 §4.5.3.2.7, "Server Timeout: 5 Minutes".
const rFCServerTimeout = 5 * time.Minute

// DefaultMaxWait caps a timeout measurement: twice Postfix's default
// smtpd_timeout (300 s), so that a server meeting RFC 5321 §4.5.3.2.7 is
// measured rather than cut off.
const DefaultMaxWait = 10 * time.Minute

// ClosedBy says how a server ended an idle session in a timeout probe.
// Its JSON values are "421", "fin" and "rst"; a close by another 4yz or
// 5yz reply than 421 is that reply's code ("451", "554"...).
type ClosedBy string

const (
	ClosedBy421 ClosedBy = "421" // an unsolicited 421 (RFC 5321 §3.8)
	ClosedByFIN ClosedBy = "fin" // a bare FIN, without a reply
	ClosedByRST ClosedBy = "rst" // a reset
)

// closedByReply is the ClosedBy of a close by the unsolicited reply rp.
func closedByReply(rp wire.Reply) ClosedBy {
	if rp.Code == 421 {
		return ClosedBy421
	}
	return ClosedBy(strconv.Itoa(rp.Code))
}

// TimeoutOptions configure idle-timeout discovery.
type TimeoutOptions struct {
	MaxWait  time.Duration // how long to stay quiet at most; 0 means DefaultMaxWait
	From     string        // reverse-path for the mail, rcpt, data and body phases
	To       string        // forward-path; "" means Postmaster
	StartTLS bool
	// Pauses the user plans (the session's pauses: PauseBeforeData,
	// PauseAfterData, ChunkPause); a measured timeout shorter than one of
	// them is a critical finding.
	Pauses map[wire.Pause]time.Duration
	// Phase is where to go quiet: one of TimeoutPhases.
	Phase string
	// RetryDeferral reconnects once when postscreen deferred the new
	// client before the phase was reached, and reports both sessions.
	RetryDeferral bool
}

// IsPhase reports whether s names a timeout phase.
func IsPhase(s string) bool {
	for _, p := range TimeoutPhases {
		if p == s {
			return true
		}
	}
	return false
}

// Timeout drives a session to opt.Phase, goes quiet, and times how long
// the server waits before it hangs up, from the moment the server last
// heard or said something. The result carries the timeout, what closed
// the session (an unsolicited 421, a bare FIN, or RST), the server's
// software as recognised from the session (Server) and, where that
// software's line is known, the line it logs for it. The error is non-nil
// only for a *wire.LocalError (this host's socket layer failed) or a
// cancelled ctx. With RetryDeferral, a session that postscreen deferred is
// retried once (retried).
//
// Every phase is a session of its own: a front end measures several
// phases at once (in parallel sessions, so that the wall time is about
// the longest timeout rather than the sum), and Run judges the phases of
// one address together (one server-timeout-below-rfc finding for all).
func (p *Prober) Timeout(ctx context.Context, t Target, opt TimeoutOptions) (Result, error) {
	r := p.timeout(ctx, t, opt.Phase, opt)
	if opt.RetryDeferral && deferred(r) && ctx.Err() == nil && r.local == nil {
		r = retried(r, p.timeout(ctx, t, opt.Phase, opt))
	}
	return r, r.err(ctx)
}

func (p *Prober) timeout(ctx context.Context, t Target, phase string, opt TimeoutOptions) (r Result) {
	r = newResult(t)
	r.Phase = phase
	d := p.begin(ctx, t, &r)
	if d == nil {
		return r
	}
	defer d.end()
	to := recipient(opt.To)
	var quietFrom time.Duration
	mark := func(rp wire.Reply) { quietFrom = rp.At }
	ok := true
	var rp wire.Reply
	switch phase {
	case "banner":
		rp, ok = d.greeting()
		mark(rp)
	default:
		if ok = d.greet(opt.StartTLS); ok {
			mark(*r.Reply)
		}
		if ok && phase != "ehlo" {
			last := phase
			if phase == "body" {
				last = "data"
			}
			rp, ok = d.envelope(opt.From, to, last)
			mark(rp)
		}
		if ok && phase == "body" {
			// The headers of a message, then silence: the server is
			// inside DATA with some bytes received.
			msg := message(opt.From, to, d.name, 0, p.now())
			if err := d.c.WriteData(ctx, d.rt, msg); err != nil {
				d.writeFailed(err, SessionOptions{})
				ok = false
			} else {
				r.BytesWritten = len(msg)
				quietFrom = d.c.Since()
			}
		}
	}
	if !ok {
		d.quit()
		return r
	}
	maxWait := opt.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	// The quiet period lasts until the server ends the session or
	// maxWait passes. A reply nobody asked for that is not a rejection
	// (a "250" keepalive) is a protocol event, recorded and noted, but
	// not the close: the wait goes on, and the timeout is still measured
	// from the last thing the client sent or heard in answer.
	var (
		stray    []wire.Reply
		closedAt time.Duration
		rerr     error
	)
	quietEnd := d.c.Since() + maxWait
	for {
		acted, err := d.c.Pause(ctx, wire.PauseQuiet, max(quietEnd-d.c.Since(), 0), true)
		if err != nil {
			r.setFailure(Classify(err), "run deadline: "+err.Error())
			return r
		}
		if !acted {
			r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeNoTimeoutWithinMaxWait,
				Message: fmt.Sprintf("%s [%s] kept the idle session open for %s at phase %s, the longest this probe waits; allow a longer wait to measure its timeout", t.Host, r.Address, units.Setting(maxWait), phase)})
			if len(stray) > 0 {
				rc := stray[len(stray)-1]
				r.Reply = &rc
				r.setFailure(ProtocolError, fmt.Sprintf("reply nobody asked for during the idle wait: %s (%d in all), and no close within %s", rc.String(), len(stray), units.Setting(maxWait)))
			}
			return r
		}
		rp, rerr = d.c.ReadReply(ctx, time.Millisecond)
		if rerr == nil && rp.Unsolicited && rp.OK() {
			stray = append(stray, rp)
			continue // bounded: the reader ends after MaxUnsolicited
		}
		break
	}
	if len(stray) > 0 {
		r.Findings = append(r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeUnsolicitedReply,
			Message: fmt.Sprintf("%s sent %s during the idle wait at phase %s without being asked (%d in all); RFC 5321 §4.2 has a server reply only to commands. It was not taken as the close.",
				who(t, r.Address), stray[0].String(), phase, len(stray))})
	}
	keptOpen := false
	switch {
	case rerr == nil && rp.Unsolicited:
		closedAt, r.ClosedBy = rp.At, closedByReply(rp)
		rc := rp
		r.Reply = &rc
		// The FIN that follows the 421 (RFC 5321 §3.8).
		_ = d.c.WaitEnd(ctx, quitTimeout)
		_, fin := d.c.FINAt()
		keptOpen = !fin && d.c.Ended() == nil
	case rerr == nil:
		r.setFailure(ProtocolError, "reply during an idle wait: "+rp.String())
		return r
	case errors.Is(rerr, wire.ErrClosed):
		closedAt, _ = d.c.FINAt()
		r.ClosedBy = ClosedByFIN
	case errors.Is(rerr, wire.ErrReset):
		closedAt, r.ClosedBy = d.c.Since(), ClosedByRST
		for _, e := range d.c.Timeline() {
			if e.Kind == wire.EvRST {
				closedAt = e.At
			}
		}
	default:
		r.setFailure(Classify(rerr), "idle wait: "+rerr.Error())
		return r
	}
	idle := closedAt - quietFrom
	r.Timeout = ptr(idle)
	srv := d.identifyClose(r.ClosedBy == ClosedByFIN, idle)
	r.Server = &srv
	ip, port := clientAddr(d.c)
	r.ServerLog = mta.LogLine(srv.Software, phase, mta.LogContext{Client: ip, Port: port, Helo: d.name, From: opt.From, Bytes: r.BytesWritten})
	what := "sent " + rp.String() + " and closed the connection"
	switch {
	case r.ClosedBy == ClosedByFIN:
		what = "closed (FIN) without a reply"
	case r.ClosedBy == ClosedByRST:
		what = "reset the connection"
	case keptOpen && rp.Code == 421:
		what = "sent " + rp.String() + " but kept the connection open"
	case keptOpen:
		what = "abandoned the transaction with " + rp.String() + " (the session stayed open)"
	}
	r.setFailure(ServerTimeout, fmt.Sprintf("idle at phase %s, the server %s after %s", phase, what, fmtDur(idle)))
	if belowRFC(idle, phase) {
		r.Findings = append(r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeServerTimeoutBelowRFC,
			Message: fmt.Sprintf("%s drops a session idle at phase %s after %s; %s asks servers to wait at least that long (%s)",
				who(t, r.Address), phase, fmtDur(idle), rfcSection(phase), belowRFCAdvice(srv.Software, phase))})
	}
	for name, pause := range opt.Pauses {
		if pausePhase(name) == phase && pause >= idle {
			r.Findings = append(r.Findings, Finding{Severity: SevCritical, Code: dnscheck.CodePauseExceedsServerTimeout, Option: pauseOption(name),
				Message: fmt.Sprintf("%s: the %s of %s would outlast the server's %s idle timeout at phase %s; shorten it below %s, %s",
					who(t, r.Address), name, units.Setting(pause), fmtDur(idle), phase, fmtDur(idle), pauseAdvice(srv.Software, phase, pause))})
		}
	}
	return r
}

// clientAddr is the probe's own address and port on c, as a server's log
// line names them.
func clientAddr(c *wire.Conn) (string, int) {
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return "", 0
	}
	return ap.Addr().Unmap().WithZone("").String(), int(ap.Port())
}

// advisedServerTimeout is the server idle timeout, in whole seconds, that
// the pause-exceeds-server-timeout finding advises for a sender pause: a
// third more than the pause, rounded up to a multiple of ten seconds, so
// that a 300 s pause advises 400 and a 301 s pause 410. The third is
// headroom for the sender's own delay around the pause (the project's
// rule; RFC 5321 §4.5.3.2 sets only the minimum a server should wait).
// Both the session and the timeout probe use it, in integer arithmetic.
func advisedServerTimeout(pause time.Duration) int {
	const step = 3 * 10 * time.Second // ceil(pause*4/3 / 10 s) = ceil(pause*4 / 30 s)
	return int((4*pause+step-1)/step) * 10
}

// onePerAddress are the codes of findings about the server as a whole
// (its greeting, postscreen's tests), which each phase's session of one
// address finds alike: mergeBelowRFC keeps the first of each.
var onePerAddress = map[string]bool{dnscheck.CodeGreetingDelayed: true, dnscheck.CodePostscreenPregreet: true, dnscheck.CodePostscreenDeferral: true}

// mergeBelowRFC replaces the per-phase "server-timeout-below-rfc" findings
// of one address by one that lists every phase (Run, for each address),
// and keeps one of each finding about the server as a whole
// (onePerAddress).
func mergeBelowRFC(rs []Result, who string) {
	seen := map[string]bool{}
	for i := range rs {
		kept := rs[i].Findings[:0]
		for _, f := range rs[i].Findings {
			if onePerAddress[f.Code] {
				if seen[f.Code] {
					continue
				}
				seen[f.Code] = true
			}
			kept = append(kept, f)
		}
		rs[i].Findings = kept
	}
	var (
		parts  []string
		advice = map[string]bool{}
		advs   []string
	)
	for i := range rs {
		kept := rs[i].Findings[:0]
		for _, f := range rs[i].Findings {
			if f.Code == dnscheck.CodeServerTimeoutBelowRFC {
				parts = append(parts, fmt.Sprintf("%s after %s", rs[i].Phase, fmtDur(*rs[i].Timeout)))
				sw := mta.SoftwareUnknown
				if rs[i].Server != nil {
					sw = rs[i].Server.Software
				}
				if a := belowRFCAdvice(sw, rs[i].Phase); !advice[a] {
					advice[a] = true
					advs = append(advs, a)
				}
				continue
			}
			kept = append(kept, f)
		}
		rs[i].Findings = kept
	}
	rfc := "RFC 5321 §4.5.3.2 asks servers to wait at least 5 minutes for a command and 3 minutes for each block of message data"
	if len(parts) > 1 {
		rs[0].Findings = append(rs[0].Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeServerTimeoutBelowRFC,
			Message: fmt.Sprintf("%s drops idle sessions at %s; %s (%s)", who, strings.Join(parts, ", "), rfc, strings.Join(advs, "; "))})
	} else if len(parts) == 1 {
		rs[0].Findings = append(rs[0].Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeServerTimeoutBelowRFC,
			Message: fmt.Sprintf("%s drops a session idle at %s; %s (%s)", who, parts[0], rfc, strings.Join(advs, "; "))})
	}
}
