// Package trace locates where a TCP path breaks, hop by hop, on the
// probed port itself: a TTL (IPv4, RFC 791 §3.2) or hop-limit (IPv6,
// RFC 8200 §3) sweep of SYNs whose ICMP time-exceeded answers (RFC 792,
// RFC 4443 §3.3) name each router, and whose last answer tells how the
// SYNs stop: a SYN-ACK or an RST from the target (RFC 9293 §3.5), an ICMP
// destination unreachable from a named hop (RFC 792, RFC 4443 §3.1), or
// silence after the last hop that answered.
//
// Sweep is the pure algorithm: it takes a ProbeFunc, so it is table-tested
// without a network. TCPProbe (Linux) is the real probe: a non-blocking
// connect with IP_TTL / IPV6_UNICAST_HOPS and IP_RECVERR / IPV6_RECVERR,
// whose ICMP answer the kernel queues on the socket's error queue with the
// sender's address (sock_extended_err, SO_EE_OFFENDER). No raw socket is
// needed for the sweep. Locating a PMTU black hole's link (Blackhole)
// reads the quoted IP header of time-exceeded messages from a raw ICMP
// socket and needs CAP_NET_RAW.
//
// What a sweep says is here too (report.go): Summarize gives its JSON model
// (HopReport, PathEnd; BlackholeLink for a located link), StopText its stop
// in one line, and Findings what it means, with dnscheck's finding codes.
package trace

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// ErrNotSupported is returned where the system lacks the socket options
// the sweep needs (anything but Linux).
var ErrNotSupported = fmt.Errorf("hop-by-hop TCP tracing needs Linux (IP_RECVERR, MSG_ERRQUEUE): %w", errors.ErrUnsupported)

// Kind is how one probe ended.
type Kind int

const (
	// Silent: no answer within the wait.
	Silent Kind = iota
	// TimeExceeded: a router on the way sent ICMP time exceeded (type 11,
	// ICMPv6 type 3): the probe's TTL ran out there.
	TimeExceeded
	// Unreachable: a hop sent ICMP destination unreachable (type 3,
	// ICMPv6 type 1) with a code: a reject rule, a dead host, no route.
	Unreachable
	// SynAck: the target accepted the connection (its port is open).
	SynAck
	// Reset: the target answered the SYN with RST (its port is closed,
	// but the host was reached).
	Reset
	// LocalError: the probe could not be sent (no route here, no buffer).
	LocalError
	// RateLimited: no answer, where the sender's ICMP rate limit explains
	// the silence rather than a drop: the hop is silent between answers
	// of one address, or the ICMP error that ends it reached us another
	// way (the connect's own). Linux sends about one ICMP error per second
	// per destination after a burst of six (icmp_ratelimit, net/ipv4/icmp.c;
	// RFC 1812 §4.3.2.8 and RFC 4443 §2.4(f) ask routers to limit them).
	RateLimited
)

var kindNames = map[Kind]string{Silent: "silent", TimeExceeded: "time-exceeded", Unreachable: "unreachable",
	SynAck: "syn-ack", Reset: "rst", LocalError: "local-error", RateLimited: "rate-limited"}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// MarshalText makes a Kind read as its name in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Terminal reports whether a probe that ended this way shows where SYNs
// stop: probes with a larger TTL end the same way at the same hop.
func (k Kind) Terminal() bool {
	return k == Unreachable || k == SynAck || k == Reset || k == LocalError
}

// Reply is the end of one probe.
type Reply struct {
	TTL  int
	Kind Kind
	// From is who answered: the router (time exceeded), the hop that sent
	// the unreachable, or the target (SYN-ACK, RST). Invalid when Silent.
	From netip.Addr
	// Type and Code are the ICMP (or ICMPv6) type and code, for
	// TimeExceeded and Unreachable.
	Type, Code uint8
	RTT        time.Duration
	// Err is the local error of a LocalError probe.
	Err error
}

// ProbeFunc sends one SYN to dst with the given TTL (hop limit), calls
// sent once it left (or could not be sent), and waits for its end until
// ctx is done (then the reply is Silent).
type ProbeFunc func(ctx context.Context, dst netip.AddrPort, ttl int, sent func()) Reply

// Hop is what the sweep learned about one TTL.
type Hop struct {
	TTL  int
	Addr netip.Addr // invalid when Silent
	Kind Kind
	Type uint8 // ICMP type and code, for TimeExceeded and Unreachable
	Code uint8
	RTT  time.Duration // the fastest answer
	Sent int           // probes with this TTL
	// Unanswered is how many of them got no answer although a later one
	// did: the hop's ICMP rate limit, most likely (Options.Pace).
	Unanswered int
}

