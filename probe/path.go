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

// Hop is one TTL of a path sweep, as JSON carries it in a result's
// "hops".
type Hop struct {
	TTL     int     `json:"ttl"`
	Address string  `json:"address,omitempty"` // absent when the hop stayed silent
	Answer  string  `json:"answer"`            // time-exceeded, unreachable, syn-ack, rst, silent, local-error
	ICMP    string  `json:"icmp,omitempty"`    // the ICMP error's class: time-exceeded, admin-prohibited, host-unreachable...
	Type    *uint8  `json:"icmp_type,omitempty"`
	Code    *uint8  `json:"icmp_code,omitempty"`
	RTTMS   float64 `json:"rtt_ms,omitempty"`
	Probes  int     `json:"probes"`
	// Unanswered is how many of the hop's SYNs got no answer although a
	// later one did: its ICMP rate limit, most likely.
	Unanswered int `json:"unanswered,omitempty"`
}

// PathEnd says where a path sweep's SYNs stopped.
type PathEnd struct {
	// Answer is how: syn-ack, rst, unreachable (ICMP from Address),
	// local-error, or silent (nothing after hop LastTTL).
	Answer  string `json:"answer"`
	TTL     int    `json:"ttl,omitempty"`     // the hop that ended the SYNs
	HopTTL  int    `json:"hop_ttl,omitempty"` // the first TTL at which Address answered (a router that rejects answers time-exceeded one TTL earlier)
	Address string `json:"address,omitempty"`
	ICMP    string `json:"icmp,omitempty"`
	Type    *uint8 `json:"icmp_type,omitempty"`
	Code    *uint8 `json:"icmp_code,omitempty"`
	LastTTL int    `json:"last_ttl"`
	// LastAddress is the last hop that answered before the stop.
	LastAddress string `json:"last_address,omitempty"`
	// RateLimited: the stop is the ICMP error the connect itself received,
	// and the sweep's own SYNs met silence there: the sender's ICMP rate
	// limit, not a drop.
	RateLimited bool    `json:"rate_limited,omitempty"`
	Probes      int     `json:"probes"`
	ElapsedMS   float64 `json:"elapsed_ms"`
	// ComparePort is a second port of the same host swept after the
	// probed one when its SYNs went unanswered; CompareAnswer and
	// CompareTTL are how and at which hop that port answered, with
	// CompareProbes SYNs.
	ComparePort   uint16 `json:"compare_port,omitempty"`
	CompareAnswer string `json:"compare_answer,omitempty"`
	CompareTTL    int    `json:"compare_ttl,omitempty"`
	CompareProbes int    `json:"compare_probes,omitempty"`
}

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
		r.setFailure(Unreachable, stopText(path))
	default:
		r.setFailure(ConnectTimeout, stopText(path))
	}
	r.Findings = append(r.Findings, pathFindings(t, path, cmp)...)
	return r
}

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
	r.Findings = append(r.Findings, pathFindings(t, path, cmp)...)
	if path.Stop.RateLimited {
		r.Findings = append(r.Findings, rateLimitFinding(t, path))
	}
}

// rateLimitFinding explains a sweep whose stop came from the connect's own
// ICMP error because the sweep's SYNs met silence there.
func rateLimitFinding(t Target, path *trace.Path) Finding {
	s := path.Stop
	return Finding{Severity: SevInfo, Code: dnscheck.CodeICMPRateLimited, Message: fmt.Sprintf(
		"%s: the follow-up sweep's SYNs got no answer at hop %d, where the connect had just received ICMP %s from %s: "+
			"that sender rate-limits its ICMP errors (Linux: about one per second per destination after a burst of six), "+
			"so the silence is its rate limit, not a drop; the connect's answer stands",
		who(t, path.Target.Addr().String()), s.TTL, wire.ICMPWords(trace.Class(is6(path.Target.Addr()), s.Type, s.Code)), s.From)}
}

