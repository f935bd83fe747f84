package probe

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// Inbound loss timing: a STARTTLS handshake whose flight has not arrived
// within reverseFactor times the slowest handshake of the round's passing
// probes (at least reverseFloor) stalled. Without any passing handshake in
// the round yet, reverseFallback (or three RTOs, if longer) decides.
const (
	reverseFloor    = 20 * time.Millisecond
	reverseFactor   = 3
	reverseFallback = time.Second
)

// mtuReverse brackets the server-to-client path MTU through the MSS we
// advertise: TCP_MAXSEG set before connect lowers the MSS option in our
// SYN (RFC 9293 §3.7.1), so the server's segments are at most that size,
// and the server's STARTTLS flight (certificate chain and all, typically
// 3-6 KB) is the payload. A size passes when the handshake completes; it
// fails when the flight stalls (its full-size segments vanish). No mail
// transaction is opened. When ICMP reaches the server, its segments arrive
// smaller than advertised and tcpi_rcv_mss gives the reverse path MTU in a
// single session (RFC 1191 §4, RFC 8201 §4 on the server's side).
//
// First a session at Max runs beside a control at Min; only when the Max
// flight stalls does mtu.Search bracket the black hole.
//
// It returns the size a lossy black hole's bracket rests on (0: none):
// MTU re-checks it with a patient probe (recheckReverse).
func (p *Prober) mtuReverse(ctx context.Context, t Target, r *Result, lo, hi int, v6 bool, opt MTUOptions) (recheck int) {
	info := r.MTUInfo
	rev := &MTUReverse{Probes: []MTUProbe{}}
	info.Reverse = rev
	var (
		mu     sync.Mutex
		clocks mtu.Rounds
		failed *Result
		noTLS  bool // failed is a session without STARTTLS: untested
		lt     lossTally
	)
	started := time.Now()
	// run returns the probe and, for one that proved nothing (a session
	// that died of loss), its noEvidence error.
	run := func(ctx context.Context, size int, clk *mtu.Round) (MTUProbe, error) {
		ctx, done := clk.Start(ctx) // stragglers are cut (mtu.Round)
		defer done()
		pr, res := p.mtuRetry(ctx, t, size, func(ctx context.Context) (MTUProbe, Result) {
			return p.revProbe(ctx, t, size, v6, clk)
		})
		var blind error
		if pr.Result != mtu.ProbeUntested {
			if err := lt.sent(ctx, pr, res); errors.Is(err, mtu.ErrNoEvidence) {
				blind = err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		rev.Probes = append(rev.Probes, pr)
		rev.Sessions += max(pr.Attempts, 1)
		if res.Outcome != OK && failed == nil && blind == nil {
			failed, noTLS = &res, pr.Result == mtu.ProbeUntested
		}
		rev.FlightBytes = max(rev.FlightBytes, pr.Flight)
		return pr, blind
	}

	// Round 0: Max, with a control at Min. Its clock is the run's round 0
	// (mtu.Rounds), so that the control's handshake also times the
	// search's first round, whose probes may all be above the bottleneck
	// (IPv6 from 1280: 1349 and up): without a pass to go by, each of them
	// would wait reverseFallback.
	clk := clocks.Of(ctx)
	var wg sync.WaitGroup
	var top MTUProbe
	var topBlind error
	sizes := []int{hi}
	if lo < hi {
		sizes = append(sizes, lo)
	}
	for i, size := range sizes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, blind := run(ctx, size, clk)
			if i == 0 {
				top, topBlind = pr, blind
			}
		}()
	}
	wg.Wait()
	rev.Rounds = 1
	ovh := mtu.Overhead(v6, true)
	if rev.FlightBytes > 0 {
		rev.TestedUpTo = min(hi, rev.FlightBytes+ovh)
	}
	if failed != nil {
		if noTLS {
			rev.Verdict = mtu.VerdictUntested
			r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeReverseUntested,
				Message: fmt.Sprintf("%s offers no STARTTLS, so the server-to-client direction was not tested: the certificate chain of the STARTTLS handshake is the one large flight a server sends before any mail", who(t, r.Address))})
			return 0
		}
		p.reverseFailed(t, r, failed)
		return 0
	}
	switch {
	case topBlind != nil:
		// The Max session died of loss before its flight: the search
		// below decides, with the sizes planned again.
	case top.OK:
		// The flight arrived in segments as large as allowed (or as
		// large as it was): no bottleneck up to what it could fill.
		rev.Verdict = mtu.VerdictNoBottleneck
		rev.PathMTU = ptr(top.Sent)
		rev.Bracket[0] = ptr(top.Sent)
		return 0
	case top.Result == mtu.ProbeAdapted || top.Result == mtu.ProbeClamped:
		rev.PathMTU = ptr(top.Sent)
		rev.Bracket = [2]*int{ptr(top.Sent), ptr(top.Sent + 1)}
		rev.Exact = true
		rev.Verdict = mtu.VerdictPMTUDWorking
		if top.Result == mtu.ProbeClamped {
			rev.Verdict = mtu.VerdictMSSClamped
		}
		return 0
	case top.Result == mtu.ProbeCached:
		// Our SYN could not advertise the size: our own cached path
		// MTU hides everything above it (reverseFindings says so).
		rev.Verdict = mtu.VerdictUntested
		return 0
	}

	// The Max flight stalled: bracket the black hole.
	send := func(ctx context.Context, size int) (bool, error) {
		pr, blind := run(ctx, size, clocks.Of(ctx))
		mu.Lock()
		defer mu.Unlock()
		if failed != nil {
			return false, &probeFailed{*failed}
		}
		if blind != nil {
			return false, blind
		}
		return pr.OK, nil
	}
	b, err := mtu.Search{Min: lo, Max: hi, Parallel: opt.Parallel}.Run(ctx, send)
	probes := rev.Probes[len(sizes):]
	mtu.NumberRounds(probes, b.Tried)
	for i := range probes {
		probes[i].Round++ // round 1 was the first pair
	}
	rev.Rounds += b.Rounds
	rev.Retests = b.Retests
	if rev.FlightBytes > 0 {
		rev.TestedUpTo = min(hi, rev.FlightBytes+ovh)
	}
	undecided, err := lt.undecided(ctx, err)
	if undecided {
		rev.Verdict = mtu.VerdictInconclusive
		if ok := b.LargestCarried(); ok > 0 {
			rev.Bracket[0] = ptr(ok)
		}
		r.Findings = append(r.Findings, inconclusiveFinding(t, r, "server to client", time.Since(started), b, b.Blind, nil, err))
		return 0
	}
	var pf *probeFailed
	switch {
	case errors.As(err, &pf):
		p.reverseFailed(t, r, &pf.r)
		return 0
	case err != nil:
		r.Findings = append(r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeReverseInconsistent, Message: fmt.Sprintf("%s: server-to-client bracketing: %v", who(t, r.Address), err)})
		return 0
	}
	if b.LargestOK > 0 {
		// A flight that fills no packet of the largest size passing
		// proves a path MTU only up to what it filled.
		rev.PathMTU = ptr(min(b.LargestOK, cmp.Or(rev.TestedUpTo, b.LargestOK)))
		rev.Bracket[0] = rev.PathMTU
	}
	if b.SmallestFailed > 0 {
		rev.Bracket[1] = ptr(b.SmallestFailed)
	}
	rev.Verdict = mtu.RevVerdict(b, rev.Probes)
	rev.Exact = b.Exact()
	if rev.Verdict == mtu.VerdictBlackhole && lossySearch(b, rev.Probes) {
		return b.SmallestFailed
	}
	return 0
}

