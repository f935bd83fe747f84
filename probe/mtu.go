package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// The mtu kind's result model and its verdicts are package mtu's
// (mtu/result.go); these are their names in probe's Result.
type (
	Verdict     = mtu.PathVerdict
	ProbeResult = mtu.ProbeResult
	MTUProbe    = mtu.Probe
	MTUInfo     = mtu.Result
	MTUReverse  = mtu.Reverse
)

// Directions of MTUOptions.Direction.
const (
	DirectionOut  = "out"  // client to server: our segments
	DirectionIn   = "in"   // server to client: the server's STARTTLS flight
	DirectionBoth = "both" // the default
)

// MTUOptions configure path-MTU bracketing over SMTP.
type MTUOptions struct {
	// Min and Max bound the IP packet sizes tried; 0 means 576 (IPv4) or
	// 1280 (IPv6) and the outgoing interface's MTU.
	Min, Max int
	// Parallel is the number of sessions per round; 0 means
	// mtu.DefaultParallel.
	Parallel int
	From     string // reverse-path; "" is <>
	To       string // forward-path; "" means Postmaster
	// Loss tunes the loss decision; the zero value decides from the
	// round's control probe (see lossAfter), or after two retransmission
	// timeouts without ACK progress when no control was acknowledged yet.
	Loss mtu.WatchOptions
	// Direction is DirectionOut, DirectionIn or DirectionBoth; "" means
	// both.
	Direction string
	// Budget bounds the whole run; 0 means DefaultMTUBudget. A direction
	// not decided within it is inconclusive (mtu_loss.go).
	Budget time.Duration
}

// ValidDirection reports whether d is a Direction MTUOptions accepts.
func ValidDirection(d string) bool {
	return d == "" || d == DirectionOut || d == DirectionIn || d == DirectionBoth
}

// Loss timing. A probe's segments that are not acknowledged within
// lossFactor times the slowest acknowledgement of the round's passing
// probes (the control among them), and at least lossFloor, are lost. The
// floor covers working PMTUD (the ICMP comes back within an RTT and the
// kernel resends at once) and scheduling noise on a loaded host; a random
// loss the rule misjudges is caught by mtu.Search's re-tests.
const (
	lossFloor  = 10 * time.Millisecond
	lossFactor = 4
)