func (r *Result) setPath(path, cmp *trace.Path) {
	v6 := is6(path.Target.Addr())
	r.Hops = make([]Hop, 0, len(path.Hops))
	for _, h := range path.Hops {
		hop := Hop{TTL: h.TTL, Answer: h.Kind.String(), Probes: h.Sent, Unanswered: h.Unanswered}
		if h.Addr.IsValid() {
			hop.Address = h.Addr.String()
			hop.RTTMS = units.MS(h.RTT)
		}
		if h.Kind == trace.TimeExceeded || h.Kind == trace.Unreachable {
			hop.ICMP = trace.Class(v6, h.Type, h.Code)
			hop.Type, hop.Code = ptr(h.Type), ptr(h.Code)
		}
		r.Hops = append(r.Hops, hop)
	}
	s := path.Stop
	e := &PathEnd{Answer: s.Kind.String(), TTL: s.TTL, LastTTL: s.LastTTL, Probes: path.Probes, ElapsedMS: units.MS(path.Elapsed), RateLimited: s.RateLimited}
	if s.From.IsValid() {
		e.Address = s.From.String()
		e.HopTTL = hopOf(path, s.From)
	}
	if s.LastAddr.IsValid() {
		e.LastAddress = s.LastAddr.String()
	}
	if s.Kind == trace.Unreachable {
		e.ICMP = trace.Class(v6, s.Type, s.Code)
		e.Type, e.Code = ptr(s.Type), ptr(s.Code)
	}
	if cmp != nil && s.Kind == trace.Silent {
		e.ComparePort = cmp.Target.Port()
		e.CompareAnswer = cmp.Stop.Kind.String()
		e.CompareTTL = cmp.Stop.TTL
		e.CompareProbes = cmp.Probes
		e.ElapsedMS = units.MS(path.Elapsed + cmp.Elapsed)
	}
	r.PathEnd = e
}

func is6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }

// hopOf is the first TTL at which a answered (a router that rejects
// forwarded SYNs answers the TTL that ends at it with time exceeded, and
// every later one with its rejection).
func hopOf(path *trace.Path, a netip.Addr) int {
	for _, h := range path.Hops {
		if h.Addr == a {
			return h.TTL
		}
	}
	return path.Stop.TTL
}

// hopName is "hop 2 (198.18.2.2)".
func hopName(ttl int, a netip.Addr) string {
	if !a.IsValid() {
		return fmt.Sprintf("hop %d", ttl)
	}
	return fmt.Sprintf("hop %d (%s)", ttl, a)
}

// stopText says in one line where and how the SYNs stopped.
func stopText(path *trace.Path) string {
	s := path.Stop
	v6 := is6(path.Target.Addr())
	switch s.Kind {
	case trace.SynAck:
		return fmt.Sprintf("SYN-ACK from %s at hop %d", s.From, s.TTL)
	case trace.Reset:
		return fmt.Sprintf("RST from %s at hop %d", s.From, s.TTL)
	case trace.Unreachable:
		return fmt.Sprintf("ICMP %s (type %d code %d) from %s", wire.ICMPWords(trace.Class(v6, s.Type, s.Code)), s.Type, s.Code, hopName(hopOf(path, s.From), s.From))
	case trace.LocalError:
		return "the SYN could not leave this host: no route to it here"
	}
	if s.LastTTL == 0 {
		return fmt.Sprintf("no answer from any hop to SYNs to port %d", path.Target.Port())
	}
	return fmt.Sprintf("SYNs to port %d dropped after %s: no answer from hop %d on", path.Target.Port(), hopName(s.LastTTL, s.LastAddr), s.LastTTL+1)
}

// nearHops is how far from us a drop still counts as "near": this host's
// own firewall or its first router, where a provider's outbound port-25
// policy usually sits.
const nearHops = 1