// Stop says where and how the SYNs stopped.
type Stop struct {
	// Kind is the terminal kind (SynAck, Reset, Unreachable, LocalError),
	// or Silent: SYNs vanished after hop LastTTL.
	Kind Kind
	// TTL is the hop that ended the SYNs (terminal kinds): the target's
	// distance for SynAck and Reset.
	TTL int
	// From is that hop's address (terminal kinds).
	From netip.Addr
	// Type and Code are the ICMP type and code of an Unreachable stop.
	Type, Code uint8
	// LastTTL and LastAddr are the last hop that answered before the
	// stop (0 and invalid when none did).
	LastTTL  int
	LastAddr netip.Addr
	// RateLimited marks a stop taken from an ICMP error the caller
	// received itself (Heed), where the sweep's own SYNs met silence: the
	// sender's ICMP rate limit, not a drop.
	RateLimited bool
}

// Path is a sweep's report. A probe that got no answer is a Silent hop,
// not an error.
type Path struct {
	Target  netip.AddrPort
	Hops    []Hop // TTL 1 up to the stop (or the last probed TTL), in order
	Stop    Stop
	Probes  int // SYNs sent
	Elapsed time.Duration
}

// Hop returns the hop with the given TTL, if it was probed.
func (p *Path) Hop(ttl int) (Hop, bool) {
	for _, h := range p.Hops {
		if h.TTL == ttl {
			return h, true
		}
	}
	return Hop{}, false
}

// Defaults and bounds of Options.
const (
	DefaultMaxHops   = 30
	MaxMaxHops       = 64
	DefaultProbes    = 3
	DefaultWait      = time.Second
	DefaultMinWait   = 150 * time.Millisecond
	DefaultMaxSilent = 5
	DefaultWindow    = 8
	DefaultSpacing   = 100 * time.Millisecond
	// DefaultPace is Options.Pace for callers that want it: one token of
	// Linux's per-destination ICMP rate limit (icmp_ratelimit, 1 s).
	DefaultPace = time.Second
)