// lossySearch is whether random loss touched the inbound search: noise,
// a blind probe, a session retried, or a ClientHello retransmitted. A
// server's flight that lost one segment then waits the server's RTO
// (200 ms at least), longer than the round's loss limit, and stalls as a
// black hole's would.
func lossySearch(b mtu.Bracket, probes []MTUProbe) bool {
	lossy := b.Noise > 0 || b.Blind > 0
	for _, pr := range probes {
		lossy = lossy || pr.Attempts > 1 || pr.Retransmits > 0
	}
	return lossy
}

// reverseRecheck is how long recheckReverse's probe waits: a server
// resends a lost segment of its flight after its minimum RTO (200 ms on
// Linux, RFC 6298 §2.4), once more 400 ms later (§5.5); one resend, and a
// margin, is what random loss of a few percent needs.
const reverseRecheck = 450 * time.Millisecond

// recheckReverse settles a lossy inbound black hole with one probe at
// size that waits reverseRecheck through the server's retransmissions
// (started while the outbound half runs). A flight that then arrives
// whole was lost by chance in the search: the direction is inconclusive,
// never a false pmtu-blackhole. One that proves nothing leaves the
// verdict as it was.
func (p *Prober) recheckReverse(t Target, r *Result, pr MTUProbe) {
	rev := r.MTUInfo.Reverse
	pr.Round = rev.Rounds + 1
	rev.Probes = append(rev.Probes, pr)
	rev.Sessions += max(pr.Attempts, 1)
	rev.Rounds++
	if !pr.OK {
		return
	}
	rev.Verdict, rev.PathMTU, rev.Bracket, rev.Exact = mtu.VerdictInconclusive, nil, [2]*int{rev.Bracket[0], nil}, false
	r.Findings = append(r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeMTUInconclusive, Message: fmt.Sprintf(
		"%s: server to client: flights of %d-byte packets stalled in the search, but one that waited for the server's retransmissions arrived whole: random loss on the path is too heavy to tell a black hole from loss. Retry when the path is quieter (a loss of a few %% is fine), or from another vantage point",
		who(t, r.Address), pr.Size)})
}