// pathFindings explains a sweep: where SYNs are dropped, or who rejects
// them with which ICMP error, and what to look at.
func pathFindings(t Target, path, cmp *trace.Path) []Finding {
	s := path.Stop
	port := t.Addr.Port()
	dst := t.Addr.Addr()
	v6 := is6(dst)
	switch s.Kind {
	case trace.Unreachable:
		class := trace.Class(v6, s.Type, s.Code)
		hop := hopOf(path, s.From)
		where := "at " + hopName(hop, s.From)
		atDst := s.From == dst
		if atDst {
			where = fmt.Sprintf("by the destination itself, %s", hopName(hop, s.From))
		}
		msg := fmt.Sprintf("%s: SYNs to port %d are answered %s with ICMP %s (type %d code %d)", who(t, dst.String()), port, where, wire.ICMPWords(class), s.Type, s.Code)
		var code string
		switch class {
		case "admin-prohibited":
			code = dnscheck.CodeICMPAdminProhibited
			msg += fmt.Sprintf(": a firewall rejects them; look for a reject rule for port %d at %s", port, s.From)
		case "host-unreachable":
			code = dnscheck.CodeICMPHostUnreachable
			if atDst {
				msg += ": the host itself refuses them with a reject rule"
			} else {
				msg += fmt.Sprintf(": %s cannot reach the host (down, or no neighbour answers for it), or a reject rule there says so", s.From)
			}
		case "net-unreachable":
			code = dnscheck.CodeICMPNetUnreachable
			msg += fmt.Sprintf(": %s has no route to %s, or a reject rule there says so", s.From, dst)
		default:
			code = dnscheck.CodeICMPPrefix + class
		}
		if hop <= nearHops && !atDst {
			msg += "; this is near us: check the local firewall or the provider's outbound port-25 policy"
		}
		return []Finding{{Severity: SevWarning, Code: code, Message: msg}}
	case trace.Silent:
		var fs []Finding
		dist := 0
		if cmp != nil && (cmp.Stop.Kind == trace.SynAck || cmp.Stop.Kind == trace.Reset) && cmp.Stop.From == dst {
			dist = cmp.Stop.TTL
		}
		last := s.LastTTL
		msg := fmt.Sprintf("%s: SYNs to port %d get no answer after %s", who(t, dst.String()), port, hopName(last, s.LastAddr))
		if last == 0 {
			msg = fmt.Sprintf("%s: SYNs to port %d get no answer from any hop, not even the first router", who(t, dst.String()), port)
		}
		switch {
		case dist > 0:
			msg += fmt.Sprintf("; the target is %s away (port %d answers there)", units.Count(dist, "hop"), cmp.Target.Port())
		case cmp != nil:
			msg += fmt.Sprintf("; how far the target is is unknown: port %d got no answer from it either", cmp.Target.Port())
		}
		at := last + 1
		switch {
		case dist > 0 && at >= dist:
			msg += "; the drop is at the destination: its firewall"
		case at <= nearHops:
			msg += fmt.Sprintf("; the drop is near us: check the local firewall or the provider's outbound port-%d policy", port)
		case dist > 0:
			msg += fmt.Sprintf("; the drop is on the path, %s before the destination", units.Count(dist-at, "hop"))
		}
		fs = append(fs, Finding{Severity: SevWarning, Code: dnscheck.CodeSYNDroppedAfterHop, Message: msg})
		if dist > 0 {
			where := fmt.Sprintf("at %s", hopName(at, addrAt(cmp, at)))
			if at >= dist {
				where = fmt.Sprintf("at the destination, %s", hopName(dist, dst))
			}
			fs = append(fs, Finding{Severity: SevWarning, Code: dnscheck.CodePort25FilteredAtHop, Message: fmt.Sprintf(
				"%s: port %d is filtered %s, while port %d passes on the same path: a filter drops port %d, the path itself works",
				who(t, dst.String()), port, where, cmp.Target.Port(), port)})
		}
		return fs
	case trace.LocalError:
		return []Finding{{Severity: SevWarning, Code: dnscheck.CodeNoLocalRoute, Message: fmt.Sprintf("%s: SYNs to port %d cannot leave this host (no route or a local reject rule): check the local firewall and routes", who(t, dst.String()), port)}}
	}
	return nil
}