// MTU brackets the path MTU towards t on the SMTP path itself, in the
// directions opt.Direction asks for.
//
// Outbound, each probe is a session with DF set and the MSS clamped
// (mtu.Control) that writes three full-size segments: after STARTTLS's 220,
// as the start of a TLS record that is never completed and begins no
// ClientHello (wire.RecordStart: no mail transaction, no handshake for the server
// to compute, nothing a middlebox that drops large ClientHellos would drop,
// so that mtu measures sizes, not contents), or, when the server
// offers no STARTTLS, as a message body after DATA that is abandoned without
// the final dot. A probe passes when any of its segments is acknowledged at
// the requested packet size; it fails when they vanish (lost), when ICMP
// lowers the kernel's path MTU during it, or when the kernel could only
// send smaller segments (clamped by a cached PMTU or the peer's MSS). The
// session is reset afterwards. mtu.Search picks the sizes, in parallel
// rounds with a control probe, and re-tests losses before it believes them.
//
// Inbound, see mtuReverse.
//
// The error is non-nil only when this system cannot do it at all
// (errors.ErrUnsupported off Linux, or the socket options are refused),
// for a *RangeError, or for a *LocalError: a probe session failed in this
// host's socket layer (a clamp the kernel refused), which is no verdict
// on the path.
func (p *Prober) MTU(ctx context.Context, t Target, opt MTUOptions) (r Result, err error) {
	r = newResult(t)
	start := p.now()
	dst := t.Addr.Addr().Unmap()
	v6 := dst.Is6()
	if err := mtu.CheckSocketOptions(v6); err != nil {
		return r, err
	}
	info := &MTUInfo{Probes: []MTUProbe{}}
	r.MTUInfo = info
	ifMTU, err := mtu.InterfaceMTU(dst)
	if err != nil {
		r.setFailure(Unreachable, "no route: "+err.Error())
		return r, nil
	}
	info.InterfaceMTU = ifMTU
	if c, err := mtu.CachedPMTU(dst); err == nil && c.MTU > 0 && c.MTU < ifMTU {
		info.CachedPMTU, info.CachedExpiresS = c.MTU, int(c.Expires/time.Second)
	} else if cached, err := mtu.RouteMTU(dst); err == nil && cached < ifMTU {
		info.CachedPMTU = cached
	}
	if v, err := mtu.MTUProbing(); err == nil {
		info.MTUProbing = &v
	}
	lo, hi := opt.Min, opt.Max
	if lo == 0 {
		lo = mtu.MinIPv4
		if v6 {
			lo = mtu.MinIPv6
		}
	}
	if hi == 0 {
		hi = ifMTU
	}
	hi = min(hi, ifMTU)
	if lo > hi {
		return r, &RangeError{Field: "min", Value: lo, Limit: ifMTU, Dst: dst}
	}
	info.Range = [2]int{lo, hi}
	dir := opt.Direction
	if dir == "" {
		dir = DirectionBoth
	}
	ctx, cancel, firstEnd := opt.budgetCtx(ctx, time.Now(), dir)
	defer cancel()
	ctx = withHedge(ctx) // the probe sessions' connects (mtu_hedge.go)

	// The inbound half first: the outbound half's full-size probes draw
	// the bottleneck's ICMP, our kernel caches the path MTU it carries
	// for about 10 minutes, and every later SYN to the server then
	// advertises an MSS that keeps the server's packets below the
	// bottleneck, which would read as a server that adapted. A cache left
	// by an earlier run is deleted for this one address where the kernel
	// allows it (IPv6), and otherwise makes the inbound sizes above it
	// untested (ProbeCached). The outbound half cannot hurt the inbound
	// one after it; the server's cache it may meet (its SYN-ACK's MSS) is
	// what the DF datagrams are for (mtuOut).
	//
	// The routers' ICMP tokens: a run of ours that drew ICMP from this
	// path less than mtu.PTBInterval ago may have taken the last one, and
	// then this run's silence may be a rate limit, not a black hole. Only
	// a run that begins with the tokens as our runs left them may believe
	// a clean search's silence (confirmBlackhole).
	if dir != DirectionIn {
		pace := mtu.Pacer{}
		ago, recent, known := pace.Recent(dst)
		info.Paced = known && !recent
		if recent {
			info.RecentICMPMs = ptr(float64(ago.Microseconds()) / 1000)
		}
		defer func() {
			if info.DrewICMP() {
				_ = pace.Note(dst) // best effort: unreadable state is "not paced" next time
			}
		}()
	}
	// dfFirst's datagram goes out at once, beside the inbound half: it
	// leaves nothing cached (raw sockets), it is the first packet of the
	// run to reach the bottleneck router (so it, not a TCP probe, gets
	// that router's next ICMP token), and its wait overlaps the inbound
	// probes instead of following them.
	dfStart := time.Now()
	var first func() dfFirstResult
	dfctx, dfstop := context.WithCancel(ctx) // dfstop: stop waiting for dfFirst's ICMP
	defer dfstop()
	if dir != DirectionIn {
		ch := make(chan dfFirstResult, 1)
		go func() { ch <- p.dfFirst(dfctx, ctx, t, lo, hi) }()
		first = sync.OnceValue(func() dfFirstResult { return <-ch })
		defer first()
	}
	settle := func() {} // a lossy inbound black hole's recheck (recheckReverse)
	if dir != DirectionOut {
		if info.CachedPMTU > 0 && mtu.ForgetPMTU(dst) == nil {
			if c, err := mtu.CachedPMTU(dst); err == nil && c.MTU == 0 {
				info.CacheCleared = true
			}
		}
		rstart := p.now()
		rctx, rcancel := context.WithDeadlineCause(ctx, firstEnd, errBudget) // the outbound half keeps the rest
		recheck := p.mtuReverse(rctx, t, &r, lo, hi, v6, opt)
		rcancel()
		if recheck > 0 {
			ch := make(chan MTUProbe, 1)
			go func() { pr, _ := p.revProbe(ctx, t, recheck, v6, mtu.Patient(reverseRecheck)); ch <- pr }()
			settle = func() { p.recheckReverse(t, &r, <-ch) }
		}
		info.Reverse.Tested = mtu.RevTested(info.Reverse, lo)
		info.Reverse.Method = mtu.MethodTCP
		r.timePhase("mtu_in", p.now().Sub(rstart))
		time.AfterFunc(time.Until(dfStart.Add(dfQuiet)), dfstop)
	}
	if dir != DirectionIn {
		p.mtuOut(ctx, t, &r, lo, hi, v6, opt, first())
	} else {
		info.Verdict = mtu.VerdictUntested
	}
	settle()
	if info.Reverse != nil && info.Reverse.Verdict != "" {
		p.reverseFindings(t, &r, v6)
	}
	r.timePhase("mtu", p.now().Sub(start))
	if r.local != nil {
		return r, r.local
	}
	return r, nil
}

