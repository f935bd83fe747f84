package mtu

// What an mtu run found, in the JSON document's shape (README, "mtu" and
// "JSON": an mtu result's path_mtu, verdict, bracket, probes, reverse), and
// the verdicts over it. The verdicts are pure functions of what the probes
// showed, table-tested without a network; package probe runs the probe
// sessions, fills in a Result and words the findings.

import (
	"encoding/json"
	"math"
	"net/netip"
	"sort"
	"time"
)

// msOf converts a duration to milliseconds rounded to the microsecond, as
// the JSON document gives them (probe/units.MS).
func msOf(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// fromMS converts milliseconds, as msOf writes them, back to a duration.
func fromMS(m float64) time.Duration { return time.Duration(math.Round(m * float64(time.Millisecond))) }

// PathVerdict is what an mtu probe found about one direction of the path: an
// mtu result's "verdict" (README, "mtu" and "JSON").
type PathVerdict string

// Path MTU verdicts.
const (
	VerdictNoBottleneck PathVerdict = "no-bottleneck"
	VerdictPMTUDWorking PathVerdict = "pmtud-working"
	VerdictMSSClamped   PathVerdict = "mss-clamped"
	VerdictBlackhole    PathVerdict = "pmtu-blackhole"
	// VerdictUntested is a direction that was not measured: not asked
	// for (Direction), or the inbound direction of a server without
	// STARTTLS (its only large flight towards us).
	VerdictUntested PathVerdict = "untested"
)

// VerdictInconclusive is a direction the run could not decide within its
// budget: random loss on the path lost too many probe sessions, or made
// the results contradict each other. The bracket holds what was proven
// (the largest size carried); the finding gives the measured loss.
const VerdictInconclusive PathVerdict = "inconclusive"

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

// What kept a probe's packets below the size under test (Probe.Limit).
const (
	LimitPathMTU = "path-mtu" // this host's path MTU towards the server: a cached PMTU
	LimitPeerMSS = "peer-mss" // the MSS the server's SYN-ACK carried (its own cache, or a clamping router)
)

// Methods that decided a verdict (Result.Method, Reverse.Method).
const (
	MethodTCP = "tcp" // the SMTP sessions' own segments
	MethodUDP = "udp" // DF datagrams to a closed port (CheckDF)
)

// Probe is the evidence of one probe session.
type Probe struct {
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

// Result is the path-MTU part of a probe result (probe.MTUInfo). Its path_mtu, verdict and
// bracket are the client-to-server direction; Reverse is the other one.
type Result struct {
	PathMTU      *int        `json:"path_mtu"`
	Verdict      PathVerdict `json:"verdict,omitempty"` // absent when the probe sessions themselves failed
	Bracket      [2]*int     `json:"bracket"`           // [largest_ok, smallest_failed]; smallest_failed null when nothing failed
	Exact        bool        `json:"exact"`
	Sessions     int         `json:"sessions"`
	Transactions int         `json:"transactions"` // MAIL transactions opened (0 when STARTTLS carries the probes)
	Rounds       int         `json:"rounds"`
	Retests      int         `json:"retests"` // probes of a size tried before: controls and confirmations
	Retransmits  int         `json:"retransmits"`
	LossPct      *float64    `json:"loss_pct"` // segments retransmitted per data segment sent, over the passing probes
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
	// our SYNs advertise (IPv6 only: ForgetPMTU).
	CacheCleared bool `json:"cache_cleared,omitempty"`
	// Tested is the range of IP packet sizes that actually went out at
	// their size and were judged, client to server; nil when none did. A
	// verdict says nothing about sizes above Tested[1].
	Tested *[2]int `json:"tested"`
	// Method is what decided Verdict: MethodTCP, or MethodUDP when the
	// peer's MSS or our cache kept TCP below the size under test and DF
	// datagrams decided (UDP).
	Method string   `json:"method,omitempty"`
	UDP    *DFCheck `json:"udp,omitempty"`
	// Datagrams are the DF datagrams that went out beside the TCP
	// probes, with their answers: the first, of the interface's size,
	// before any probe, and a black hole's confirming pair (size above
	// and below the bracket, PTBInterval after the first). The DF check
	// of a clamped path is UDP's.
	Datagrams []DFReply `json:"datagrams,omitempty"`
	Probes    []Probe   `json:"probes"`
	Reverse   *Reverse  `json:"reverse,omitempty"`

	// RecentICMPMs is how long before this run a run of ours last drew
	// ICMP from this path, when that was less than PTBInterval (Pacer): a
	// router may not have had a token for this run's first oversized
	// packet, so a black hole needs the patient confirmation. Absent
	// otherwise.
	RecentICMPMs *float64 `json:"recent_icmp_ms,omitempty"`
	// Confirm is how a pmtu-blackhole was told from a router that
	// rate-limits its ICMP: ConfirmPaced, ConfirmDF or ConfirmPatient;
	// empty for other verdicts.
	Confirm string `json:"confirm,omitempty"`

	DfAt  time.Time `json:"-"` // when dfFirst's raw datagram went out; zero when none did
	Paced bool      `json:"-"` // the Pacer's state was read and no run of ours drew ICMP from this path within PTBInterval
}

// How a black hole was confirmed (Result.Confirm).
const (
	// ConfirmFresh: the run began at least PTBInterval after the last
	// ICMP any run of ours drew from the path (Pacer), and no probe saw
	// loss, so the first oversized packet met the routers' tokens and its
	// silence is the black hole.
	ConfirmFresh = "fresh-tokens"
	// ConfirmDF: DF datagrams vanished above the bracket while smaller
	// ones reached the server: two, PTBInterval apart (TCP decided), or
	// CheckDF's (UDP decided).
	ConfirmDF = "df-datagrams"
	// ConfirmPatient: a probe that waited through TCP's retransmissions
	// for the ICMP got none.
	ConfirmPatient = "patient-probe"
)

// Reverse is the server-to-client direction, measured through the MSS we
// advertise, with the server's STARTTLS flight as the payload.
type Reverse struct {
	PathMTU     *int        `json:"path_mtu"`
	Verdict     PathVerdict `json:"verdict"`
	Bracket     [2]*int     `json:"bracket"`
	Exact       bool        `json:"exact"`
	Sessions    int         `json:"sessions"`
	Rounds      int         `json:"rounds"`
	Retests     int         `json:"retests"`
	FlightBytes int         `json:"flight_bytes"` // the server's STARTTLS flight, as received
	TestedUpTo  int         `json:"tested_up_to"` // the largest packet the flight could fill; larger sizes prove nothing
	// Tested is the range of IP packet sizes the server was actually let
	// send (our SYN advertised them, and its flight could fill them); nil
	// when none.
	Tested *[2]int `json:"tested"`
	Method string  `json:"method,omitempty"`
	Probes []Probe `json:"probes"`
}

// OutVerdict is the client-to-server verdict of bracketing b, from the
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
// not send above LargestOK (ClampedBy), the DF datagrams' check (info.UDP)
// decides: a hop's packet-too-big is pmtud-working, the largest size
// arriving is no-bottleneck, silence above answered siblings is
// pmtu-blackhole. Without an answer there, a probe kept small by our own
// cache is untested, and one kept small by the server's MSS is mss-clamped.
func OutVerdict(b Bracket, info *Result) PathVerdict {
	// What made the smallest failed size fail, on its last attempt.
	var failedBy ProbeResult
	learned := info.CachedPMTU // the kernel's path MTU lowered by ICMP, 0 if never
	if info.CacheCleared {
		learned = 0 // deleted before the probes: nothing this run relied on
	}
	for _, pr := range info.Probes {
		if b.SmallestFailed > 0 && pr.Size == b.SmallestFailed && !pr.OK && pr.Evidence() {
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
		case DFICMPWorks:
			return VerdictPMTUDWorking
		case DFNoBottleneck:
			return VerdictNoBottleneck
		case DFBlackhole:
			return VerdictBlackhole
		}
	}
	limit, _ := ClampedBy(b, info)
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

// ClampedBy says what kept TCP below the smallest failed size of b, when
// its last attempt there was clamped: LimitPathMTU (our cached path MTU)
// or LimitPeerMSS (the server's MSS); "" when it was not clamped. The
// second value is the probe.
func ClampedBy(b Bracket, info *Result) (string, Probe) {
	var last Probe
	for _, pr := range info.Probes {
		if b.SmallestFailed > 0 && pr.Size == b.SmallestFailed && !pr.OK && pr.Evidence() {
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

// DFWait is how long a DF datagram waits for its ICMP: four of the slowest
// smoothed RTT the TCP probes measured, at least 250 ms.
func DFWait(probes []Probe) time.Duration {
	var rtt time.Duration
	for _, pr := range probes {
		rtt = max(rtt, pr.RTT)
	}
	return max(250*time.Millisecond, 4*rtt)
}

// OutTested is the client-to-server range of sizes that were put on the
// wire at their size and judged: the TCP probes that were not clamped, and
// the DF datagrams when they decided.
func OutTested(info *Result, lo, hi int) *[2]int {
	top := 0
	for _, pr := range info.Probes {
		switch pr.Result {
		case ProbeDelivered, ProbeLost, ProbeICMP, ProbeTimedOut:
			top = max(top, pr.Size)
		}
	}
	if u := info.UDP; u != nil && u.Verdict != DFUnknown {
		for _, d := range u.Replies {
			if d.Answer != DFSilent || u.Verdict == DFBlackhole {
				top = max(top, d.Size)
			}
		}
	}
	if top == 0 {
		return nil
	}
	return &[2]int{lo, min(top, hi)}
}

// NumberRounds gives each probe (in completion order) the round of the
// search's Try for the same size, in order, and sorts them by round and
// size. A size is tried again only in a later round, so the n-th probe of
// a size is its n-th Try.
func NumberRounds(probes []Probe, tried []Try) {
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

// RevTested is the server-to-client range of sizes the server was let send
// and could fill: probes whose SYN advertised their size (not cached),
// whose server did not advertise less (not clamped), and whose flight came
// or stalled, capped by what the flight could fill (TestedUpTo).
func RevTested(rev *Reverse, lo int) *[2]int {
	top := 0
	for _, pr := range rev.Probes {
		switch pr.Result {
		case ProbeDelivered, ProbeLost, ProbeAdapted:
			top = max(top, pr.Size)
		case ProbeClamped:
			top = max(top, pr.Sent) // what the server's MSS let it send, and arrived
		}
	}
	if rev.TestedUpTo > 0 {
		top = min(top, rev.TestedUpTo)
	}
	if top == 0 {
		return nil
	}
	return &[2]int{lo, top}
}

// RevVerdict is the server-to-client verdict of a bracketing that followed a
// stalled Max flight, from what its probes (round 1's pair included, in
// round order) showed rather than from the stall timer alone:
//
//   - no size failed: no-bottleneck;
//   - the smallest failed size's last attempt was clamped (the SYN-ACK's MSS
//     already small): mss-clamped;
//   - some probe's flight arrived in segments smaller than advertised, no
//     larger than the largest size that passed (adapted): ICMP reached the
//     server and it lowered its path MTU to the bottleneck (RFC 1191 §4,
//     RFC 8201 §4), so PMTUD works, however the sizes above failed. On a
//     loaded host the first flight at Max can outlast the round's loss
//     limit while the server is still resending it in smaller segments,
//     and Search then counts every larger size as not carried, adapted
//     or not;
//   - otherwise the flights above the bracket stalled without the server
//     ever adapting: pmtu-blackhole.
func RevVerdict(b Bracket, probes []Probe) PathVerdict {
	if b.SmallestFailed == 0 {
		return VerdictNoBottleneck
	}
	var failedBy ProbeResult
	adapted := false
	for _, pr := range probes {
		if pr.Size == b.SmallestFailed && !pr.OK && pr.Evidence() {
			failedBy = pr.Result
		}
		if pr.Result == ProbeAdapted && pr.Sent > 0 && pr.Sent <= b.LargestOK {
			adapted = true
		}
	}
	switch {
	case failedBy == ProbeClamped:
		return VerdictMSSClamped
	case adapted:
		return VerdictPMTUDWorking
	}
	return VerdictBlackhole
}

// probeJSON is Probe on the wire.
type probeJSON struct {
	Round       int         `json:"round"`
	Size        int         `json:"size"`
	Sent        int         `json:"sent,omitempty"`
	OK          bool        `json:"ok"`
	Result      ProbeResult `json:"result"`
	Via         string      `json:"via,omitempty"`
	Retransmits int         `json:"retransmits"`
	Segments    int         `json:"segments"`
	PMTU        int         `json:"pmtu,omitempty"`
	RTTMS       float64     `json:"rtt_ms,omitempty"`
	WaitMS      float64     `json:"wait_ms"`
	Attempts    int         `json:"attempts"`
	Flight      int         `json:"flight,omitempty"`
	Adv         int         `json:"adv,omitempty"`
	Limit       string      `json:"limit,omitempty"`
}

// MarshalJSON writes the probe with its RTT and wait in milliseconds.
func (p Probe) MarshalJSON() ([]byte, error) {
	return json.Marshal(probeJSON{Round: p.Round, Size: p.Size, Sent: p.Sent, OK: p.OK, Result: p.Result,
		Via: p.Via, Retransmits: p.Retransmits, Segments: p.Segments, PMTU: p.PMTU,
		RTTMS: msOf(p.RTT), WaitMS: msOf(p.Wait), Attempts: p.Attempts, Flight: p.Flight, Adv: p.Adv, Limit: p.Limit})
}

// UnmarshalJSON reads a probe as MarshalJSON writes it.
func (p *Probe) UnmarshalJSON(b []byte) error {
	var w probeJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = Probe{Round: w.Round, Size: w.Size, Sent: w.Sent, OK: w.OK, Result: w.Result,
		Via: w.Via, Retransmits: w.Retransmits, Segments: w.Segments, PMTU: w.PMTU,
		RTT: fromMS(w.RTTMS), Wait: fromMS(w.WaitMS), Attempts: w.Attempts, Flight: w.Flight, Adv: w.Adv, Limit: w.Limit}
	return nil
}

// DrewICMP is whether the run drew a frag-needed / packet-too-big
// towards us: a probe's, or a DF datagram's (Pacer.Note).
func (r *Result) DrewICMP() bool {
	if r.ICMPSeen {
		return true
	}
	if r.UDP != nil {
		for _, rep := range r.UDP.Replies {
			if rep.Answer == DFTooBig {
				return true
			}
		}
	}
	return false
}

// Clean is whether the outbound search b saw nothing random: no noise,
// no probe that proved nothing, no retransmission on a passing probe.
func (r *Result) Clean(b Bracket) bool {
	return b.Noise == 0 && b.Blind == 0 && (r.LossPct == nil || *r.LossPct == 0)
}

// Evidence is whether the probe said something about its size: a session
// that failed apart from the probe, or a flight that never came, did not
// (the search plans the size again), and must not stand for the size's
// last attempt when a verdict reads what made it fail.
func (p Probe) Evidence() bool {
	return p.Result != ProbeSessionFailed && p.Result != ProbeUntested
}

// Fresh is whether a forward black hole b needs no patient confirmation:
// the Pacer's state was read and no run of ours drew ICMP from the path
// within PTBInterval before this one (Paced), so the routers had their
// tokens for the run's first oversized packet (a run that begins sooner
// keeps the patient confirmation, whose wait covers a token's refill);
// nothing was lost by chance (Clean), so that packet's ICMP was not lost
// either; and this host holds no path MTU for dst that a late ICMP would
// have left.
func (r *Result) Fresh(b Bracket, dst netip.Addr) bool {
	if !r.Paced || !r.Clean(b) {
		return false
	}
	c, err := CachedPMTU(dst.Unmap())
	return err == nil && c.MTU == 0
}
