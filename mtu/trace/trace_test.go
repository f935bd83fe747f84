package trace

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakePath answers probes the way a path of routers does: hop i (1-based)
// is routers[i-1]; a TTL past the routers reaches the target, which ends
// the probe with end. silent lists hops that never answer; flaky hops
// answer only from their second probe on.
type fakePath struct {
	routers []netip.Addr
	target  netip.Addr
	end     Reply // how the target (or the hop at len(routers)+1) ends a SYN
	// endAt, if > 0, is the TTL at which end happens (a router rejecting):
	// routers at and past it are never reached.
	endAt  int
	silent map[int]bool
	flaky  map[int]bool
	rtt    time.Duration

	mu   sync.Mutex
	sent map[int]int
}

func (f *fakePath) probe(ctx context.Context, dst netip.AddrPort, ttl int, sent func()) Reply {
	sent()
	f.mu.Lock()
	if f.sent == nil {
		f.sent = map[int]int{}
	}
	f.sent[ttl]++
	n := f.sent[ttl]
	f.mu.Unlock()
	wait := func(r Reply) Reply {
		select {
		case <-ctx.Done():
			return Reply{Kind: Silent}
		case <-time.After(f.rtt):
			r.RTT = f.rtt
			return r
		}
	}
	silence := func() Reply { <-ctx.Done(); return Reply{Kind: Silent} }
	endAt := f.endAt
	if endAt == 0 {
		endAt = len(f.routers) + 1
	}
	switch {
	case ttl >= endAt:
		if f.end.Kind == Silent {
			return silence()
		}
		return wait(f.end)
	case f.silent[ttl], f.flaky[ttl] && n == 1:
		return silence()
	}
	return wait(Reply{Kind: TimeExceeded, From: f.routers[ttl-1], Type: ICMPv4TimeExceeded})
}

var (
	r1     = netip.MustParseAddr("192.0.2.1")
	r2     = netip.MustParseAddr("192.0.2.2")
	r3     = netip.MustParseAddr("192.0.2.3")
	target = netip.MustParseAddr("192.0.2.25")
	dst    = netip.AddrPortFrom(target, 25)
)

func fastOpts() Options {
	return Options{Wait: 300 * time.Millisecond, MinWait: 40 * time.Millisecond, Spacing: time.Millisecond}
}