// mtuOut brackets the client-to-server direction; a probe session that
// failed for a reason other than the path is recorded in r.
func (p *Prober) mtuOut(ctx context.Context, t Target, r *Result, lo, hi int, v6 bool, opt MTUOptions, df dfFirstResult) {
	info := r.MTUInfo
	var (
		mu     sync.Mutex
		clocks mtu.Rounds
		lt     lossTally
	)
	started := time.Now()
	var pt patient // the patient probe, begun at the first loss (mtu_ptb.go)
	defer pt.stop()
	octx := ctx
	send := func(ctx context.Context, size int) (bool, error) {
		clk := clocks.Of(ctx)
		ctx, done := clk.Start(ctx)
		defer done()
		pr, res := p.mtuRetry(ctx, t, size, func(ctx context.Context) (MTUProbe, Result) {
			return p.mtuProbe(ctx, t, size, v6, opt, clk)
		})
		mu.Lock()
		info.Probes = append(info.Probes, pr)
		if pr.Via == "data" {
			info.Transactions += pr.Attempts
		}
		mu.Unlock()
		if err := lt.sent(ctx, pr, res); err != nil {
			return false, err
		}
		if pr.Result == mtu.ProbeLost {
			pt.start(octx, p, t, size, v6, opt)
		}
		return pr.OK, nil
	}
	shi := hi
	if df.udp != nil {
		info.UDP, shi = df.udp, df.udp.MTU
	}
	info.DfAt = df.at
	if df.rep != nil {
		info.Datagrams = append(info.Datagrams, *df.rep)
	}
	// The inbound half's answer, when it found a bottleneck, is where the
	// search looks first: most bottlenecks are one link, both ways.
	// A hop's ICMP that named the bottleneck (dfFirst) leaves one size to
	// show TCP carries: round 1 is that probe alone.
	var hint int
	if rv := info.Reverse; rv != nil && rv.PathMTU != nil && rv.Bracket[1] != nil {
		hint = *rv.PathMTU
	}
	if df.udp != nil {
		hint = shi
	}
	b, err := mtu.Search{Min: lo, Max: shi, Parallel: opt.Parallel, Hint: hint}.Run(ctx, send)
	mtu.NumberRounds(info.Probes, b.Tried)
	info.Rounds, info.Retests = b.Rounds, b.Retests
	var segs, retrans int
	for _, pr := range info.Probes {
		info.Sessions += max(pr.Attempts, 1)
		info.Retransmits += pr.Retransmits
		info.ICMPSeen = info.ICMPSeen || pr.Result == mtu.ProbeICMP
		if pr.OK {
			segs += pr.Segments
			retrans += pr.Retransmits
		}
	}
	if segs > 0 {
		info.LossPct = ptr(float64(int(1000*float64(retrans)/float64(segs))) / 10)
	}
	info.NoEvidence = b.Blind
	undecided, err := lt.undecided(ctx, err)
	if undecided {
		info.Verdict = mtu.VerdictInconclusive
		if ok := b.LargestCarried(); ok > 0 {
			info.Bracket[0] = ptr(ok)
		}
		r.Findings = append(r.Findings, inconclusiveFinding(t, r, "client to server", time.Since(started), b, b.Blind, info.LossPct, err))
		return
	}
	var pf *probeFailed
	switch {
	case errors.As(err, &pf):
		// A session failed for a reason other than the path: say which.
		fr := pf.r
		r.local = fr.local
		r.Outcome, r.Error, r.FailedPhase, r.Reply, r.Timeline = fr.Outcome, "probe session: "+fr.Error, fr.FailedPhase, fr.Reply, fr.Timeline
		for _, f := range fr.Findings {
			if f.Code == dnscheck.CodeRcptRefused { // the probe session's noteRejection
				r.Findings = append(r.Findings, f)
			}
		}
		return
	case err != nil:
		r.setFailure(ProtocolError, "bracketing: "+err.Error())
		return
	}
	if b.LargestOK > 0 {
		info.PathMTU = ptr(b.LargestOK)
		info.Bracket[0] = ptr(b.LargestOK)
	}
	if b.SmallestFailed > 0 {
		info.Bracket[1] = ptr(b.SmallestFailed)
	}
	info.Exact = b.Exact()
	info.Method = mtu.MethodTCP
	if limit, _ := mtu.ClampedBy(b, info); info.UDP == nil && limit != "" && !info.ICMPSeen && b.LargestOK > 0 && b.LargestOK < hi {
		// TCP could not send above LargestOK (the server's MSS or our
		// cached path MTU): ask the path with DF datagrams instead.
		wait := mtu.DFWait(info.Probes)
		if c, err := mtu.CheckDF(ctx, t.Addr.Addr().Unmap(), b.LargestOK, hi, wait); err == nil || len(c.Replies) > 0 {
			info.UDP = &c
		}
	}
	info.Verdict = mtu.OutVerdict(b, info)
	udp := info.UDP
	info.UDP = nil
	tcpOnly := mtu.OutVerdict(b, info)
	info.UDP = udp
	if udp != nil && udp.Verdict != mtu.DFUnknown && !info.ICMPSeen && tcpOnly != mtu.VerdictBlackhole {
		// The DF datagrams decided: TCP could not send above
		// LargestOK, or dfFirst kept it there.
		info.Method = mtu.MethodUDP
		switch udp.Verdict {
		case mtu.DFICMPWorks:
			if udp.MTU > 0 && udp.MTU < hi {
				info.PathMTU = ptr(udp.MTU)
				info.Bracket = [2]*int{ptr(udp.MTU), ptr(udp.MTU + 1)}
				info.Exact = true
			}
		case mtu.DFNoBottleneck:
			info.PathMTU = ptr(udp.LargestArrived)
			info.Bracket = [2]*int{ptr(udp.LargestArrived), nil}
			info.Exact = false
		case mtu.DFBlackhole:
			info.PathMTU = ptr(udp.LargestArrived)
			info.Bracket = [2]*int{ptr(udp.LargestArrived), ptr(udp.SmallestSilent)}
			info.Exact = udp.SmallestSilent == udp.LargestArrived+1
		}
	}
	info.Tested = mtu.OutTested(info, lo, hi)
	// A black hole is believed only after a patient probe (a rate-limited
	// PTB is not one), while its link is located (mtu_ptb.go, path.go).
	p.confirmBlackhole(ctx, t, r, b, v6, opt, &pt)
}

