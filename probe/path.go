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
	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// PathOptions tune a path sweep.
type PathOptions struct {
	trace.Options
	// ComparePort is swept after the probed port when that one's SYNs go
	// unanswered, to tell a port filter from a dead path; 0 means 587
	// (or 25 when the probed port is 587).
	ComparePort uint16
	// Budget bounds the whole sweep; 0 means no bound beyond ctx.
	Budget time.Duration
}

// locateBudget bounds the sweep that a connect-timeout or an unreachable
// adds to mx, session, timeout and check (issue 13: about 2 s more).
const locateBudget = 2 * time.Second

// tracer is the sweep's probe; tests replace it.
var tracer trace.ProbeFunc = trace.TCPProbe

// sweepPath sweeps t's port and, when its SYNs go unanswered, then a
// compare port of the same host (nil otherwise).
func (p *Prober) sweepPath(ctx context.Context, t Target, opt PathOptions) (*trace.Path, *trace.Path) {
	if opt.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.Budget)
		defer cancel()
	}
	cmp := opt.ComparePort
	if cmp == 0 {
		cmp = 587
		if t.Addr.Port() == 587 {
			cmp = 25
		}
	}
	if opt.Now == nil {
		opt.Now = p.Now
	}
	if p.Allow != nil && p.Allow(t.Addr) != nil {
		return &trace.Path{Target: t.Addr, Stop: trace.Stop{Kind: trace.Silent}}, nil // never sent
	}
	path := trace.Sweep(ctx, t.Addr, opt.Options, tracer)
	other := netip.AddrPortFrom(t.Addr.Addr(), cmp)
	if path.Stop.Kind != trace.Silent || ctx.Err() != nil || p.Allow != nil && p.Allow(other) != nil {
		return path, nil
	}
	return path, trace.Sweep(ctx, other, opt.Options, tracer)
}

// Path sweeps t hop by hop on its port (`smtpprobe path`): the result's
// hops, where the SYNs stop, and the findings that say what it means. Its
// outcome is what a connect would have met: ok (SYN-ACK), refused (RST),
// unreachable (ICMP error), connect-timeout (silence). The error is
// ctx's, when it ended.
func (p *Prober) Path(ctx context.Context, t Target, opt PathOptions) (Result, error) {
	r := p.path(ctx, t, opt)
	return r, ctx.Err()
}

func (p *Prober) path(ctx context.Context, t Target, opt PathOptions) Result {
	r := newResult(t)
	start := p.now()
	if opt.Pace == 0 {
		opt.Pace = trace.DefaultPace // a silent hop is asked again once its ICMP bucket refilled
	}
	path, cmp := p.sweepPath(ctx, t, opt)
	r.timePhase("path", p.now().Sub(start))
	r.setPath(path, cmp)
	switch path.Stop.Kind {
	case trace.SynAck:
	case trace.Reset:
		r.setFailure(Refused, fmt.Sprintf("RST from %s at hop %d: nothing listens on port %d", path.Stop.From, path.Stop.TTL, t.Addr.Port()))
	case trace.Unreachable, trace.LocalError:
		r.setFailure(Unreachable, trace.StopText(path))
	default:
		r.setFailure(ConnectTimeout, trace.StopText(path))
	}
	r.Findings = append(r.Findings, trace.Findings(path, cmp, who(t, t.Addr.Addr().String()))...)
	return r
}

// setPath sets the result's hops and path end from a sweep (and its
// compare port's, or nil).
func (r *Result) setPath(path, cmp *trace.Path) { r.Hops, r.PathEnd = trace.Summarize(path, cmp) }

// locate is the hook of a failed connect (begin): a connect-timeout or an
// unreachable gets a short sweep, its hops, and findings that name the
// hop where the SYNs stop.
func (p *Prober) locate(ctx context.Context, t Target, r *Result, err error) {
	o := Classify(err)
	if o != ConnectTimeout && o != Unreachable || ctx.Err() != nil {
		return
	}
	if errors.As(err, new(*wire.PolicyError)) || errors.As(err, new(*wire.LocalError)) {
		return // nothing may be sent there, or this host's own sockets failed
	}
	opt := PathOptions{Budget: locateBudget}
	opt.Wait = time.Second
	path, cmp := p.sweepPath(ctx, t, opt)
	// The sweep never contradicts the connect: when the connect got an
	// ICMP error, silence where the sweep's SYNs met its sender is that
	// sender's ICMP rate limit (it has just spent a token on us), not a
	// drop.
	var de *wire.DialError
	if errors.As(err, &de) && de.ICMP != nil && trace.Heed(path, *de.ICMP) {
		cmp = nil
	}
	r.setPath(path, cmp)
	r.Findings = append(r.Findings, trace.Findings(path, cmp, who(t, t.Addr.Addr().String()))...)
	if path.Stop.RateLimited {
		r.Findings = append(r.Findings, trace.RateLimitFinding(path, who(t, path.Target.Addr().String())))
	}
}

// blackholeWait bounds the wait for one TTL's time-exceeded; blackholeBudget
// the whole location.
const (
	blackholeWait   = 500 * time.Millisecond
	blackholeBudget = 5 * time.Second
	blackholeFloor  = 30 * time.Millisecond
)

// rawICMP opens the raw ICMP reader; tests replace it.
var rawICMP = trace.ListenICMP