// reverseFailed records an inbound probe session that failed for a reason
// other than the path; the outbound verdict, if any, stands.
func (p *Prober) reverseFailed(t Target, r *Result, fr *Result) {
	r.MTUInfo.Reverse.Verdict = ""
	if r.local == nil {
		r.local = fr.local
	}
	if r.Outcome == OK {
		r.Outcome, r.Error, r.FailedPhase = fr.Outcome, "inbound probe session: "+fr.Error, fr.FailedPhase
		if fr.Reply != nil {
			r.Reply = fr.Reply
		}
	}
}

func (p *Prober) reverseFindings(t Target, r *Result, v6 bool) {
	rev := r.MTUInfo.Reverse
	w := who(t, r.Address)
	icmp := "ICMP type 3 code 4 (fragmentation needed)"
	if v6 {
		icmp = "ICMPv6 type 2 (packet too big)"
	}
	if rev.TestedUpTo > 0 && rev.TestedUpTo < r.MTUInfo.Range[1] {
		r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeReverseTestedUpTo,
			Message: fmt.Sprintf("%s: the server's STARTTLS flight (%d bytes) fills packets of at most %d bytes, so the server-to-client direction was tested up to %d bytes only", w, rev.FlightBytes, rev.TestedUpTo, rev.TestedUpTo)})
	}
	switch rev.Verdict {
	case mtu.VerdictUntested:
		for _, pr := range rev.Probes {
			if pr.Result != mtu.ProbeCached {
				continue
			}
			info := r.MTUInfo
			r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeReverseUntestedCached,
				Message: fmt.Sprintf("%s: server to client, nothing above %d bytes was tested: %s, so our SYNs advertised an MSS for %d-byte packets and the server's full-size flight never came; a reverse PMTU black hole above %d would not show. Never read this as working PMTUD; %s", w, pr.Adv, cachedText(pr.Adv, info.CachedExpiresS, r.Address), pr.Adv, pr.Adv, retestText(r.Address, v6, info.CachedExpiresS))})
			break
		}
	case mtu.VerdictBlackhole:
		if r.Outcome == OK {
			r.setFailure(PMTUBlackhole, fmt.Sprintf("server-to-client: segments above %d bytes vanish and no ICMP reaches the server", *rev.PathMTU))
		}
		r.Findings = append(r.Findings, Finding{Severity: SevCritical, Code: dnscheck.CodeReversePMTUBlackhole,
			Message: fmt.Sprintf("%s: server-to-client, packets larger than %d bytes vanish and the %s that would tell the server does not reach it: the STARTTLS handshake (the certificate chain) and large replies stall, and the server logs the timeout. Fix: allow %s through the firewalls on the server's side of the path, or clamp the MSS on the bottleneck router (nftables: tcp flags syn tcp option maxseg size set rt mtu)", w, *rev.PathMTU, icmp, icmp)})
	case mtu.VerdictPMTUDWorking:
		r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeReversePMTUBottleneck,
			Message: fmt.Sprintf("%s: server-to-client, the path MTU is %d bytes: the server's segments arrived smaller than the MSS advertised (tcpi_rcv_mss), so %s reaches the server and its TCP adapts", w, *rev.PathMTU, icmp)})
	case mtu.VerdictMSSClamped:
		r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeReverseMSSClamped,
			Message: fmt.Sprintf("%s: server-to-client, the server's SYN-ACK and its segments both stay at %d-byte packets: either a router on the path clamps the MSS, or the server cached a path MTU towards this host (learned from ICMP within about 10 minutes; only the server's administrator can flush it). TCP on this path is protected; whether %s reaches the server was not tested, and non-TCP traffic may still hit the bottleneck", w, *rev.PathMTU, icmp)})
	}
}