// dfQuiet is the least dfFirst waits for a hop's ICMP before the
// inbound half's end may stop its wait: the inbound half itself lasts
// several round trips, so by its end an ICMP from any hop (nearer than
// the server) has had them too.
const dfQuiet = 30 * time.Millisecond

// dfFirstResult is what dfFirst learned: udp is the DF datagram's
// packet-too-big (nil without one), and at is when the datagram went out
// through raw sockets (zero when it did not), the start of the patience
// window that confirmByDF counts from.
type dfFirstResult struct {
	udp *mtu.DFCheck
	at  time.Time
	rep *mtu.DFReply // the datagram and its answer; nil when none went out
}

// dfFirst asks the path with one DF datagram of size hi before any TCP
// probe, where doing so leaves no path MTU cached here (an IPv4 host allowed
// raw sockets: mtu.SendDF). A hop's packet-too-big proves that ICMP
// reaches this host and names the bottleneck; the TCP probes then stay at
// or below it (udp.MTU) and draw no ICMP themselves, so this run leaves no
// cached path MTU behind to lower the next run's SYNs (a cron job's next
// inbound half would otherwise be untested for ten minutes). It only reads
// the path; mtuOut applies the result. It waits for the answer until
// DFWait or until ctx ends, which the caller does once the inbound half
// is over (dfQuiet): the datagram counts as silent then. run is the
// run's context; when it ends, nothing is concluded.
func (p *Prober) dfFirst(ctx, run context.Context, t Target, lo, hi int) dfFirstResult {
	dst := t.Addr.Addr().Unmap()
	if !dst.Is4() || lo >= hi {
		return dfFirstResult{}
	}
	sent := time.Now()
	rep, err := mtu.SendDF(ctx, dst, mtu.DFPort, hi, mtu.DFWait(nil))
	if err != nil && run.Err() == nil && ctx.Err() != nil {
		err = nil // the caller stopped the wait: silent so far
	}
	var res dfFirstResult
	if err == nil {
		res.rep = &rep
	}
	if err == nil && rep.Raw {
		res.at = sent
	}
	if err != nil || !rep.Raw || rep.Answer != mtu.DFTooBig || rep.MTU < lo || rep.MTU >= hi {
		return res
	}
	res.udp = &mtu.DFCheck{Verdict: mtu.DFICMPWorks, Hop: rep.From, MTU: rep.MTU, Replies: []mtu.DFReply{rep}}
	return res
}