// addrAt is the address of hop ttl in a sweep, if it answered.
func addrAt(p *trace.Path, ttl int) netip.Addr {
	if h, ok := p.Hop(ttl); ok {
		return h.Addr
	}
	return netip.Addr{}
}

// BlackholeLink is where a PMTU black hole was located (mtu): the link
// between the last hop a full-size packet reached and the next one, which
// only small packets reach.
type BlackholeLink struct {
	Located bool   `json:"located"`
	Reason  string `json:"reason,omitempty"` // why it was not located
	NearTTL int    `json:"near_ttl,omitempty"`
	Near    string `json:"near,omitempty"` // absent: this host
	FarTTL  int    `json:"far_ttl,omitempty"`
	Far     string `json:"far,omitempty"`
	// Size is the largest packet the near hop's time-exceeded quoted.
	Size int `json:"size,omitempty"`
}

// blackholeWait bounds the wait for one TTL's time-exceeded; blackholeBudget
// the whole location.
const (
	blackholeWait   = 500 * time.Millisecond
	blackholeBudget = 5 * time.Second
	blackholeFloor  = 30 * time.Millisecond
)

// slowestHop is the slowest RTT among the hops of path that answered; 0
// when none did.
func slowestHop(path *trace.Path) time.Duration {
	var d time.Duration
	for _, h := range path.Hops {
		d = max(d, h.RTT)
	}
	return d
}

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
	bl := &BlackholeLink{}
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
		notLocated("the sweep of small packets did not reach the target: " + stopText(path))
		return
	}
	// A hop that quotes the small sweep's SYN within its RTT quotes a
	// large segment as fast: wait a few of the slowest hop RTTs for it
	// (at least blackholeFloor, for a loaded host), not blackholeWait,
	// which only bounds hops whose RTT is unknown.
	wait := blackholeWait
	if slowest := slowestHop(path); slowest > 0 {
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
		notLocated(fmt.Sprintf("no hop past %s is known to be reached by small packets", hopName(link.NearTTL, link.Near)))
		return
	}
	bl.Located, bl.NearTTL, bl.FarTTL, bl.Far, bl.Size = true, link.NearTTL, link.FarTTL, link.Far.String(), link.Size
	near := "this host"
	if link.Near.IsValid() {
		bl.Near = link.Near.String()
		near = hopName(link.NearTTL, link.Near)
	}
	far := hopName(link.FarTTL, link.Far)
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
// banner), sends a full-size segment with TTL ttl, and returns the
// largest packet size quoted by the time-exceeded that came back for it
// (0: none did within blackholeWait; it ends early once one of minLarge
// bytes or more did). The session ends with an RST
// with the default TTL again, so the server sees it end.
func (p *Prober) largeReach(ctx context.Context, t Target, ttl, minLarge int, v6 bool, rd *trace.ICMPReader, wait time.Duration) (int, error) {
	q := *p
	q.Control = mtu.Control(0) // DF, no clamp
	c, err := q.Dial(ctx, t.Addr)
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
	if _, err := c.ReadReply(ctx, p.replyTimeout()); err != nil {
		return 0, fmt.Errorf("banner: %w", err)
	}
	info, err := mtu.TCPInfo(raw)
	if err != nil {
		return 0, err
	}
	// One full-size segment: with more, segmentation offload can carry
	// them as one larger packet as far as the first hop (veth), whose
	// quote would then not be a size any link carries.
	return rd.Reach(ctx, c.Raw(), ttl, int(max(info.SndMSS, 536)), minLarge, wait)
}