// Options tune a sweep. The zero value is usable.
type Options struct {
	// MaxHops is the largest TTL (default 30, at most 64).
	MaxHops int
	// Probes is how many SYNs a hop gets at most (default 3): a hop that
	// stays silent is asked again in the next round.
	Probes int
	// Wait bounds one round's wait for answers (default 1 s). Once some
	// hop answered, the round ends MinWait (default 150 ms), or three
	// times the slowest answer so far when that is longer, after the last
	// answer: silence is not waited for longer than the path's own
	// round-trip times make plausible.
	Wait, MinWait time.Duration
	// MaxSilent is how many silent hops past the last answering one are
	// probed before the sweep concludes that SYNs vanish there (default
	// 5, as mtr's --max-unknown).
	MaxSilent int
	// Window is how many TTLs the first round sends at once (default 8).
	Window int
	// Spacing separates the rounds that ask silent hops again (default
	// 100 ms). Every round sends each hop at most one SYN, so a router
	// sees at most Probes of them, within the burst that Linux's ICMP rate
	// limit allows before its one-per-second pace (icmp_ratelimit,
	// net/ipv4/icmp.c); the target, which answers every TTL at or past its
	// distance, gets at most Window of them at once.
	Spacing time.Duration
	// Pace, when positive, is the least time between two rounds that ask
	// silent hops again once some hop has answered: a router or host that
	// rate-limits its ICMP errors (Linux: about one per second per
	// destination after a burst of six) answers again only when its
	// bucket refilled, so a retry within Spacing meets the same silence.
	// A hop that answers a paced retry is reported with Unanswered > 0.
	// Only the first retry round is paced: it costs Pace once, on a path
	// that really drops SYNs too. 0 keeps Spacing (a sweep under a tight
	// budget).
	Pace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.MaxHops <= 0 {
		o.MaxHops = DefaultMaxHops
	}
	o.MaxHops = min(o.MaxHops, MaxMaxHops)
	if o.Probes <= 0 {
		o.Probes = DefaultProbes
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	if o.MinWait <= 0 {
		o.MinWait = DefaultMinWait
	}
	o.MinWait = min(o.MinWait, o.Wait)
	if o.MaxSilent <= 0 {
		o.MaxSilent = DefaultMaxSilent
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Spacing < 0 {
		o.Spacing = 0
	} else if o.Spacing == 0 {
		o.Spacing = DefaultSpacing
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Sweep probes dst with TTLs 1, 2, ... in parallel rounds and returns the
// path up to where its SYNs stop. It ends when ctx is done (the path is
// then what was learned so far), when every hop before a terminal answer
// has answered or had its Probes, or when MaxSilent hops past the last
// answering one stayed silent. At most MaxHops×Probes SYNs are sent.
func Sweep(ctx context.Context, dst netip.AddrPort, opt Options, probe ProbeFunc) *Path {
	opt = opt.withDefaults()
	start := opt.Now()
	type hopState struct {
		best   Reply
		seen   bool // an answer (not Silent)
		sent   int
		silent int // probes that got no answer before one did
	}
	st := make([]hopState, opt.MaxHops+1) // index = TTL
	path := &Path{Target: dst}
	launched := 0 // highest TTL sent so far
	var maxRTT time.Duration
	var roundStart time.Time // when the last round's SYNs left
	paced := false           // a retry waited for Pace already

	stopTTL := func() int { // smallest TTL with a terminal answer, 0 if none
		for ttl := 1; ttl <= launched; ttl++ {
			if st[ttl].seen && st[ttl].best.Kind.Terminal() {
				return ttl
			}
		}
		return 0
	}
	lastAnswered := func(below int) int {
		for ttl := below - 1; ttl >= 1; ttl-- {
			if st[ttl].seen {
				return ttl
			}
		}
		return 0
	}

	for round := 0; round < opt.MaxHops+opt.Probes && ctx.Err() == nil; round++ {
		var ttls []int
		retry := false
		s := stopTTL()
		limit := s - 1
		if s == 0 {
			limit = min(opt.MaxHops, lastAnswered(launched+1)+opt.MaxSilent)
			if round == 0 {
				limit = min(opt.MaxHops, opt.Window)
			}
		}
		for ttl := 1; ttl <= limit; ttl++ {
			if st[ttl].seen || st[ttl].sent >= opt.Probes {
				continue
			}
			if st[ttl].sent > 0 {
				retry = true
			}
			ttls = append(ttls, ttl)
		}
		if len(ttls) == 0 {
			break
		}
		if retry && round > 0 {
			wait := opt.Spacing
			if opt.Pace > 0 && !paced && lastAnswered(launched+1) > 0 {
				// One paced retry is enough: the bucket holds a
				// token again; later retries keep Spacing.
				wait, paced = max(wait, opt.Pace-opt.Now().Sub(roundStart)), true
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			if ctx.Err() != nil {
				break
			}
		}
		roundStart = opt.Now()
		replies := runRound(ctx, dst, ttls, opt, maxRTT, probe)
		for _, r := range replies {
			h := &st[r.TTL]
			h.sent++
			path.Probes++
			if r.Kind == Silent {
				if !h.seen {
					h.best = r
					h.silent++
				}
				continue
			}
			if !h.seen || r.RTT < h.best.RTT {
				h.best = r
			}
			h.seen = true
			maxRTT = max(maxRTT, r.RTT)
		}
		launched = max(launched, ttls[len(ttls)-1])
	}

	s := stopTTL()
	last := launched
	if s > 0 {
		last = s
	}
	for ttl := 1; ttl <= last; ttl++ {
		h := st[ttl]
		hop := Hop{TTL: ttl, Sent: h.sent, Kind: Silent}
		if h.seen {
			hop.Addr, hop.Kind, hop.Type, hop.Code, hop.RTT = h.best.From, h.best.Kind, h.best.Type, h.best.Code, h.best.RTT
			hop.Unanswered = h.silent
		}
		path.Hops = append(path.Hops, hop)
	}
	markRateLimited(path.Hops)
	if s > 0 {
		b := st[s].best
		path.Stop = Stop{Kind: b.Kind, TTL: s, From: b.From, Type: b.Type, Code: b.Code}
		path.Stop.LastTTL = lastAnswered(s)
	} else {
		path.Stop = Stop{Kind: Silent, LastTTL: lastAnswered(last + 1)}
		// Trailing silent hops past the last answer say nothing more
		// than "silent after hop LastTTL"; keep one of them.
		keep := min(len(path.Hops), path.Stop.LastTTL+1)
		path.Hops = path.Hops[:keep]
	}
	if path.Stop.LastTTL > 0 {
		path.Stop.LastAddr = st[path.Stop.LastTTL].best.From
	}
	path.Elapsed = opt.Now().Sub(start)
	return path
}

// markRateLimited calls a silent hop RateLimited when the hops on both
// sides of it answered from one address: that address is the router that
// rejects (time exceeded one TTL earlier, its rejection at every later
// one) or the target itself, and it was only silent in between because its
// ICMP bucket was empty. Forwarded SYNs cannot vanish at a router that
// answers the very next TTL.
func markRateLimited(hops []Hop) {
	for i := range hops {
		if hops[i].Kind != Silent || i == 0 {
			continue
		}
		before := hops[i-1].Addr
		if !before.IsValid() {
			continue
		}
		for j := i + 1; j < len(hops); j++ {
			if hops[j].Kind == Silent || hops[j].Kind == RateLimited {
				continue
			}
			if hops[j].Addr == before {
				hops[i].Kind = RateLimited
			}
			break
		}
	}
}

// Heed makes a sweep agree with an ICMP error the caller received itself
// for the same destination (a connect's, from its error queue): when the
// sweep's SYNs went unanswered after hop LastTTL, that sender's rate limit
// swallowed the sweep's copies of the error, since it has just sent one to
// us. The stop becomes that error at the first silent hop, marked
// RateLimited, and the report says so instead of calling it a drop. It
// reports whether it changed the path.
func Heed(path *Path, known Reply) bool {
	if path == nil || path.Stop.Kind != Silent || known.Kind != Unreachable || !known.From.IsValid() {
		return false
	}
	ttl := path.Stop.LastTTL + 1
	last, lastAddr := path.Stop.LastTTL, path.Stop.LastAddr
	hops := path.Hops[:0]
	for _, h := range path.Hops {
		if h.TTL < ttl {
			hops = append(hops, h)
		}
	}
	hops = append(hops, Hop{TTL: ttl, Kind: RateLimited, Sent: sentAt(path.Hops, ttl)})
	path.Hops = hops
	path.Stop = Stop{Kind: Unreachable, TTL: ttl, From: known.From, Type: known.Type, Code: known.Code,
		LastTTL: last, LastAddr: lastAddr, RateLimited: true}
	return true
}

func sentAt(hops []Hop, ttl int) int {
	for _, h := range hops {
		if h.TTL == ttl {
			return h.Sent
		}
	}
	return 0
}

// runRound sends one probe per TTL at once and collects the replies. The
// round ends when every probe ended, after opt.Wait, or (once some probe
// was answered) MinWait or three times the slowest round trip after the
// last answer, whichever is longer: the remaining probes are Silent.
func runRound(ctx context.Context, dst netip.AddrPort, ttls []int, opt Options, maxRTT time.Duration, probe ProbeFunc) []Reply {
	rctx, cancel := context.WithTimeout(ctx, opt.Wait)
	defer cancel()
	out := make(chan Reply, len(ttls))
	var wg sync.WaitGroup
	// The SYNs leave in TTL order, one after the other: a hop that
	// answers several of them (the target, or a router that rejects) and
	// rate-limits its ICMP spends its burst on the lowest TTLs, which are
	// the ones that say where the SYNs stop.
	for _, ttl := range ttls {
		wg.Add(1)
		left := make(chan struct{})
		var once sync.Once
		sent := func() { once.Do(func() { close(left) }) }
		go func() {
			defer wg.Done()
			defer sent()
			r := probe(rctx, dst, ttl, sent)
			r.TTL = ttl
			out <- r
		}()
		select {
		case <-left:
		case <-rctx.Done():
		}
	}
	go func() { wg.Wait(); close(out) }()
	quiet := func() time.Duration { return max(opt.MinWait, 3*maxRTT) }
	var idle <-chan time.Time
	var timer *time.Timer
	if maxRTT > 0 {
		timer = time.NewTimer(quiet())
		idle = timer.C
	}
	replies := make([]Reply, 0, len(ttls))
	for {
		select {
		case r, ok := <-out:
			if !ok {
				if timer != nil {
					timer.Stop()
				}
				sortReplies(replies)
				return replies
			}
			replies = append(replies, r)
			if settled(ttls, replies) {
				cancel() // the rest are past the stop: nothing they say matters
			}
			if r.Kind != Silent {
				maxRTT = max(maxRTT, r.RTT)
				if timer != nil {
					timer.Stop()
				}
				timer = time.NewTimer(quiet())
				idle = timer.C
			}
		case <-idle:
			cancel() // the rest are silent; their probes return now
			idle = nil
		}
	}
}

// settled reports whether a round's answers already tell where the SYNs
// stop: a terminal answer at TTL s, and an answer from every TTL of the
// round below s. Probes past s end the same way at the same hop, and a
// hop that rate-limits its ICMP may leave them unanswered, so waiting for
// them would only cost time.
func settled(ttls []int, replies []Reply) bool {
	stop := 0
	answered := make(map[int]bool, len(replies))
	for _, r := range replies {
		if r.Kind == Silent {
			continue
		}
		answered[r.TTL] = true
		if r.Kind.Terminal() && (stop == 0 || r.TTL < stop) {
			stop = r.TTL
		}
	}
	if stop == 0 {
		return false
	}
	for _, ttl := range ttls {
		if ttl < stop && !answered[ttl] {
			return false
		}
	}
	return true
}

func sortReplies(rs []Reply) { sort.Slice(rs, func(i, j int) bool { return rs[i].TTL < rs[j].TTL }) }

func is6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }
