// Package mtu brackets the path MTU towards a TCP peer and provides the Linux
// socket plumbing for it: DF sockets (IP_PMTUDISC_DO), a per-connection MSS
// clamp (TCP_MAXSEG), TCP_INFO, and a TCP_INFO-driven verdict on whether
// written bytes were delivered or vanished.
//
// The bracketing algorithm (Search) is pure: it takes a SendFunc and never
// touches a socket, so it is table-tested without a network. The types
// every system shares (Info, Verdict, the TCP option bits, ErrClosed, the
// packet-size arithmetic) are in info.go; the socket helpers (Control,
// TCPInfo, Watch, WaitAcked, QuickAck, Reset...) live in sock_linux.go,
// and other systems get stubs in sock_other.go that return
// errors.ErrUnsupported.
package mtu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Plateaus are the MTUs common on real paths (RFC 1191 §7 plus PPPoE 1492,
// WireGuard 1420, ...). The order is the priority in which Search spends
// probes on them: earlier entries are pinned first when there are more
// candidates than probes.
var Plateaus = []int{1500, 1492, 1480, 1460, 1440, 1420, 1400, 1380, 1280, 576}

// Bounds on IP packet sizes.
const (
	MinIPv4 = 576   // every IPv4 host must accept 576-byte datagrams (RFC 791, RFC 1122 §3.3.3)
	MinIPv6 = 1280  // IPv6 minimum link MTU (RFC 8200 §5)
	MaxIP   = 65535 // the IPv4 total-length field; IPv6 jumbograms are out of scope
)

// DefaultParallel is the number of probes (one SMTP session each) per round
// when Search.Parallel is 0.
//
// A round of k probes ending in a monotone threshold has at most k+1
// outcomes, so 3 rounds can tell at most (k+1)³ answers apart. For
// 576..1500 there are 926 (925 sizes plus "even 576 failed"), and because
// round 1 always spends a probe on Max, 3 rounds need k >= 10
// (TestRunExhaustive proves 3 rounds with 10, and 4 with 8).
//
// Twelve, two more than that minimum, leaves room in round 1 for the
// plateau pairs 1500, 1492/1493, 1480/1481 and 1460/1461 (with 10 only
// 1492/1493 fits beside the spread needed for 3 rounds), so the most common
// bottlenecks are pinned in one round. It is still polite towards a mail
// server that is someone else's: under Exim's default smtp_accept_max (20),
// Exchange's MaxInboundConnectionPerSource (20) and Postfix's default
// smtpd_client_connection_count_limit (50), and every session is short.
// Sites that cap a client lower should pass a smaller Parallel and accept a
// fourth round (8) or more. These counts are for the search itself; the
// confirmation of the answer (DefaultConfirm) adds a round of copies, and
// more under loss (TestRunExhaustive: 6 rounds at most with 12).
const DefaultParallel = 12

// maxRounds bounds Run against a SendFunc that never converges; the planner
// needs at most 17 rounds even with Parallel 1 over 576..65535.
const maxRounds = 64

// SendFunc tries to carry IP packets of exactly size bytes over the path;
// ok=true means they arrived (acknowledged), ok=false means they were lost.
// err is for anything else (the search stops and returns it).
//
// An error that wraps ErrNoEvidence says the probe proved nothing either
// way (its session died of loss before the probe was sent, say): the
// search neither counts it nor stops, and plans the size again.
//
// SendFunc is called concurrently, up to Parallel calls at once. An
// acknowledgement is taken as proof that the path carries size bytes, so ok
// must only be reported when packets of that size really were sent: a
// middlebox that rewrites the MSS option (PPPoE routers "clamp MSS") makes
// segments smaller than asked for, which TCP_INFO's snd_mss shows.
type SendFunc func(ctx context.Context, size int) (ok bool, err error)

// ErrNoEvidence, wrapped in a SendFunc's error, marks a probe that proved
// nothing: neither carried nor lost.
var ErrNoEvidence = errors.New("mtu: the probe proved nothing")

// maxBlindRounds is how many rounds in a row may end without any evidence
// before Run gives up with a *BlindError.
const maxBlindRounds = 3

// BlindError is a search that stopped because maxBlindRounds rounds in a
// row proved nothing (every SendFunc call wrapped ErrNoEvidence). Last is
// the last such error.
type BlindError struct {
	Rounds int
	Last   error
}

func (e *BlindError) Error() string {
	return fmt.Sprintf("mtu: %d rounds in a row proved nothing: %v", e.Rounds, e.Last)
}

func (e *BlindError) Unwrap() error { return e.Last }

// Search is the configuration of one path MTU bracketing.
type Search struct {
	// Min and Max are the inclusive range of IP packet sizes: IPv4
	// 576..interface MTU, IPv6 1280..interface MTU.
	Min, Max int
	// Parallel is the number of probes at once per round; 0 means
	// DefaultParallel.
	Parallel int
	// Plateaus are the sizes worth pinning exactly in one probe pair (P ok,
	// P+1 lost), in priority order; nil means Plateaus.
	Plateaus []int
	// Confirm is how many times a size must be lost, each time in a round
	// where a smaller size was acknowledged, before it counts as failing;
	// 0 means DefaultConfirm. Once the search has seen noise (a lost size
	// acknowledged later, or a size lost below one acknowledged), it asks
	// for one more.
	Confirm int
	// Hint, if within Min..Max-1, is a size likely to be the answer (the
	// other direction's path MTU: bottlenecks are mostly symmetric, as a
	// PPPoE or tunnel link is). Round 1 pins it: Hint and Hint+1 are among
	// its cuts, and Hint+1 goes out Confirm times, so that a right hint
	// ends the search in one round. A wrong one costs those probes only.
	// Hint == Max (the size an ICMP named, with nothing above it to try)
	// makes round 1 that one probe alone: if it passes, the search ends.
	Hint int
	// Logf, if set, receives one line per round.
	Logf func(format string, args ...any)
}

// DefaultConfirm is Search.Confirm when 0: a size counts as failing only
// when it was lost three times, each while a smaller size passed in the same
// round, so neither a single random loss nor two make a black hole. At a
// probe loss rate p (a probe is lost only when all its segments or all their
// ACKs are) a size that fits is taken for failing with probability p³;
// seen noise raises the count (confirmUnderNoise).
const DefaultConfirm = 3

// inconsistentAfter is how often a size must be lost while a larger size was
// acknowledged (in rounds with a smaller size acknowledged, or none at all)
// before Run gives up with *InconsistentError rather than calling it noise.
const inconsistentAfter = 5

// Bracket is the result of a Search.
type Bracket struct {
	LargestOK      int   // 0 if even Min failed
	SmallestFailed int   // 0 if nothing failed (no bottleneck within range)
	Rounds         int   // rounds of parallel probes
	Probes         int   // SendFunc calls
	Retests        int   // SendFunc calls for a size tried before (controls and confirmations)
	Noise          int   // losses that the rest of the search showed were not the path: the size passed later or a larger one passed
	Blind          int   // SendFunc calls that proved nothing (ErrNoEvidence); not in Probes
	Tried          []Try // every probe in order, for the evidence table (Err set for the blind ones)
}

// Exact reports whether the bracket pins the path MTU to the byte: the
// largest size that passed and the smallest that failed are neighbours.
func (b Bracket) Exact() bool {
	return b.LargestOK > 0 && b.SmallestFailed == b.LargestOK+1
}

// LargestCarried is the largest size any probe of b carried (0: none).
func (b Bracket) LargestCarried() int {
	ok := 0
	for _, t := range b.Tried {
		if t.OK {
			ok = max(ok, t.Size)
		}
	}
	return ok
}

// Try is one SendFunc call. Within a round, Tried lists probes by size.
type Try struct {
	Round, Size int
	OK          bool
	Err         error
}

// RangeError is an invalid Search configuration.
type RangeError struct {
	Min, Max, Parallel int
}

func (e *RangeError) Error() string {
	if e.Parallel < 0 {
		return fmt.Sprintf("mtu: Parallel %d is negative, want >= 0 (0 means %d)", e.Parallel, DefaultParallel)
	}
	return fmt.Sprintf("mtu: search range %d..%d is invalid, want %d <= Min <= Max <= %d", e.Min, e.Max, MinIPv4, MaxIP)
}

// InconsistentError reports results that no single path MTU explains: a size
// was lost again and again (inconsistentAfter times) while a larger size was
// acknowledged. A route that changed during the search or load balancing
// over paths with different MTUs look like this; random loss almost never
// does.
type InconsistentError struct {
	Smaller int   // lost on every attempt
	Larger  int   // acknowledged
	Tried   []Try // every attempt at the two sizes
}

func (e *InconsistentError) Error() string {
	return fmt.Sprintf("mtu: inconsistent results: %d-byte packets were lost %d times while %d-byte packets were acknowledged (a path that changed during the search, or load balancing over paths with different MTUs)", e.Smaller, inconsistentAfter, e.Larger)
}

type roundKey struct{}

// RoundOf returns the round number of the Run that called a SendFunc with
// ctx (1 for the first), or 0 outside a Run. Probes of one round run at the
// same time; a SendFunc can compare a probe with the others of its round
// (the control probe's RTT, say) through it.
func RoundOf(ctx context.Context) int {
	r, _ := ctx.Value(roundKey{}).(int)
	return r
}

// Run brackets the path MTU within [Min, Max].
//
// Round 1 tries Max and, while the worst-case round count allows, pairs of
// plateau P and P+1 inside the range (P ok and P+1 lost pins the MTU at P in
// one round); plateaus are taken in priority order. Every round first finds
// the fewest rounds T that can still finish in the worst case with the
// probes left for planning, then adds plateau pairs only while they keep T,
// and spreads the remaining probes over the unknown range (a k-ary search) so
// that the largest remaining gap is as small as possible. Later rounds refine
// inside [LargestOK, SmallestFailed] the same way down to the exact byte.
//
// An acknowledged size is proof; a lost one may be noise (random loss). So:
//   - once a size was acknowledged, every later round also sends the largest
//     size acknowledged so far, the control: it shows the path works in that
//     round, and the SendFunc may time the round's losses by it (RoundOf);
//   - a lost size counts as failing only when it was lost Confirm times,
//     each in a round where a smaller size was acknowledged; until then the
//     smallest lost size above the largest acknowledged one (the bracket's
//     upper end, what the answer rests on) is re-tested in every round,
//     the final +1 boundary included; once the bracket is down to the
//     byte, the confirmations still owed go out at once, as copies in one
//     round beside the control;
//   - a size lost below an acknowledged one is noise; it is re-tested until
//     it passes (the search does not end before), and inconsistentAfter
//     losses give *InconsistentError;
//   - once noise was seen, Confirm grows by one, and more at a high loss
//     rate (confirmUnderNoise).
//
// Errors are for misuse (*RangeError), a SendFunc error (returned as is) and
// ctx ending; the Bracket so far is returned with them.
func (s Search) Run(ctx context.Context, send SendFunc) (Bracket, error) {
	var b Bracket
	if s.Parallel < 0 || s.Min < MinIPv4 || s.Min > s.Max || s.Max > MaxIP {
		return b, &RangeError{Min: s.Min, Max: s.Max, Parallel: s.Parallel}
	}
	k := s.Parallel
	if k == 0 {
		k = DefaultParallel
	}
	plateaus := s.Plateaus
	if plateaus == nil {
		plateaus = Plateaus
	}
	logf := s.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	confirm := s.Confirm
	if confirm <= 0 {
		confirm = DefaultConfirm
	}

	acked := map[int]bool{}  // sizes acknowledged at least once
	lost := map[int]int{}    // sizes never acknowledged -> times lost
	counted := map[int]int{} // of those, losses in a round where a smaller size was acknowledged
	tried := map[int]bool{}
	noisy := false
	blind := 0 // rounds in a row without evidence
	lo := s.Min - 1
	for round := 1; ; round++ {
		if err := ctx.Err(); err != nil {
			return b, err
		}
		if round > maxRounds {
			return b, fmt.Errorf("mtu: no bracket after %d rounds (lo %d)", maxRounds, lo)
		}
		need := confirm
		if noisy {
			need = confirmUnderNoise(confirm, b.Noise, b.Probes)
		}
		// hi: the smallest lost size above lo, and whether it is confirmed.
		hi := s.Max + 1
		for size := range lost {
			if size > lo {
				hi = min(hi, size)
			}
		}
		hiFailing := hi > s.Max || counted[hi] >= need ||
			(lo < s.Min && lost[hi] >= need+2) // nothing ever passed: accept repeated loss
		var bad []int // sizes lost below an acknowledged one: noise until they pass again
		for size := range lost {
			if size < lo {
				bad = append(bad, size)
			}
		}
		slices.Sort(bad)
		if hi-lo <= 1 && hiFailing && len(bad) == 0 {
			b.finish(s, lo, hi)
			logf("mtu: bracket [%d, %d] after %d rounds, %d probes (%d re-tests, %d noise)", b.LargestOK, b.SmallestFailed, b.Rounds, b.Probes, b.Retests, b.Noise)
			return b, nil
		}

		// Fixed probes first: the control, the unconfirmed upper end,
		// sizes lost below lo (noise, unless they keep failing).
		fixed := map[int]bool{}
		room := k // slots for fixed probes; one stays for planning while a gap is open
		if hi-lo > 1 {
			room--
		}
		if lo >= s.Min && k >= 2 {
			fixed[lo] = true
		}
		if hi <= s.Max && !hiFailing && len(fixed) < room {
			fixed[hi] = true
		}
		for _, size := range bad {
			if len(fixed) < room {
				fixed[size] = true
			}
		}
		var mandatory []int
		if !tried[s.Max] {
			mandatory = []int{s.Max}
		}
		copies := 0 // of Hint+1, beside the one plan places
		if round == 1 && s.Min <= s.Hint && s.Hint < s.Max && k >= confirm+3 {
			mandatory = append(mandatory, s.Hint, s.Hint+1)
			copies = confirm - 1
		}
		var sizes []int
		switch {
		case round == 1 && s.Hint == s.Max && s.Min < s.Max:
			sizes = []int{s.Max}
		case k > len(fixed)+copies:
			sizes = plan(lo, hi, k-len(fixed)-copies, mandatory, plateaus)
		}
		for range copies {
			sizes = append(sizes, s.Hint+1)
		}
		for size := range fixed {
			if !slices.Contains(sizes, size) {
				sizes = append(sizes, size)
			}
		}
		// Once the bracket is down to the byte, the confirmations of its
		// upper end go out at once, as copies beside the control: each
		// copy is a session of its own, so the losses it takes are as
		// independent as those of separate rounds, and the round's
		// control shows the path worked meanwhile.
		if hi-lo <= 1 && fixed[hi] && fixed[lo] {
			for extra := need - counted[hi] - 1; extra > 0 && len(sizes) < k; extra-- {
				sizes = append(sizes, hi)
			}
		}
		slices.Sort(sizes)
		logf("mtu: round %d probes %v within ok %d, failed %d (confirmed %v)", round, sizes, lo, hi, hiFailing)

		all, err := runRound(context.WithValue(ctx, roundKey{}, round), send, round, sizes)
		b.Rounds++
		b.Tried = append(b.Tried, all...)
		if err != nil {
			return b, err
		}
		var tries []Try // the ones that proved something
		var lastBlind error
		for _, t := range all {
			if t.Err != nil { // ErrNoEvidence: runRound returned the others
				lastBlind = t.Err
				b.Blind++
				continue
			}
			tries = append(tries, t)
		}
		if len(tries) == 0 {
			if blind++; blind >= maxBlindRounds {
				return b, &BlindError{Rounds: blind, Last: lastBlind}
			}
			continue
		}
		blind = 0
		b.Probes += len(tries)
		for _, t := range tries {
			if tried[t.Size] {
				b.Retests++
			}
			tried[t.Size] = true
		}
		if err := ctx.Err(); err != nil {
			return b, err // results of a cancelled round are not evidence
		}
		smallestOK := 0
		for _, t := range tries {
			if t.OK && (smallestOK == 0 || t.Size < smallestOK) {
				smallestOK = t.Size
			}
		}
		for _, t := range tries {
			switch {
			case t.OK:
				acked[t.Size] = true
				if lost[t.Size] > 0 {
					b.Noise += lost[t.Size]
					noisy = true
				}
				delete(lost, t.Size)
				delete(counted, t.Size)
			case acked[t.Size]:
				b.Noise++ // a control lost: proof it passes exists
				noisy = true
			default:
				lost[t.Size]++
				// With one probe per round no smaller size can pass
				// beside it: every loss counts.
				if k == 1 || smallestOK > 0 && smallestOK < t.Size {
					counted[t.Size]++
				}
			}
		}
		for size := range acked {
			lo = max(lo, size)
		}
		for size, n := range lost {
			if size < lo {
				if n >= inconsistentAfter {
					return b, &InconsistentError{Smaller: size, Larger: lo, Tried: triesOf(b.Tried, size, lo)}
				}
				noisy = true
			}
		}
	}
}

// confirmUnderNoise is how many counted losses make a size failing once the
// search has seen noise: at least one more than confirm, and enough that a
// size that does pass is lost that often by chance with probability below
// 1e-4, at the loss rate seen so far ((noise+1)/(probes+2), Laplace's rule),
// capped at 6.
func confirmUnderNoise(confirm, noise, probes int) int {
	rate := float64(noise+1) / float64(probes+2)
	need := confirm + 1
	for p := math.Pow(rate, float64(need)); p > 1e-4 && need < 6; p *= rate {
		need++
	}
	return need
}

func (b *Bracket) finish(s Search, lo, hi int) {
	if lo >= s.Min {
		b.LargestOK = lo
	}
	if hi <= s.Max {
		b.SmallestFailed = hi
	}
}

func triesOf(tried []Try, a, b int) []Try {
	var out []Try
	for _, t := range tried {
		if t.Err == nil && (t.Size == a || t.Size == b) {
			out = append(out, t)
		}
	}
	return out
}

// runRound calls send for every size at once. The first error other than
// ErrNoEvidence cancels the others and is returned; a probe that proved
// nothing keeps its error in its Try. Tries are in the order of sizes.
func runRound(ctx context.Context, send SendFunc, round int, sizes []int) ([]Try, error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tries := make([]Try, len(sizes))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i, size := range sizes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := send(rctx, size)
			tries[i] = Try{Round: round, Size: size, OK: ok && err == nil, Err: err}
			if err != nil && !errors.Is(err, ErrNoEvidence) {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return tries, firstErr
}

// plan chooses the sizes of one round. The unknown answer (the largest size
// that passes) is one of lo..hi-1, where lo passed (or is Min-1) and hi
// failed (or is Max+1); every probe is strictly between lo and hi, and the
// result is sorted.
func plan(lo, hi, k int, mandatory, plateaus []int) []int {
	cuts := map[int]bool{}
	for _, m := range mandatory {
		if lo < m && m < hi {
			cuts[m] = true
		}
	}
	// The fewest rounds T that can finish in the worst case: after this
	// round every gap must be resolvable in T-1 rounds of k probes.
	var c int
	for t := 1; ; t++ {
		c = capacity(k, t-1)
		if needed(lo, hi, cuts, c) <= k {
			break
		}
	}
	for _, p := range plateaus {
		if p <= lo || p+1 >= hi || (cuts[p] && cuts[p+1]) {
			continue
		}
		try := maps(cuts, p, p+1)
		if needed(lo, hi, try, c) <= k {
			cuts = try
		}
	}

	// Fill: the cuts each gap needs, then the spare probes where they
	// shrink the largest remaining gap (water-filling).
	bounds := sortedBounds(lo, hi, cuts)
	n := len(bounds) - 1
	extra := make([]int, n)
	spare := k - len(cuts)
	for i := range n {
		g := bounds[i+1] - bounds[i]
		extra[i] = ceilDiv(g, c) - 1
		spare -= extra[i]
	}
	for ; spare > 0; spare-- {
		best, bestPiece := -1, 1
		for i := range n {
			g := bounds[i+1] - bounds[i]
			if extra[i] >= g-1 {
				continue // every size in the gap is probed already
			}
			if piece := ceilDiv(g, extra[i]+1); piece > bestPiece {
				best, bestPiece = i, piece
			}
		}
		if best < 0 {
			break
		}
		extra[best]++
	}
	for i := range n {
		g, e := bounds[i+1]-bounds[i], extra[i]
		for j := 1; j <= e; j++ {
			cuts[bounds[i]+j*g/(e+1)] = true
		}
	}
	out := make([]int, 0, len(cuts))
	for size := range cuts {
		out = append(out, size)
	}
	slices.Sort(out)
	return out
}

// needed is how many probes a round needs so that, with cuts included, every
// gap of unknown answers has at most c of them.
func needed(lo, hi int, cuts map[int]bool, c int) int {
	bounds := sortedBounds(lo, hi, cuts)
	n := len(cuts)
	for i := 0; i+1 < len(bounds); i++ {
		n += ceilDiv(bounds[i+1]-bounds[i], c) - 1
	}
	return n
}

func sortedBounds(lo, hi int, cuts map[int]bool) []int {
	b := make([]int, 0, len(cuts)+2)
	b = append(b, lo, hi)
	for size := range cuts {
		b = append(b, size)
	}
	slices.Sort(b)
	return b
}

func maps(m map[int]bool, add ...int) map[int]bool {
	out := make(map[int]bool, len(m)+len(add))
	for k := range m {
		out[k] = true
	}
	for _, k := range add {
		out[k] = true
	}
	return out
}

// capacity is (k+1)^r, the number of answers r rounds of k probes can tell
// apart, saturated well above any packet size.
func capacity(k, r int) int {
	c := 1
	for range r {
		c *= k + 1
		if c > 1<<20 {
			return 1 << 20
		}
	}
	return c
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