func TestSweep(t *testing.T) {
	tests := []struct {
		name       string
		path       *fakePath
		opt        Options
		wantStop   Stop
		wantHops   []string // "addr kind" per TTL
		maxProbes  int
		wantSentAt map[int]int // probes per TTL, where it matters
	}{
		{
			name:     "open port three hops away",
			path:     &fakePath{routers: []netip.Addr{r1, r2}, target: target, end: Reply{Kind: SynAck, From: target}},
			wantStop: Stop{Kind: SynAck, TTL: 3, From: target, LastTTL: 2, LastAddr: r2},
			wantHops: []string{"192.0.2.1 time-exceeded", "192.0.2.2 time-exceeded", "192.0.2.25 syn-ack"},
			// the first window: 8 TTLs, nothing more
			maxProbes: 8,
		},
		{
			name:     "closed port",
			path:     &fakePath{routers: []netip.Addr{r1}, target: target, end: Reply{Kind: Reset, From: target}},
			wantStop: Stop{Kind: Reset, TTL: 2, From: target, LastTTL: 1, LastAddr: r1},
			wantHops: []string{"192.0.2.1 time-exceeded", "192.0.2.25 rst"},
		},
		{
			name:     "SYNs dropped after hop 2",
			path:     &fakePath{routers: []netip.Addr{r1, r2}, target: target, end: Reply{Kind: Silent}},
			wantStop: Stop{Kind: Silent, LastTTL: 2, LastAddr: r2},
			wantHops: []string{"192.0.2.1 time-exceeded", "192.0.2.2 time-exceeded", "invalid IP silent"},
			// hops 3..7 (2 + MaxSilent) get Probes each; 8 got one
			maxProbes:  2 + 5*3 + 1,
			wantSentAt: map[int]int{1: 1, 2: 1, 3: 3, 7: 3, 8: 1},
		},
		{
			name: "admin-prohibited at a router",
			path: &fakePath{routers: []netip.Addr{r1, r2, r3}, target: target, endAt: 2,
				end: Reply{Kind: Unreachable, From: r2, Type: ICMPv4Unreachable, Code: 13}},
			wantStop: Stop{Kind: Unreachable, TTL: 2, From: r2, Type: 3, Code: 13, LastTTL: 1, LastAddr: r1},
			wantHops: []string{"192.0.2.1 time-exceeded", "192.0.2.2 unreachable"},
		},
		{
			name: "a silent router in the middle is asked again",
			path: &fakePath{routers: []netip.Addr{r1, r2, r3}, target: target, flaky: map[int]bool{2: true},
				end: Reply{Kind: SynAck, From: target}},
			wantStop:   Stop{Kind: SynAck, TTL: 4, From: target, LastTTL: 3, LastAddr: r3},
			wantHops:   []string{"192.0.2.1 time-exceeded", "192.0.2.2 time-exceeded", "192.0.2.3 time-exceeded", "192.0.2.25 syn-ack"},
			wantSentAt: map[int]int{2: 2, 1: 1},
		},
		{
			name: "a router that never answers stays silent after Probes",
			path: &fakePath{routers: []netip.Addr{r1, r2, r3}, target: target, silent: map[int]bool{2: true},
				end: Reply{Kind: SynAck, From: target}},
			wantStop:   Stop{Kind: SynAck, TTL: 4, From: target, LastTTL: 3, LastAddr: r3},
			wantHops:   []string{"192.0.2.1 time-exceeded", "invalid IP silent", "192.0.2.3 time-exceeded", "192.0.2.25 syn-ack"},
			wantSentAt: map[int]int{2: 3},
		},
		{
			name: "a long path is swept past the first window",
			path: &fakePath{routers: []netip.Addr{r1, r1, r1, r1, r1, r1, r1, r1, r1, r2}, target: target,
				end: Reply{Kind: Reset, From: target}},
			wantStop: Stop{Kind: Reset, TTL: 11, From: target, LastTTL: 10, LastAddr: r2},
		},
		{
			name:      "MaxHops bounds the sweep",
			path:      &fakePath{routers: []netip.Addr{r1, r1, r1, r1, r1, r1}, target: target, end: Reply{Kind: Reset, From: target}},
			opt:       Options{MaxHops: 4},
			wantStop:  Stop{Kind: Silent, LastTTL: 4, LastAddr: r1},
			maxProbes: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := fastOpts()
			if tt.opt.MaxHops != 0 {
				opt.MaxHops = tt.opt.MaxHops
			}
			tt.path.rtt = time.Millisecond
			p := Sweep(context.Background(), dst, opt, tt.path.probe)
			if p.Stop != tt.wantStop {
				t.Errorf("Sweep().Stop = %+v, want %+v", p.Stop, tt.wantStop)
			}
			if tt.wantHops != nil {
				var got []string
				for i, h := range p.Hops {
					if h.TTL != i+1 {
						t.Errorf("Sweep().Hops[%d].TTL = %d, want %d", i, h.TTL, i+1)
					}
					got = append(got, fmt.Sprintf("%s %s", h.Addr, h.Kind))
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.wantHops) {
					t.Errorf("Sweep().Hops = %q, want %q", got, tt.wantHops)
				}
			}
			if tt.maxProbes > 0 && p.Probes > tt.maxProbes {
				t.Errorf("Sweep().Probes = %d, want at most %d", p.Probes, tt.maxProbes)
			}
			for ttl, n := range tt.wantSentAt {
				if got := tt.path.sent[ttl]; got != n {
					t.Errorf("probes with TTL %d = %d, want %d", ttl, got, n)
				}
			}
			total := 0
			for _, n := range tt.path.sent {
				total += n
			}
			if total != p.Probes {
				t.Errorf("Sweep().Probes = %d, but the probe func was called %d times", p.Probes, total)
			}
		})
	}
}

// TestSweepBounded: a path where nothing answers ends within its rounds'
// waits, and a cancelled context ends it at once.
func TestSweepBounded(t *testing.T) {
	f := &fakePath{routers: []netip.Addr{r1}, target: target, silent: map[int]bool{1: true}, end: Reply{Kind: Silent}}
	opt := fastOpts()
	start := time.Now()
	p := Sweep(context.Background(), dst, opt, f.probe)
	// first window, then up to Probes-1 retries of hops 1..5: 3 rounds of Wait
	if el := time.Since(start); el > 3*opt.Wait+500*time.Millisecond {
		t.Errorf("Sweep(all silent) took %v, want about 3 rounds of %v", el, opt.Wait)
	}
	if p.Stop.Kind != Silent || p.Stop.LastTTL != 0 || len(p.Hops) != 1 {
		t.Errorf("Sweep(all silent) = stop %+v, %d hops; want silent from hop 1, one hop", p.Stop, len(p.Hops))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	p = Sweep(ctx, dst, opt, f.probe)
	if el := time.Since(start); el > 100*time.Millisecond || p.Probes != 0 {
		t.Errorf("Sweep(cancelled) took %v with %d probes, want an immediate return without probes", el, p.Probes)
	}
}

// TestSweepQuietWait: once hops answered, a round waits for silent ones
// only MinWait (or 3× the slowest answer) after the last answer, not Wait.
func TestSweepQuietWait(t *testing.T) {
	f := &fakePath{routers: []netip.Addr{r1, r2}, target: target, end: Reply{Kind: Silent}}
	f.rtt = time.Millisecond
	opt := Options{Wait: 5 * time.Second, MinWait: 50 * time.Millisecond, Spacing: time.Millisecond}
	start := time.Now()
	p := Sweep(context.Background(), dst, opt, f.probe)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Sweep(dropped after hop 2, Wait 5s, MinWait 50ms) took %v, want well under one Wait", el)
	}
	if p.Stop.Kind != Silent || p.Stop.LastTTL != 2 {
		t.Errorf("Sweep().Stop = %+v, want silent after hop 2", p.Stop)
	}
}