// mtuRetry runs a probe session again (at most twice more) when it died of
// something random loss does to a session: a lost segment in the dialogue
// that ran into a reply timeout or the server's own timeout, a reset or a
// close, or the server's 421 4.4.2 after its own timeout. A rejection is
// the server's answer and is not retried.
func (p *Prober) mtuRetry(ctx context.Context, t Target, size int, run func(context.Context) (MTUProbe, Result)) (MTUProbe, Result) {
	var (
		pr  MTUProbe
		res Result
	)
	for attempt := 1; attempt <= 3; attempt++ {
		pr, res = run(ctx)
		pr.Attempts = attempt
		if res.Outcome == OK || ctx.Err() != nil || res.local != nil {
			return pr, res
		}
		switch res.Outcome {
		case ReplyTimeout, ServerTimeout, Reset, Closed, ConnectTimeout:
			continue
		}
		if rp := res.Reply; rp != nil && rp.Code == 421 && rp.Enhanced == "4.4.2" {
			// "421 4.4.2 ... timeout exceeded": the server's own
			// timeout ended the session (RFC 3463 §3.5, bad
			// connection), as lost dialogue segments make it.
			continue
		}
		return pr, res
	}
	return pr, res
}

// RangeError is an MTU range that does not fit the path: the option Field
// (named neutrally, as the job's option keys do: "min") has Value, which
// is above Limit, the interface MTU towards Dst. Each front end names the
// option in its own words.
type RangeError struct {
	Field string
	Value int
	Limit int
	Dst   netip.Addr
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("%s %d is %s", e.Field, e.Value, e.Reason())
}

// Reason is what is wrong with the value, without the option's name:
// "above the interface MTU towards 192.0.2.1 (1400)".
func (e *RangeError) Reason() string {
	return fmt.Sprintf("above the interface MTU towards %s (%d)", e.Dst, e.Limit)
}

// probeFailed carries a probe session that failed for a reason other
// than the path (refused recipient, closed port...).
type probeFailed struct{ r Result }

func (e *probeFailed) Error() string { return e.r.Error }

// probeSegments is how many full-size segments an outbound probe writes:
// with more than one, random loss must take all of them (or all their
// ACKs) to fail a size that fits, and the receiver acknowledges the second
// at once (RFC 9293 §3.8.6.3: an ACK for at least every second full-size
// segment) rather than after its delayed-ACK timer.
const probeSegments = 3

// beginProbe opens a probe session at packet size size (DF set, the MSS
// clamped to fit) and reads the greeting and the EHLO reply into r. It
// returns nil when the session failed before that; otherwise the caller
// ends the dialogue.
func (p *Prober) beginProbe(ctx context.Context, t Target, size int, v6 bool, r *Result) *dialogue {
	q := *p
	q.Control, q.Hedge = mtu.Control(mtu.ClampForPacket(size, v6)), hedgeOf(ctx)
	*r = newResult(t)
	d := q.begin(ctx, t, r)
	if d == nil {
		return nil
	}
	// Reset, never close, however the session ends (a cancelled TLS
	// handshake closes the socket itself): a FIN would leave the server
	// retransmitting into the black hole for minutes, and, once ICMP
	// passes again, learning a path MTU from a session long gone.
	d.c.Abort()
	if !d.greet(false) {
		d.end()
		return nil
	}
	return d
}