// revProbe runs one inbound probe session at packet size size: it
// advertises the MSS of a size-byte packet, says STARTTLS and watches the
// server's flight arrive (or stall) through TCP_INFO.
func (p *Prober) revProbe(ctx context.Context, t Target, size int, v6 bool, clk *mtu.Round) (MTUProbe, Result) {
	pr := MTUProbe{Size: size, Via: "handshake"}
	var r Result
	d := p.beginProbe(ctx, t, size, v6, &r)
	if d == nil {
		pr.Result = mtu.ProbeSessionFailed
		return pr, r
	}
	defer d.end()
	if !hasCap(r.Capabilities, "STARTTLS") {
		d.quit()
		r.Outcome, r.Error = ProtocolError, "no STARTTLS"
		pr.Result = mtu.ProbeUntested // what mtuReverse tells apart
		return pr, r
	}
	sc, _ := d.c.Raw().(syscall.Conn)
	before, err := mtu.TCPInfo(sc)
	if err != nil {
		r.setFailure(ProtocolError, "TCP_INFO: "+err.Error())
		pr.Result = mtu.ProbeSessionFailed
		return pr, r
	}
	// The server's SYN-ACK MSS: with our clamp at size, snd_mss is the
	// smaller of the two; below size only if the server's side (or a
	// router rewriting it) advertised less.
	peer := mtu.PacketSize(before, v6)
	pr.Adv = mtu.AdvPacket(before, v6)
	if pr.Adv > 0 && pr.Adv < size {
		if pm, err := mtu.PathMTU(sc); err == nil && pm < size {
			// Our kernel's cached path MTU lowered the MSS our SYN
			// advertised (the route exception: dst_metric_advmss),
			// so the server cannot send packets of this size.
			d.c.Event(wire.EvData, fmt.Sprintf("inbound probe %d bytes: cached (our SYN advertised %d-byte packets: path MTU %d cached)", size, pr.Adv, pm))
			d.quit()
			pr.Result, pr.Limit, pr.Sent = mtu.ProbeCached, mtu.LimitPathMTU, pr.Adv
			return pr, r
		}
	}

	mtu.Watching(ctx) // the straggler cut leaves it to its loss timer
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	stalled := make(chan mtu.Info, 1)
	started := time.Now()
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			limit := clk.LossAfter(reverseFloor, reverseFactor)
			if limit == 0 {
				limit = max(reverseFallback, 3*before.RTO)
			}
			if time.Since(started) < limit {
				continue
			}
			i, _ := mtu.TCPInfo(sc)
			stalled <- i
			cancel()
			return
		}
	}()
	cfg := &tls.Config{
		InsecureSkipVerify: true, // the path is measured here, not the certificate
		MinVersion:         tls.VersionTLS12,
		// A small ClientHello (no post-quantum key share): our own
		// direction must not be what fails.
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
	}
	if _, literal := parseIP(t.Host); !literal {
		cfg.ServerName = t.Host
	}
	_, st, herr := d.c.StartTLS(hctx, d.rt, cfg)
	close(done)
	waited := time.Since(started)
	pr.Wait = waited
	after, _ := mtu.TCPInfo(sc)
	pr.Retransmits = after.TotalRetrans - before.TotalRetrans
	pr.Segments = after.DataSegsIn - before.DataSegsIn
	pr.RTT = after.RTT
	pr.Flight = int(after.BytesReceived - before.BytesReceived)
	d.c.Abort()
	select {
	case i := <-stalled:
		pr.Result = mtu.ProbeLost
		pr.Flight = int(i.BytesReceived - before.BytesReceived)
		d.c.Event(wire.EvDeadline, fmt.Sprintf("inbound probe %d bytes: the server's flight stalled after %s (%d bytes in order, %d out-of-order packets, rcv_mss %d)", size, fmtDur(waited), pr.Flight, i.RcvOOOPack-before.RcvOOOPack, i.RcvMSS))
		return pr, r
	default:
	}
	if herr != nil || st == nil {
		if herr == nil {
			herr = errors.New("STARTTLS refused")
		}
		o := Classify(herr)
		if o == TLSError && (errors.Is(herr, os.ErrDeadlineExceeded) || errors.Is(herr, context.DeadlineExceeded)) {
			// The handshake ran out of time with no stalled flight seen:
			// segments of the dialogue were lost (random loss), not the
			// server's TLS. A reply timeout, which mtuRetry tries again
			// as it does other sessions that die of loss; a failure of
			// the server's TLS (an alert, a bad record) stays tls-error.
			o = ReplyTimeout
		}
		r.setFailureIn("starttls", o, "starttls: "+herr.Error())
		pr.Result = mtu.ProbeSessionFailed
		return pr, r
	}
	clk.Passed(mtu.LessRTOs(waited, pr.Retransmits, before.RTO)) // less the RTOs our lost ClientHello cost
	// The largest segment that arrived (tcpi_rcv_mss, capped at what we
	// advertised) as an IP packet.
	got := after.RcvMSS + mtu.Overhead(v6, after.Timestamps())
	pr.Sent = got
	full := pr.Flight > after.AdvMSS // the flight could fill a segment of the size tested
	switch {
	case got < size && full && peer < size && peer <= got && peer < before.PMTU:
		// The server's SYN-ACK already advertised the smaller MSS
		// (our snd_mss is below both our clamp and our own path MTU,
		// so the peer's MSS option set it), and its segments keep to
		// it: clamped on the path.
		pr.Result = mtu.ProbeClamped
	case got < size && full:
		pr.Result = mtu.ProbeAdapted
	default:
		pr.OK, pr.Result = true, mtu.ProbeDelivered
	}
	d.c.Event(wire.EvData, fmt.Sprintf("inbound probe %d bytes: %s after %s (flight %d bytes, largest packet %d, peer MSS packet %d)", size, pr.Result, fmtDur(waited), pr.Flight, got, peer))
	return pr, r
}