func TestFindLink(t *testing.T) {
	hops := func(kinds ...Kind) *Path {
		p := &Path{}
		for i, k := range kinds {
			a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
			p.Hops = append(p.Hops, Hop{TTL: i + 1, Addr: a, Kind: k})
			if k.Terminal() {
				p.Stop = Stop{Kind: k, TTL: i + 1, From: a}
			}
		}
		return p
	}
	te := TimeExceeded
	tests := []struct {
		name   string
		path   *Path
		large  map[int]int
		want   Link
		wantOK bool
	}{
		{"between hop 1 and 2", hops(te, te, SynAck), map[int]int{1: 1500, 2: 0}, Link{1, r1, 2, r2, 1500}, true},
		{"between hop 2 and the target", hops(te, te, SynAck), map[int]int{1: 1500, 2: 1500}, Link{2, r2, 3, netip.MustParseAddr("192.0.2.3"), 1500}, true},
		{"right after this host", hops(te, te, SynAck), map[int]int{1: 0, 2: 0}, Link{0, netip.Addr{}, 1, r1, 0}, true},
		{"small ACK quotes do not count", hops(te, te, SynAck), map[int]int{1: 1500, 2: 52}, Link{1, r1, 2, r2, 1500}, true},
		{"a silent hop is skipped", hops(te, Silent, te, SynAck), map[int]int{1: 1500}, Link{1, r1, 3, netip.MustParseAddr("192.0.2.3"), 1500}, true},
		{"nothing past the last large hop answers", hops(te, Silent), map[int]int{1: 1500}, Link{NearTTL: 1, Near: r1, Size: 1500}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FindLink(tt.path, tt.large, 1401)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("FindLink() = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestSweepStopsAtTerminal: once every TTL below a terminal answer has
// answered, the round does not wait for probes past it (a rejecting host
// that rate-limits its ICMP leaves them unanswered).
func TestSweepStopsAtTerminal(t *testing.T) {
	// hops 1, 2 answer; TTL 3 is rejected by the target; TTLs 4+ (the
	// target's rate limit) never answer.
	f := &fakePath{routers: []netip.Addr{r1, r2}, target: target, silent: map[int]bool{}}
	probe := func(ctx context.Context, dst netip.AddrPort, ttl int, sent func()) Reply {
		if ttl > 3 {
			sent()
			<-ctx.Done()
			return Reply{Kind: Silent}
		}
		f.end = Reply{Kind: Unreachable, From: target, Type: 3, Code: 13}
		return f.probe(ctx, dst, ttl, sent)
	}
	f.rtt = time.Millisecond
	opt := Options{Wait: 2 * time.Second, MinWait: time.Second, Spacing: time.Millisecond}
	start := time.Now()
	p := Sweep(context.Background(), dst, opt, probe)
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("Sweep(rejected at 3, silent past it) took %v, want no wait for TTLs past the stop (MinWait %v)", el, opt.MinWait)
	}
	if p.Stop.Kind != Unreachable || p.Stop.TTL != 3 {
		t.Errorf("Sweep().Stop = %+v, want unreachable at 3", p.Stop)
	}
}

// bucketTarget is a host three hops away that rejects SYNs with ICMP and
// rate-limits its ICMP errors as Linux does: a burst, then one per refill.
type bucketTarget struct {
	mu     sync.Mutex
	tokens int
	last   time.Time
	refill time.Duration
}

func (b *bucketTarget) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if !b.last.IsZero() && now.Sub(b.last) >= b.refill {
		b.tokens++
		b.last = now
	}
	if b.last.IsZero() {
		b.last = now
	}
	if b.tokens == 0 {
		return false
	}
	b.tokens--
	return true
}

// TestSweepPacesRateLimited: a target whose ICMP bucket is empty answers
// a retry only once it refilled. With Pace the retry waits for that and
// the stop is found, the hop marked as once unanswered; without it the
// retries meet the same silence and the sweep calls it a drop.
func TestSweepPacesRateLimited(t *testing.T) {
	for _, tt := range []struct {
		name     string
		pace     time.Duration
		wantKind Kind
	}{
		{"paced", 300 * time.Millisecond, Unreachable},
		{"unpaced", 0, Silent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &bucketTarget{refill: 250 * time.Millisecond}
			f := &fakePath{routers: []netip.Addr{r1, r2}, rtt: time.Millisecond}
			probe := func(ctx context.Context, dst netip.AddrPort, ttl int, sent func()) Reply {
				if ttl < 3 {
					return f.probe(ctx, dst, ttl, sent)
				}
				sent()
				if !b.allow() {
					<-ctx.Done()
					return Reply{Kind: Silent}
				}
				return Reply{Kind: Unreachable, From: target, Type: 3, Code: 13, RTT: time.Millisecond}
			}
			opt := Options{Wait: 300 * time.Millisecond, MinWait: 20 * time.Millisecond, Spacing: time.Millisecond, Pace: tt.pace}
			p := Sweep(context.Background(), dst, opt, probe)
			if p.Stop.Kind != tt.wantKind {
				t.Fatalf("Sweep(rate-limited target, Pace %v).Stop = %+v, want %v", tt.pace, p.Stop, tt.wantKind)
			}
			if tt.wantKind == Unreachable {
				h, _ := p.Hop(3)
				if p.Stop.TTL != 3 || h.Unanswered == 0 {
					t.Errorf("Sweep(rate-limited target, Pace %v) = stop %+v, hop 3 %+v; want unreachable at 3 after an unanswered probe", tt.pace, p.Stop, h)
				}
			}
		})
	}
}

func TestHeed(t *testing.T) {
	known := Reply{Kind: Unreachable, From: target, Type: 3, Code: 1}
	silent := func() *Path {
		return &Path{Target: dst, Hops: []Hop{
			{TTL: 1, Addr: r1, Kind: TimeExceeded, Sent: 1},
			{TTL: 2, Addr: r2, Kind: TimeExceeded, Sent: 1},
			{TTL: 3, Kind: Silent, Sent: 3},
		}, Stop: Stop{Kind: Silent, LastTTL: 2, LastAddr: r2}}
	}
	tests := []struct {
		name    string
		path    *Path
		known   Reply
		want    bool
		wantTop Stop
	}{
		{"silence after the connect's ICMP", silent(), known, true,
			Stop{Kind: Unreachable, TTL: 3, From: target, Type: 3, Code: 1, LastTTL: 2, LastAddr: r2, RateLimited: true}},
		{"no ICMP known", silent(), Reply{}, false, Stop{Kind: Silent, LastTTL: 2, LastAddr: r2}},
		{"the sweep found the stop itself",
			&Path{Stop: Stop{Kind: Unreachable, TTL: 3, From: target, Type: 3, Code: 1}}, known, false,
			Stop{Kind: Unreachable, TTL: 3, From: target, Type: 3, Code: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Heed(tt.path, tt.known)
			if got != tt.want || tt.path.Stop != tt.wantTop {
				t.Errorf("Heed() = %v, stop %+v; want %v, %+v", got, tt.path.Stop, tt.want, tt.wantTop)
			}
			if got {
				h, ok := tt.path.Hop(3)
				if !ok || h.Kind != RateLimited || len(tt.path.Hops) != 3 {
					t.Errorf("Heed() hops = %+v; want hop 3 rate-limited, last", tt.path.Hops)
				}
			}
		})
	}
}

func TestMarkRateLimited(t *testing.T) {
	hops := []Hop{
		{TTL: 1, Addr: r1, Kind: TimeExceeded},
		{TTL: 2, Addr: r2, Kind: TimeExceeded},
		{TTL: 3, Kind: Silent},
		{TTL: 4, Addr: r2, Kind: Unreachable},
	}
	markRateLimited(hops)
	if hops[2].Kind != RateLimited {
		t.Errorf("markRateLimited(silent between two answers of %s) = %v, want rate-limited", r2, hops[2].Kind)
	}
	other := []Hop{
		{TTL: 1, Addr: r1, Kind: TimeExceeded},
		{TTL: 2, Kind: Silent},
		{TTL: 3, Addr: r3, Kind: TimeExceeded},
	}
	markRateLimited(other)
	if other[1].Kind != Silent {
		t.Errorf("markRateLimited(silent between %s and %s) = %v, want silent (a router that never answers)", r1, r3, other[1].Kind)
	}
}