// mtuProbe runs one outbound probe session at packet size size.
func (p *Prober) mtuProbe(ctx context.Context, t Target, size int, v6 bool, opt MTUOptions, clk *mtu.Round) (MTUProbe, Result) {
	pr := MTUProbe{Size: size}
	var r Result
	d := p.beginProbe(ctx, t, size, v6, &r)
	if d == nil {
		pr.Result = mtu.ProbeSessionFailed
		return pr, r
	}
	defer d.end()
	sc, _ := d.c.Raw().(syscall.Conn)
	before, err := mtu.TCPInfo(sc)
	if err != nil {
		r.setFailure(ProtocolError, "TCP_INFO: "+err.Error())
		pr.Result = mtu.ProbeSessionFailed
		return pr, r
	}
	// Never trust the clamp asked for: a cached path MTU or the peer's
	// MSS may make the kernel's segments smaller.
	pr.Sent = mtu.PacketSize(before, v6)
	pr.Adv = mtu.AdvPacket(before, v6)
	if pr.Sent < size {
		pr.Result = mtu.ProbeClamped
		pr.Limit = mtu.LimitPeerMSS
		if pm, err := mtu.PathMTU(sc); err == nil && pm < size && pm <= pr.Sent {
			pr.Limit = mtu.LimitPathMTU // our own cached path MTU, not the server's MSS
		}
		d.c.Event(wire.EvData, fmt.Sprintf("probe %d bytes: clamped (the kernel can send only %d-byte packets: snd_mss %d, pmtu %d)", size, pr.Sent, before.SndMSS, before.PMTU))
		d.quit()
		return pr, r
	}
	n := probeSegments * before.SndMSS
	var payload []byte
	to := recipient(opt.To)
	if hasCap(r.Capabilities, "STARTTLS") {
		if _, ok := d.step1("starttls", "STARTTLS"); !ok {
			d.quit()
			pr.Result = mtu.ProbeSessionFailed
			return pr, r
		}
		pr.Via, payload = "starttls", wire.RecordStart(n) // begins no ClientHello (tlshello.go)
	} else {
		_, ok := d.envelope(opt.From, to, "data")
		pr.Via = "data"
		if !ok {
			d.quit()
			pr.Result = mtu.ProbeSessionFailed
			return pr, r
		}
		payload = message(opt.From, to, d.name, n, p.now())
	}
	if before, err = mtu.TCPInfo(sc); err != nil {
		r.setFailure(ProtocolError, "TCP_INFO: "+err.Error())
		pr.Result = mtu.ProbeSessionFailed
		return pr, r
	}
	mtu.Watching(ctx) // the straggler cut leaves it to its loss timer
	wrote := time.Now()
	if err := d.c.WriteData(ctx, d.rt, payload); err != nil {
		r.setFailure(Classify(err), "probe write: "+err.Error())
		pr.Result = mtu.ProbeSessionFailed
		return pr, r
	}
	w := opt.Loss
	w.AnyProgress, w.AckedBefore = true, before.BytesAcked
	if w.LostAfter == nil {
		w.LostAfter = func() time.Duration { return clk.LossAfter(lossFloor, lossFactor) }
	}
	v, after, err := mtu.Watch(ctx, sc, before.BytesAcked+uint64(len(payload)), w)
	waited := time.Since(wrote)
	pr.Wait = waited
	pr.Retransmits = after.TotalRetrans - before.TotalRetrans
	pr.Segments = after.DataSegsOut - before.DataSegsOut
	pr.RTT = after.RTT
	pmtu, _ := mtu.PathMTU(sc)
	pr.PMTU = pmtu
	d.c.Abort() // the server is owed a TLS record or a final dot; neither comes
	if err != nil {
		if errors.Is(err, mtu.ErrClosed) {
			r.setFailure(Reset, "the server reset the probe session before the probe was acknowledged")
		} else {
			r.setFailure(Classify(err), "watching the probe: "+err.Error())
		}
		pr.Result = mtu.ProbeSessionFailed
		return pr, r
	}
	switch {
	case pmtu > 0 && pmtu < pr.Sent:
		// ICMP "fragmentation needed" / "packet too big" arrived
		// while this probe's packets were in flight (RFC 1191 §4,
		// RFC 8201 §4): the kernel lowered the path MTU below the size
		// the probe had started with, and resegmented.
		pr.Result = mtu.ProbeICMP
	case v == mtu.Lost:
		pr.Result = mtu.ProbeLost
	case v == mtu.TimedOut:
		pr.Result = mtu.ProbeTimedOut
	default:
		pr.OK, pr.Result = true, mtu.ProbeDelivered
		clk.Passed(mtu.LessRTOs(waited, pr.Retransmits, before.RTO)) // less the RTOs its own lost segments cost
	}
	d.c.Event(wire.EvData, fmt.Sprintf("probe %d bytes: %s after %s (sent %d-byte packets, %d retransmits, path MTU %d)", size, pr.Result, fmtDur(waited), pr.Sent, pr.Retransmits, pmtu))
	return pr, r
}