// locateBlackhole locates the black-holed link of a forward pmtu-blackhole
// verdict (the mtu hook). Full-size segments leave an abandoned session
// (banner read, nothing sent) with TTL 1, 2, ... in parallel sessions; the
// time-exceeded of hop k quotes the segment's IP header, whose total
// length (IPv6: payload length) proves that a packet of that size reached
// hop k (RFC 792; RFC 4443 §3.3 quotes as much as fits). A sweep of SYNs
// shows which hops small packets reach. Reading the quotes needs a raw
// ICMP socket; without one the finding says the link was not located and
// why.
func (p *Prober) locateBlackhole(ctx context.Context, t Target, r *Result, v6 bool) {
	info := r.MTUInfo
	if info == nil || info.Verdict != mtu.VerdictBlackhole || info.Bracket[0] == nil {
		return
	}
	minLarge := *info.Bracket[0] + 1
	bl := &trace.BlackholeLink{}
	r.BlackholeLink = bl
	notLocated := func(why string) {
		bl.Reason = why
		r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeBlackholeLinkNotLocated, Message: fmt.Sprintf("%s: the black-holed link was not located: %s", who(t, r.Address), why)})
	}
	rd, err := rawICMP(v6)
	if err != nil {
		notLocated(err.Error())
		return
	}
	defer rd.Close()
	ctx, cancel := context.WithTimeout(ctx, blackholeBudget)
	defer cancel()
	opt := trace.Options{Wait: time.Second, Now: p.Now}
	path := trace.Sweep(ctx, t.Addr, opt, tracer)
	r.setPath(path, nil)
	dist := path.Stop.TTL
	if path.Stop.Kind != trace.SynAck {
		notLocated("the sweep of small packets did not reach the target: " + trace.StopText(path))
		return
	}
	// A hop that quotes the small sweep's SYN within its RTT quotes a
	// large segment as fast: wait a few of the slowest hop RTTs for it
	// (at least blackholeFloor, for a loaded host), not blackholeWait,
	// which only bounds hops whose RTT is unknown.
	wait := blackholeWait
	if slowest := path.SlowestRTT(); slowest > 0 {
		wait = min(blackholeWait, max(blackholeFloor, 10*slowest))
	}
	large := make(map[int]int)
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		fails []error
	)
	for ttl := 1; ttl < dist; ttl++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			size, err := p.largeReach(ctx, t, ttl, minLarge, v6, rd, wait)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fails = append(fails, err)
				return
			}
			large[ttl] = size
		}()
	}
	wg.Wait()
	if len(fails) > 0 {
		notLocated("a probe session failed: " + fails[0].Error())
		return
	}
	link, ok := trace.FindLink(path, large, minLarge)
	if !ok {
		notLocated(fmt.Sprintf("no hop past %s is known to be reached by small packets", trace.HopName(link.NearTTL, link.Near)))
		return
	}
	bl.Located, bl.NearTTL, bl.FarTTL, bl.Far, bl.Size = true, link.NearTTL, link.FarTTL, link.Far.String(), link.Size
	near := "this host"
	if link.Near.IsValid() {
		bl.Near = link.Near.String()
		near = trace.HopName(link.NearTTL, link.Near)
	}
	far := trace.HopName(link.FarTTL, link.Far)
	if link.Far == t.Addr.Addr() {
		far = "the destination, " + far
	}
	why := fmt.Sprintf("a %d-byte packet reached %s", link.Size, near)
	if link.NearTTL == 0 {
		why = "no hop quoted back a packet above " + units.Bytes(int64(minLarge-1))
	}
	icmp := "ICMP fragmentation needed (type 3 code 4)"
	if v6 {
		icmp = "ICMPv6 packet too big (type 2)"
	}
	r.Findings = append(r.Findings, Finding{Severity: SevCritical, Code: dnscheck.CodeBlackholeLink, Message: fmt.Sprintf(
		"%s: the black-holed link lies between %s and %s: %s, but only small packets reach %s; the router at its near end cannot forward packets above %d bytes, and its %s never reaches us: a filter on the way back drops it",
		who(t, r.Address), near, far, why, far, minLarge-1, icmp)})
}

// largeReach opens an abandoned session (connect with DF, read the
// banner; in an mtu run both hedged: wire.Greeted), sends a full-size segment with TTL ttl, and returns the
// largest packet size quoted by the time-exceeded that came back for it
// (0: none did within blackholeWait; it ends early once one of minLarge
// bytes or more did). The session ends with an RST
// with the default TTL again, so the server sees it end.
func (p *Prober) largeReach(ctx context.Context, t Target, ttl, minLarge int, v6 bool, rd *trace.ICMPReader, wait time.Duration) (int, error) {
	q := *p
	q.Control, q.Hedge = mtu.Control(0), hedgeOf(ctx) // DF, no clamp; an mtu run's connects are hedged
	c, err := wire.Greeted(ctx, q.Hedge, p.replyTimeout(), func(ctx context.Context) (*wire.Conn, error) { return q.Dial(ctx, t.Addr) })
	if err != nil {
		return 0, err
	}
	raw, ok := c.Raw().(syscall.Conn)
	if !ok {
		c.Close()
		return 0, errors.ErrUnsupported
	}
	defer func() {
		_ = trace.SetTTL(raw, v6, -1)
		_ = trace.Abort(raw)
		c.Close()
	}()
	info, err := mtu.TCPInfo(raw)
	if err != nil {
		return 0, err
	}
	// One full-size segment: with more, segmentation offload can carry
	// them as one larger packet as far as the first hop (veth), whose
	// quote would then not be a size any link carries.
	return rd.Reach(ctx, c.Raw(), ttl, int(max(info.SndMSS, 536)), minLarge, wait)
}
