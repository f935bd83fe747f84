package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// Verdict is what an mtu probe found about one direction of the path: an
// mtu result's "verdict" (README, "mtu" and "JSON").
type Verdict string

// Path MTU verdicts.
const (
	VerdictNoBottleneck Verdict = "no-bottleneck"
	VerdictPMTUDWorking Verdict = "pmtud-working"
	VerdictMSSClamped   Verdict = "mss-clamped"
	VerdictBlackhole    Verdict = "pmtu-blackhole"
	// VerdictUntested is a direction that was not measured: not asked
	// for (Direction), or the inbound direction of a server without
	// STARTTLS (its only large flight towards us).
	VerdictUntested Verdict = "untested"
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

// ProbeResult is how one MTU probe session ended.
type ProbeResult string

// MTU probe results.
const (
	ProbeDelivered     ProbeResult = "delivered"      // every byte acknowledged (inbound: the flight arrived whole)
	ProbeLost          ProbeResult = "lost"           // retransmitted without an acknowledgement: a black hole
	ProbeICMP          ProbeResult = "icmp"           // the kernel's path MTU dropped: ICMP arrived
	ProbeClamped       ProbeResult = "clamped"        // the kernel could send only smaller packets (a cached PMTU, the peer's MSS)
	ProbeTimedOut      ProbeResult = "timed-out"      // no verdict within the wait
	ProbeSessionFailed ProbeResult = "session-failed" // the session failed before or apart from the probe
	ProbeAdapted       ProbeResult = "adapted"        // inbound: the server sent smaller packets than it could fill (its PMTUD adapted)
	ProbeUntested      ProbeResult = "untested"       // inbound: no STARTTLS flight to measure with
	// ProbeCached: inbound, our kernel's cached path MTU towards the
	// server lowered the MSS our SYN advertised below the size under test
	// (the route exception lowers tcpi_advmss; tcp_metrics do not), so
	// the server never sent packets that large.
	ProbeCached ProbeResult = "cached"
)

// What kept a probe's packets below the size under test (MTUProbe.Limit).
const (
	LimitPathMTU = "path-mtu" // this host's path MTU towards the server: a cached PMTU
	LimitPeerMSS = "peer-mss" // the MSS the server's SYN-ACK carried (its own cache, or a clamping router)
)

// Methods that decided a verdict (MTUInfo.Method, MTUReverse.Method).
const (
	MethodTCP = "tcp" // the SMTP sessions' own segments
	MethodUDP = "udp" // DF datagrams to a closed port (mtu.CheckDF)
)

// MTUProbe is the evidence of one probe session.
type MTUProbe struct {
	Round       int           `json:"round"`
	Size        int           `json:"size"`             // IP packet size asked for
	Sent        int           `json:"sent,omitempty"`   // IP packet size TCP_INFO says was used (inbound: the largest received)
	OK          bool          `json:"ok"`               // carried: a segment of that size was acknowledged (inbound: the flight arrived)
	Result      ProbeResult   `json:"result"`           // delivered, lost, icmp, clamped, timed-out, session-failed
	Via         string        `json:"via,omitempty"`    // starttls (bytes after STARTTLS, no transaction), data (a message body), handshake (inbound)
	Retransmits int           `json:"retransmits"`      // tcpi_total_retrans
	Segments    int           `json:"segments"`         // data segments sent (inbound: received)
	PMTU        int           `json:"pmtu,omitempty"`   // IP_MTU after the probe
	RTT         time.Duration `json:"-"`                // smoothed RTT (JSON "rtt_ms")
	Wait        time.Duration `json:"-"`                // from the probe's write to its verdict (JSON "wait_ms")
	Attempts    int           `json:"attempts"`         // sessions it took: one lost to the dialogue is retried
	Flight      int           `json:"flight,omitempty"` // inbound: bytes of the server's STARTTLS flight received
	// Adv is the IP packet size our SYN's MSS option allowed the server
	// (tcpi_advmss as a packet): below Size when our kernel's cached path
	// MTU lowered it.
	Adv int `json:"adv,omitempty"`
	// Limit says what kept a clamped or cached probe below Size:
	// LimitPathMTU or LimitPeerMSS.
	Limit string `json:"limit,omitempty"`
}

// MTUInfo is the path-MTU part of a Result. Its path_mtu, verdict and
// bracket are the client-to-server direction; Reverse is the other one.
type MTUInfo struct {
	PathMTU      *int     `json:"path_mtu"`
	Verdict      Verdict  `json:"verdict,omitempty"` // absent when the probe sessions themselves failed
	Bracket      [2]*int  `json:"bracket"`           // [largest_ok, smallest_failed]; smallest_failed null when nothing failed
	Exact        bool     `json:"exact"`
	Sessions     int      `json:"sessions"`
	Transactions int      `json:"transactions"` // MAIL transactions opened (0 when STARTTLS carries the probes)
	Rounds       int      `json:"rounds"`
	Retests      int      `json:"retests"` // probes of a size tried before: controls and confirmations
	Retransmits  int      `json:"retransmits"`
	LossPct      *float64 `json:"loss_pct"` // segments retransmitted per data segment sent, over the passing probes
	// NoEvidence is how many probe sessions died of loss before their
	// probe proved anything (their sizes were planned again).
	NoEvidence   int    `json:"no_evidence,omitempty"`
	ICMPSeen     bool   `json:"icmp_seen"` // the kernel's path MTU dropped during a probe
	CachedPMTU   int    `json:"cached_pmtu,omitempty"`
	InterfaceMTU int    `json:"interface_mtu"`
	MTUProbing   *int   `json:"tcp_mtu_probing,omitempty"` // this host's net.ipv4.tcp_mtu_probing
	Range        [2]int `json:"range"`
	// CachedExpiresS is how long CachedPMTU had left, in seconds, as
	// the kernel reported it (0: not reported).
	CachedExpiresS int `json:"cached_pmtu_expires_s,omitempty"`
	// CacheCleared: our cached path MTU towards this one address was
	// deleted before the inbound half, so that it could not lower the MSS
	// our SYNs advertise (IPv6 only: mtu.ForgetPMTU).
	CacheCleared bool `json:"cache_cleared,omitempty"`
	// Tested is the range of IP packet sizes that actually went out at
	// their size and were judged, client to server; nil when none did. A
	// verdict says nothing about sizes above Tested[1].
	Tested *[2]int `json:"tested"`
	// Method is what decided Verdict: MethodTCP, or MethodUDP when the
	// peer's MSS or our cache kept TCP below the size under test and DF
	// datagrams decided (UDP).
	Method  string       `json:"method,omitempty"`
	UDP     *mtu.DFCheck `json:"udp,omitempty"`
	Probes  []MTUProbe   `json:"probes"`
	Reverse *MTUReverse  `json:"reverse,omitempty"`

	dfAt time.Time // when dfFirst's raw datagram went out; zero when none did
}

// MTUReverse is the server-to-client direction, measured through the MSS we
// advertise, with the server's STARTTLS flight as the payload.
type MTUReverse struct {
	PathMTU     *int    `json:"path_mtu"`
	Verdict     Verdict `json:"verdict"`
	Bracket     [2]*int `json:"bracket"`
	Exact       bool    `json:"exact"`
	Sessions    int     `json:"sessions"`
	Rounds      int     `json:"rounds"`
	Retests     int     `json:"retests"`
	FlightBytes int     `json:"flight_bytes"` // the server's STARTTLS flight, as received
	TestedUpTo  int     `json:"tested_up_to"` // the largest packet the flight could fill; larger sizes prove nothing
	// Tested is the range of IP packet sizes the server was actually let
	// send (our SYN advertised them, and its flight could fill them); nil
	// when none.
	Tested *[2]int    `json:"tested"`
	Method string     `json:"method,omitempty"`
	Probes []MTUProbe `json:"probes"`
}

// Loss timing. A probe's segments that are not acknowledged within
// lossFactor times the slowest acknowledgement of the round's passing
// probes (the control among them), and at least lossFloor, are lost. The
// floor covers working PMTUD (the ICMP comes back within an RTT and the
// kernel resends at once) and scheduling noise on a loaded host; a random
// loss the rule misjudges is caught by mtu.Search's re-tests.
const (
	lossFloor  = 30 * time.Millisecond
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
	// dfFirst's datagram goes out at once, beside the inbound half: it
	// leaves nothing cached (raw sockets), it is the first packet of the
	// run to reach the bottleneck router (so it, not a TCP probe, gets
	// that router's next ICMP token), and its wait overlaps the inbound
	// probes instead of following them.
	var first func() dfFirstResult
	if dir != DirectionIn {
		ch := make(chan dfFirstResult, 1)
		go func() { ch <- p.dfFirst(ctx, t, lo, hi) }()
		first = sync.OnceValue(func() dfFirstResult { return <-ch })
		defer first()
	}
	if dir != DirectionOut {
		if info.CachedPMTU > 0 && mtu.ForgetPMTU(dst) == nil {
			if c, err := mtu.CachedPMTU(dst); err == nil && c.MTU == 0 {
				info.CacheCleared = true
			}
		}
		rstart := p.now()
		rctx, rcancel := context.WithDeadlineCause(ctx, firstEnd, errBudget) // the outbound half keeps the rest
		p.mtuReverse(rctx, t, &r, lo, hi, v6, opt)
		rcancel()
		info.Reverse.Tested = revTested(info.Reverse, lo)
		info.Reverse.Method = MethodTCP
		r.timePhase("mtu_in", p.now().Sub(rstart))
	}
	if dir != DirectionIn {
		if !p.mtuOut(ctx, t, &r, lo, hi, v6, opt, first()) {
			if info.Reverse != nil && info.Reverse.Verdict != "" {
				p.reverseFindings(t, &r, v6)
			}
			r.timePhase("mtu", p.now().Sub(start))
			if r.local != nil {
				return r, r.local
			}
			return r, nil
		}
	} else {
		info.Verdict = VerdictUntested
	}
	if info.Reverse != nil && info.Reverse.Verdict != "" {
		p.reverseFindings(t, &r, v6)
	}
	r.timePhase("mtu", p.now().Sub(start))
	if r.local != nil {
		return r, r.local
	}
	return r, nil
}

// mtuOut brackets the client-to-server direction; false means a probe
// session failed for a reason other than the path, recorded in r.
func (p *Prober) mtuOut(ctx context.Context, t Target, r *Result, lo, hi int, v6 bool, opt MTUOptions, df dfFirstResult) bool {
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
		if pr.Result == ProbeLost {
			pt.start(octx, p, t, size, v6, opt)
		}
		return pr.OK, nil
	}
	shi := hi
	if df.udp != nil {
		info.UDP, shi = df.udp, df.udp.MTU
	}
	info.dfAt = df.at
	b, err := mtu.Search{Min: lo, Max: shi, Parallel: opt.Parallel}.Run(ctx, send)
	numberRounds(info.Probes, b.Tried)
	info.Rounds, info.Retests = b.Rounds, b.Retests
	var segs, retrans int
	for _, pr := range info.Probes {
		info.Sessions += max(pr.Attempts, 1)
		info.Retransmits += pr.Retransmits
		info.ICMPSeen = info.ICMPSeen || pr.Result == ProbeICMP
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
		info.Verdict = VerdictInconclusive
		if ok := b.LargestCarried(); ok > 0 {
			info.Bracket[0] = ptr(ok)
		}
		r.Findings = append(r.Findings, inconclusiveFinding(t, r, "client to server", time.Since(started), b, b.Blind, info.LossPct, err))
		return true
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
		return false
	case err != nil:
		r.setFailure(ProtocolError, "bracketing: "+err.Error())
		return false
	}
	if b.LargestOK > 0 {
		info.PathMTU = ptr(b.LargestOK)
		info.Bracket[0] = ptr(b.LargestOK)
	}
	if b.SmallestFailed > 0 {
		info.Bracket[1] = ptr(b.SmallestFailed)
	}
	info.Exact = b.Exact()
	info.Method = MethodTCP
	if limit, _ := clampedBy(b, info); info.UDP == nil && limit != "" && !info.ICMPSeen && b.LargestOK > 0 && b.LargestOK < hi {
		// TCP could not send above LargestOK (the server's MSS or our
		// cached path MTU): ask the path with DF datagrams instead.
		wait := dfWait(info.Probes)
		if c, err := mtu.CheckDF(ctx, t.Addr.Addr().Unmap(), b.LargestOK, hi, wait); err == nil || len(c.Replies) > 0 {
			info.UDP = &c
		}
	}
	info.Verdict = outVerdict(b, info)
	udp := info.UDP
	info.UDP = nil
	tcpOnly := outVerdict(b, info)
	info.UDP = udp
	if udp != nil && udp.Verdict != mtu.DFUnknown && !info.ICMPSeen && tcpOnly != VerdictBlackhole {
		// The DF datagrams decided: TCP could not send above
		// LargestOK, or dfFirst kept it there.
		info.Method = MethodUDP
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
	info.Tested = outTested(info, lo, hi)
	// A black hole is believed only after a patient probe (a rate-limited
	// PTB is not one), while its link is located (mtu_ptb.go, path.go).
	p.confirmBlackhole(ctx, t, r, b, v6, opt, &pt)
	return true
}

// outVerdict is the client-to-server verdict of bracketing b, from the
// evidence in info (its Probes in round order, ICMPSeen, CachedPMTU,
// InterfaceMTU):
//
//   - the smallest failed size's last attempt was lost (or timed out): a
//     black hole, unless ICMP did lower the kernel's path MTU to the
//     bracket (an icmp probe's PMTU, or the cached one, no larger than
//     LargestOK): then the loss is the loss timer on a loaded host, and
//     the kernel's own path MTU says PMTUD works (RFC 1191 §4, RFC 8201
//     §4). A path MTU learned above LargestOK (ICMP from one hop, a black
//     hole behind it) stays a black hole;
//   - ICMP seen or a cached path MTU: pmtud-working;
//   - clamped below the interface MTU: mss-clamped (larger segments were
//     never sent: the peer's MSS, its own PMTUD or an MSS-clamping router,
//     keeps TCP below a bottleneck that does exist);
//   - otherwise no-bottleneck.
//
// A cached path MTU alone is never pmtud-working: it says ICMP reached this
// host within the last ten minutes, not that it does now. When TCP could
// not send above LargestOK (clampedBy), the DF datagrams' check (info.UDP)
// decides: a hop's packet-too-big is pmtud-working, the largest size
// arriving is no-bottleneck, silence above answered siblings is
// pmtu-blackhole. Without an answer there, a probe kept small by our own
// cache is untested, and one kept small by the server's MSS is mss-clamped.
func outVerdict(b mtu.Bracket, info *MTUInfo) Verdict {
	// What made the smallest failed size fail, on its last attempt.
	var failedBy ProbeResult
	learned := info.CachedPMTU // the kernel's path MTU lowered by ICMP, 0 if never
	if info.CacheCleared {
		learned = 0 // deleted before the probes: nothing this run relied on
	}
	for _, pr := range info.Probes {
		if b.SmallestFailed > 0 && pr.Size == b.SmallestFailed && !pr.OK {
			failedBy = pr.Result
		}
		if pr.Result == ProbeICMP && pr.PMTU > 0 && (learned == 0 || pr.PMTU < learned) {
			learned = pr.PMTU
		}
	}
	icmpToBracket := learned > 0 && b.LargestOK > 0 && learned <= b.LargestOK
	switch {
	case (failedBy == ProbeLost || failedBy == ProbeTimedOut) && !icmpToBracket:
		return VerdictBlackhole
	case info.ICMPSeen:
		return VerdictPMTUDWorking
	}
	if u := info.UDP; u != nil {
		switch u.Verdict {
		case mtu.DFICMPWorks:
			return VerdictPMTUDWorking
		case mtu.DFNoBottleneck:
			return VerdictNoBottleneck
		case mtu.DFBlackhole:
			return VerdictBlackhole
		}
	}
	limit, _ := clampedBy(b, info)
	switch {
	case limit == LimitPathMTU:
		return VerdictUntested
	case failedBy == ProbeClamped && b.LargestOK > 0 && b.LargestOK < info.InterfaceMTU:
		return VerdictMSSClamped
	case failedBy == ProbeLost || failedBy == ProbeTimedOut:
		// Lost above a path MTU that only the cache lowered to the
		// bracket: what ICMP does now was not seen.
		return VerdictUntested
	}
	return VerdictNoBottleneck
}

// dfFirstResult is what dfFirst learned: udp is the DF datagram's
// packet-too-big (nil without one), and at is when the datagram went out
// through raw sockets (zero when it did not), the start of the patience
// window that confirmByDF counts from.
type dfFirstResult struct {
	udp *mtu.DFCheck
	at  time.Time
}

// dfFirst asks the path with one DF datagram of size hi before any TCP
// probe, where doing so leaves no path MTU cached here (an IPv4 host allowed
// raw sockets: mtu.SendDF). A hop's packet-too-big proves that ICMP
// reaches this host and names the bottleneck; the TCP probes then stay at
// or below it (udp.MTU) and draw no ICMP themselves, so this run leaves no
// cached path MTU behind to lower the next run's SYNs (a cron job's next
// inbound half would otherwise be untested for ten minutes). It only reads
// the path; mtuOut applies the result.
func (p *Prober) dfFirst(ctx context.Context, t Target, lo, hi int) dfFirstResult {
	dst := t.Addr.Addr().Unmap()
	if !dst.Is4() || lo >= hi {
		return dfFirstResult{}
	}
	sent := time.Now()
	rep, err := mtu.SendDF(ctx, dst, mtu.DFPort, hi, dfWait(nil))
	var res dfFirstResult
	if err == nil && rep.Raw {
		res.at = sent
	}
	if err != nil || !rep.Raw || rep.Answer != mtu.DFTooBig || rep.MTU < lo || rep.MTU >= hi {
		return res
	}
	res.udp = &mtu.DFCheck{Verdict: mtu.DFICMPWorks, Hop: rep.From, MTU: rep.MTU, Replies: []mtu.DFReply{rep}}
	return res
}

// clampedBy says what kept TCP below the smallest failed size of b, when
// its last attempt there was clamped: LimitPathMTU (our cached path MTU)
// or LimitPeerMSS (the server's MSS); "" when it was not clamped. The
// second value is the probe.
func clampedBy(b mtu.Bracket, info *MTUInfo) (string, MTUProbe) {
	var last MTUProbe
	for _, pr := range info.Probes {
		if b.SmallestFailed > 0 && pr.Size == b.SmallestFailed && !pr.OK {
			last = pr
		}
	}
	if last.Result != ProbeClamped {
		return "", last
	}
	if last.Limit == "" {
		return LimitPeerMSS, last
	}
	return last.Limit, last
}

// dfWait is how long a DF datagram waits for its ICMP: four of the slowest
// smoothed RTT the TCP probes measured, at least 250 ms.
func dfWait(probes []MTUProbe) time.Duration {
	var rtt time.Duration
	for _, pr := range probes {
		rtt = max(rtt, pr.RTT)
	}
	return max(250*time.Millisecond, 4*rtt)
}

// outTested is the client-to-server range of sizes that were put on the
// wire at their size and judged: the TCP probes that were not clamped, and
// the DF datagrams when they decided.
func outTested(info *MTUInfo, lo, hi int) *[2]int {
	top := 0
	for _, pr := range info.Probes {
		switch pr.Result {
		case ProbeDelivered, ProbeLost, ProbeICMP, ProbeTimedOut:
			top = max(top, pr.Size)
		}
	}
	if u := info.UDP; u != nil && u.Verdict != mtu.DFUnknown {
		for _, d := range u.Replies {
			if d.Answer != mtu.DFSilent || u.Verdict == mtu.DFBlackhole {
				top = max(top, d.Size)
			}
		}
	}
	if top == 0 {
		return nil
	}
	return &[2]int{lo, min(top, hi)}
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

// numberRounds gives each probe (in completion order) the round of the
// search's Try for the same size, in order, and sorts them by round and
// size. A size is tried again only in a later round, so the n-th probe of
// a size is its n-th Try.
func numberRounds(probes []MTUProbe, tried []mtu.Try) {
	rounds := map[int][]int{}
	for _, t := range tried {
		rounds[t.Size] = append(rounds[t.Size], t.Round)
	}
	for i := range probes {
		if rs := rounds[probes[i].Size]; len(rs) > 0 {
			probes[i].Round, rounds[probes[i].Size] = rs[0], rs[1:]
		}
	}
	sort.SliceStable(probes, func(i, j int) bool {
		if probes[i].Round != probes[j].Round {
			return probes[i].Round < probes[j].Round
		}
		return probes[i].Size < probes[j].Size
	})
}

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
	q.Control = mtu.Control(mtu.ClampForPacket(size, v6))
	*r = newResult(t)
	d := q.begin(ctx, t, r)
	if d == nil {
		return nil
	}
	// Reset, never close, however the session ends (a cancelled TLS
	// handshake closes the socket itself): a FIN would leave the server
	// retransmitting into the black hole for minutes, and, once ICMP
	// passes again, learning a path MTU from a session long gone.
	abort(d.c)
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
		pr.Result = ProbeSessionFailed
		return pr, r
	}
	defer d.end()
	sc, _ := d.c.Raw().(syscall.Conn)
	before, err := mtu.TCPInfo(sc)
	if err != nil {
		r.setFailure(ProtocolError, "TCP_INFO: "+err.Error())
		pr.Result = ProbeSessionFailed
		return pr, r
	}
	// Never trust the clamp asked for: a cached path MTU or the peer's
	// MSS may make the kernel's segments smaller.
	pr.Sent = mtu.PacketSize(before, v6)
	pr.Adv = advPacket(before, v6)
	if pr.Sent < size {
		pr.Result = ProbeClamped
		pr.Limit = LimitPeerMSS
		if pm, err := mtu.PathMTU(sc); err == nil && pm < size && pm <= pr.Sent {
			pr.Limit = LimitPathMTU // our own cached path MTU, not the server's MSS
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
			pr.Result = ProbeSessionFailed
			return pr, r
		}
		pr.Via, payload = "starttls", wire.RecordStart(n) // begins no ClientHello (tlshello.go)
	} else {
		_, ok := d.envelope(opt.From, to, "data")
		pr.Via = "data"
		if !ok {
			d.quit()
			pr.Result = ProbeSessionFailed
			return pr, r
		}
		payload = Message(opt.From, to, d.name, n, p.now())
	}
	if before, err = mtu.TCPInfo(sc); err != nil {
		r.setFailure(ProtocolError, "TCP_INFO: "+err.Error())
		pr.Result = ProbeSessionFailed
		return pr, r
	}
	mtu.Watching(ctx) // the straggler cut leaves it to its loss timer
	wrote := time.Now()
	if err := d.c.WriteData(ctx, d.rt, payload); err != nil {
		r.setFailure(Classify(err), "probe write: "+err.Error())
		pr.Result = ProbeSessionFailed
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
	abort(d.c) // the server is owed a TLS record or a final dot; neither comes
	if err != nil {
		if errors.Is(err, mtu.ErrClosed) {
			r.setFailure(Reset, "the server reset the probe session before the probe was acknowledged")
		} else {
			r.setFailure(Classify(err), "watching the probe: "+err.Error())
		}
		pr.Result = ProbeSessionFailed
		return pr, r
	}
	switch {
	case pmtu > 0 && pmtu < pr.Sent:
		// ICMP "fragmentation needed" / "packet too big" arrived
		// while this probe's packets were in flight (RFC 1191 §4,
		// RFC 8201 §4): the kernel lowered the path MTU below the size
		// the probe had started with, and resegmented.
		pr.Result = ProbeICMP
	case v == mtu.Lost:
		pr.Result = ProbeLost
	case v == mtu.TimedOut:
		pr.Result = ProbeTimedOut
	default:
		pr.OK, pr.Result = true, ProbeDelivered
		clk.Passed(waited)
	}
	d.c.Event(wire.EvData, fmt.Sprintf("probe %d bytes: %s after %s (sent %d-byte packets, %d retransmits, path MTU %d)", size, pr.Result, fmtDur(waited), pr.Sent, pr.Retransmits, pmtu))
	return pr, r
}

// advPacket is the IP packet size the MSS option of our SYN allowed the
// server: tcpi_advmss is that option less the timestamp option once
// negotiated, like tcpi_snd_mss.
func advPacket(i mtu.Info, v6 bool) int {
	if i.AdvMSS == 0 {
		return 0
	}
	return i.AdvMSS + mtu.Overhead(v6, i.Timestamps())
}

// abort resets the connection so that neither side keeps retransmitting
// data the path cannot carry, and the server drops the session.
func abort(c *wire.Conn) {
	if tc, ok := c.Raw().(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
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
	if info.Verdict == VerdictUntested && info.Method == MethodTCP {
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
	case VerdictBlackhole:
		stalls := "mail larger than a few KB stalls (\"timeout after DATA\")"
		if info.Method == MethodUDP && limitText(info) == "the server's MSS" {
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
	case VerdictPMTUDWorking:
		switch {
		case info.Method == MethodUDP && info.UDP != nil && limitText(info) == "":
			fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodePMTUBottleneck,
				Message: fmt.Sprintf("%s: the path MTU is %d bytes (interface %d): a DF datagram of %d bytes to a closed UDP port drew %s from %s before any TCP probe, so %s reaches this host; the TCP probes then stayed at or below %d bytes and carried it, and left no path MTU cached on this host", w, *info.PathMTU, info.InterfaceMTU, info.Range[1], icmp, info.UDP.Hop, icmp, *info.PathMTU)})
		case info.Method == MethodUDP && info.UDP != nil:
			fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodePMTUBottleneck,
				Message: fmt.Sprintf("%s: the path MTU is %d bytes (interface %d); TCP could not send larger packets (%s), so a DF datagram of %d bytes to a closed UDP port tested the path instead: %s came back from %s, so it reaches this host", w, *info.PathMTU, info.InterfaceMTU, limitText(info), info.Range[1], icmp, info.UDP.Hop)})
		case info.PathMTU != nil && info.ICMPSeen:
			fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodePMTUBottleneck,
				Message: fmt.Sprintf("%s: the path MTU is %d bytes (interface %d); %s reaches this host and TCP adapts", w, *info.PathMTU, info.InterfaceMTU, icmp)})
		}
	case VerdictMSSClamped:
		fs = append(fs, Finding{Severity: SevInfo, Code: dnscheck.CodeMSSClamped,
			Message: fmt.Sprintf("%s: the MSS the server's SYN-ACK carried keeps TCP packets at %d bytes or less (interface %d): either a router on the path clamps the MSS, or the server cached a path MTU towards this host (learned from ICMP within about 10 minutes, which a remote host cannot flush). TCP on this path is protected; larger probes could not be sent, so whether %s reaches this host was not tested by TCP%s, and non-TCP traffic (UDP, IPsec, tunnels) may still hit the bottleneck", w, *info.PathMTU, info.InterfaceMTU, icmp, udpWhy(info.UDP))})
	}
	if info.Method == MethodUDP && info.Verdict == VerdictBlackhole && info.UDP != nil {
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
		if pr.Result == ProbeClamped && pr.Limit == LimitPathMTU {
			return "our own cached path MTU"
		}
	}
	for _, pr := range info.Probes {
		if pr.Result == ProbeClamped {
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