// mtuFindings say what to do, as the field reports do. Each verdict gets
// findings that agree with each other: whether ICMP reaches this host is
// claimed only when this run saw it.
func mtuFindings(t Target, r *Result, v6 bool) []Finding {
	info := r.MTUInfo
	w := who(t, r.Address)
	var fs []Finding
	icmp := "ICMP type 3 code 4 (fragmentation needed)"
	if v6 {
		icmp = "ICMPv6 type 2 (packet too big)"
	}
	if info.CachedPMTU > 0 {
		what := "so our SYNs advertised an MSS no larger than it allows and the kernel sent no larger segments"
		if info.CacheCleared {
			what = "and deleted it for this address before the probes, so it could not hide either direction"
		}
		fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodePMTUCached,
			Message: fmt.Sprintf("%s %s; %s", cachedText(info.CachedPMTU, info.CachedExpiresS, r.Address), what, retestText(r.Address, v6, info.CachedExpiresS))})
	}
	if info.Verdict == mtu.VerdictUntested && info.Method == mtu.MethodTCP {
		if info.CachedPMTU > 0 && info.PathMTU != nil {
			fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodePMTUUntestedCached,
				Message: fmt.Sprintf("%s: client to server, nothing above %d bytes was tested: %s kept every probe at or below it, and the DF datagrams got no answer to decide with%s. Never read a cache as working PMTUD: a firewall that started dropping %s since it was learned would not show; %s", w, *info.PathMTU, cachedText(info.CachedPMTU, info.CachedExpiresS, r.Address), udpWhy(info.UDP), icmp, retestText(r.Address, v6, info.CachedExpiresS))})
		}
	}
	if info.LossPct != nil && *info.LossPct > 0 {
		fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodePathLoss,
			Message: fmt.Sprintf("%s: %.1f%% of the passing probes' segments were retransmitted (random loss on the path); the bracket rests on %d re-tests of sizes tried before", w, *info.LossPct, info.Retests)})
	}
	switch info.Verdict {
	case mtu.VerdictBlackhole:
		stalls := "mail larger than a few KB stalls (\"timeout after DATA\")"
		if info.Method == mtu.MethodUDP && limitText(info) == "the server's MSS" {
			stalls = "TCP is kept below that size only by the MSS the server's SYN-ACK carries (a router that clamps it, or the server's own cached path MTU, which it forgets about 10 minutes after it learned it: then mail larger than a few KB stalls), and everything else (UDP, IPsec, tunnels) that large is lost"
		}
		fs = append(fs, Finding{Severity: SevCritical, Code: dnscheck.CodePMTUBlackhole,
			Message: fmt.Sprintf("%s: packets larger than %d bytes vanish and no %s comes back; %s. Fix: allow %s and ICMP time exceeded through the firewalls on the path", w, *info.PathMTU, icmp, stalls, icmp)})
		fs = append(fs, Finding{Severity: SevWarning, Code: dnscheck.CodeClampMSS,
			Message: "or clamp the MSS on the bottleneck router to the path MTU (iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu; nftables: tcp flags syn tcp option maxseg size set rt mtu)"})
		stop := fmt.Sprintf("as a stopgap on this host, lower the interface MTU to %d (ip link set dev IFACE mtu %d) or enable net.ipv4.tcp_mtu_probing=1", *info.PathMTU, *info.PathMTU)
		if info.MTUProbing != nil {
			stop += fmt.Sprintf(" (currently %d)", *info.MTUProbing)
		}
		fs = append(fs, Finding{Severity: SevWarning, Code: dnscheck.CodePMTUStopgap, Message: stop})
	case mtu.VerdictPMTUDWorking:
		switch {
		case info.Method == mtu.MethodUDP && info.UDP != nil && limitText(info) == "":
			fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodePMTUBottleneck,
				Message: fmt.Sprintf("%s: the path MTU is %d bytes (interface %d): a DF datagram of %d bytes to a closed UDP port drew %s from %s before any TCP probe, so %s reaches this host; the TCP probes then stayed at or below %d bytes and carried it, and left no path MTU cached on this host", w, *info.PathMTU, info.InterfaceMTU, info.Range[1], icmp, info.UDP.Hop, icmp, *info.PathMTU)})
		case info.Method == mtu.MethodUDP && info.UDP != nil:
			fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodePMTUBottleneck,
				Message: fmt.Sprintf("%s: the path MTU is %d bytes (interface %d); TCP could not send larger packets (%s), so a DF datagram of %d bytes to a closed UDP port tested the path instead: %s came back from %s, so it reaches this host", w, *info.PathMTU, info.InterfaceMTU, limitText(info), info.Range[1], icmp, info.UDP.Hop)})
		case info.PathMTU != nil && info.ICMPSeen:
			fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodePMTUBottleneck,
				Message: fmt.Sprintf("%s: the path MTU is %d bytes (interface %d); %s reaches this host and TCP adapts", w, *info.PathMTU, info.InterfaceMTU, icmp)})
		}
	case mtu.VerdictMSSClamped:
		fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodeMSSClamped,
			Message: fmt.Sprintf("%s: the MSS the server's SYN-ACK carried keeps TCP packets at %d bytes or less (interface %d): either a router on the path clamps the MSS, or the server cached a path MTU towards this host (learned from ICMP within about 10 minutes, which a remote host cannot flush). TCP on this path is protected; larger probes could not be sent, so whether %s reaches this host was not tested by TCP%s, and non-TCP traffic (UDP, IPsec, tunnels) may still hit the bottleneck", w, *info.PathMTU, info.InterfaceMTU, icmp, udpWhy(info.UDP))})
	}
	if info.Method == mtu.MethodUDP && info.Verdict == mtu.VerdictBlackhole && info.UDP != nil {
		fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodePMTUTestedByUDP,
			Message: fmt.Sprintf("%s: TCP could not send packets above %d bytes (%s), so DF datagrams to a closed UDP port decided: those of %d bytes drew the server's port unreachable, larger ones (%d and up) vanished twice without any %s", w, *info.PathMTU, limitText(info), info.UDP.LargestArrived, info.UDP.SmallestSilent, icmp)})
	}
	return fs
}