// noteCachedAdv adds, to a session of mx, session or timeout (not an mtu
// probe, which sets its own clamp and judges it), the finding that our SYN
// advertised less than the interface allows because this host's kernel had
// a path MTU cached towards the server: the server's full-size flight (its
// STARTTLS certificate chain, a long reply) was then never sent above that
// size, so a server-to-client PMTU black hole above it cannot show, and the
// reverse confirmation (dialogue.confirmReverse) is never reached. The
// route exception lowers tcpi_advmss (dst_metric_advmss); tcp_metrics do
// not (checked on the lab: deleting the tcp_metrics entry left advmss at
// 1348, flushing the route cache restored 1448).
func (d *dialogue) noteCachedAdv() {
	st := d.r.TCP
	if d.p.Control != nil || st == nil || st.AdvMSS == 0 || st.PathMTU == 0 {
		return
	}
	ap, err := netip.ParseAddrPort(d.r.Address)
	if err != nil {
		if a, err2 := netip.ParseAddr(d.r.Address); err2 == nil {
			ap = netip.AddrPortFrom(a, 25)
		} else {
			return
		}
	}
	dst := ap.Addr().Unmap()
	hdr := mtu.Overhead(dst.Is6(), false)
	ifMTU, err := mtu.InterfaceMTU(dst)
	// +12: the timestamp option tcpi_advmss leaves out once negotiated, so
	// that a full-size SYN never counts as lowered.
	if err != nil || st.AdvMSS+hdr+12 >= ifMTU {
		return
	}
	c, err := mtu.CachedPMTU(dst)
	if err != nil || c.MTU == 0 || c.MTU >= ifMTU {
		return
	}
	exp := int(c.Expires / time.Second)
	d.r.Findings = append(d.r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeReverseUntestedCached,
		Message: fmt.Sprintf("%s: our SYN advertised MSS %d rather than what the interface allows (%d-byte packets), because %s: the server's full-size flight (packets above %d bytes) was not tested in this session, so a server-to-client PMTU black hole above %d would not show here; %s", who(d.t, d.r.Address), st.AdvMSS, ifMTU, cachedText(c.MTU, exp, dst.String()), c.MTU, c.MTU, retestText(dst.String(), dst.Is6(), exp))})
}

// forgetCachedPMTU deletes this host's cached path MTU towards t before a
// session of mx, session or timeout connects, where the kernel allows it
// for one address (IPv6, CAP_NET_ADMIN: mtu.ForgetPMTU), so that our SYN
// advertises the interface's MSS and the server's full-size flight is
// tested on every run rather than on the first of every ten minutes (a
// cron job's next run otherwise finds the path MTU its own ClientHello
// taught the kernel). It adds an info finding when it did; elsewhere the
// session runs with the cache and noteCachedAdv says what that hid.
func (p *Prober) forgetCachedPMTU(t Target, r *Result) {
	dst := t.Addr.Addr().Unmap()
	if p.Control != nil || !dst.Is6() {
		return
	}
	c, err := mtu.CachedPMTU(dst)
	if err != nil || c.MTU == 0 {
		return
	}
	if ifMTU, err := mtu.InterfaceMTU(dst); err != nil || c.MTU >= ifMTU {
		return
	}
	if mtu.ForgetPMTU(dst) != nil {
		return
	}
	r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodePMTUCacheCleared,
		Message: fmt.Sprintf("%s, and deleted it for this address before connecting, so that our SYN advertised the interface's MSS and the server's full-size flight was tested (the path MTU is learned again from ICMP if it still holds)", cachedText(c.MTU, int(c.Expires/time.Second), dst.String()))})
}