// cachedText names a cached path MTU, its source and its expiry.
func cachedText(pmtu, expiresS int, addr string) string {
	exp := "it expires about 10 minutes after it was learned"
	if expiresS > 0 {
		exp = "it expires in " + units.Setting(time.Duration(expiresS)*time.Second)
	}
	return fmt.Sprintf("this host's kernel had a path MTU of %d cached towards %s (learned from ICMP; %s)", pmtu, addr, exp)
}

// retestText says how to test again without a cache.
func retestText(addr string, v6 bool, expiresS int) string {
	wait := "wait until it expires (about 10 minutes)"
	if expiresS > 0 {
		wait = "wait until it expires (" + units.Setting(time.Duration(expiresS)*time.Second) + ")"
	}
	if v6 {
		return fmt.Sprintf("to retest, %s or delete it for this address only (ip -6 route flush cache %s/128, as root; this tool does that itself when it may)", wait, addr)
	}
	return fmt.Sprintf("to retest, %s or, as root, flush all of them (ip route flush cache: Linux cannot delete the IPv4 one of a single address)", wait)
}

// limitText says what kept the outbound TCP probes small.
func limitText(info *MTUInfo) string {
	for _, pr := range info.Probes {
		if pr.Result == mtu.ProbeClamped && pr.Limit == mtu.LimitPathMTU {
			return "our own cached path MTU"
		}
	}
	for _, pr := range info.Probes {
		if pr.Result == mtu.ProbeClamped {
			return "the server's MSS"
		}
	}
	return ""
}

// udpWhy says why the DF datagrams did not decide, for a finding.
func udpWhy(u *mtu.DFCheck) string {
	switch {
	case u == nil:
		return " (DF datagrams could not be sent from this host)"
	case u.Verdict != mtu.DFUnknown:
		return ""
	}
	for _, d := range u.Replies {
		if d.Answer == mtu.DFOther {
			return fmt.Sprintf(" (DF datagrams to a closed UDP port drew ICMP type %d code %d from %s instead of an answer that decides)", d.Type, d.Code, d.From)
		}
	}
	return " (DF datagrams to a closed UDP port drew no port unreachable even at the smaller size: the target filters UDP or limits its ICMP, so they could not decide either)"
}
