package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"syscall"

	"github.com/smtpprobe/smtpprobe/mtu"
)

// Path MTU verdicts (DESIGN §2).
const (
	VerdictNoBottleneck = "no-bottleneck"
	VerdictPMTUDWorking = "pmtud-working"
	VerdictBlackhole    = "pmtu-blackhole"
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
	To       string // forward-path; "" means "postmaster"
	// Loss tunes the loss decision; the zero value decides after two
	// retransmission timeouts without ACK progress.
	Loss mtu.WatchOptions
}

// MTUProbe is the evidence of one probe session.
type MTUProbe struct {
	Round       int     `json:"round"`
	Size        int     `json:"size"`             // IP packet size asked for
	Sent        int     `json:"sent,omitempty"`   // IP packet size TCP_INFO says was used
	OK          bool    `json:"ok"`               // carried: every byte acknowledged at that size
	Result      string  `json:"result"`           // delivered, lost, icmp, clamped, timed-out
	Retransmits int     `json:"retransmits"`      // tcpi_total_retrans
	PMTU        int     `json:"pmtu,omitempty"`   // IP_MTU after the probe
	RTTMS       float64 `json:"rtt_ms,omitempty"` // smoothed RTT
}

// MTUInfo is the path-MTU part of a Result.
type MTUInfo struct {
	PathMTU      *int       `json:"path_mtu"`
	Verdict      string     `json:"verdict,omitempty"` // absent when the probe sessions themselves failed
	Bracket      [2]*int    `json:"bracket"`           // [largest_ok, smallest_failed]; smallest_failed null when nothing failed
	Exact        bool       `json:"exact"`
	Sessions     int        `json:"sessions"`
	Rounds       int        `json:"rounds"`
	Retransmits  int        `json:"retransmits"`
	ICMPSeen     bool       `json:"icmp_seen"` // the kernel's path MTU dropped during a probe
	CachedPMTU   int        `json:"cached_pmtu,omitempty"`
	InterfaceMTU int        `json:"interface_mtu"`
	MTUProbing   *int       `json:"tcp_mtu_probing,omitempty"` // this host's net.ipv4.tcp_mtu_probing
	Range        [2]int     `json:"range"`
	Probes       []MTUProbe `json:"probes"`
}

// MTU brackets the path MTU towards t on the SMTP path itself: each probe
// is a session with DF set and the MSS clamped (mtu.Control) that carries
// the message body in full-size segments after DATA and is then abandoned
// without the final dot. A probe passes when every byte is acknowledged
// at the requested packet size; it fails when the segments vanish (lost),
// when ICMP lowers the kernel's path MTU during it, or when the kernel
// could only send smaller segments (clamped by a cached PMTU or the
// peer's MSS). mtu.Search picks the sizes, in parallel rounds.
//
// The error is non-nil only when this system cannot do it at all
// (errors.ErrUnsupported off Linux, or the socket options are refused).
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
	if cached, err := mtu.RouteMTU(dst); err == nil && cached < ifMTU {
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
		return r, &RangeError{fmt.Sprintf("--min %d is above the interface MTU towards %s (%d)", lo, dst, ifMTU)}
	}
	info.Range = [2]int{lo, hi}

	var mu sync.Mutex
	send := func(ctx context.Context, size int) (bool, error) {
		pr, res := p.mtuProbe(ctx, t, size, v6, opt)
		mu.Lock()
		defer mu.Unlock()
		info.Probes = append(info.Probes, pr)
		if res.Outcome != OK {
			return false, &probeFailed{res}
		}
		return pr.OK, nil
	}
	b, err := mtu.Search{Min: lo, Max: hi, Parallel: opt.Parallel}.Run(ctx, send)
	numberRounds(info.Probes, b.Tried)
	info.Sessions, info.Rounds = len(info.Probes), b.Rounds
	for _, pr := range info.Probes {
		info.Retransmits += pr.Retransmits
		info.ICMPSeen = info.ICMPSeen || pr.Result == "icmp"
	}
	var pf *probeFailed
	switch {
	case errors.As(err, &pf):
		// A session failed for a reason other than the path: say which.
		fr := pf.r
		r.Outcome, r.Error, r.Reply, r.Timeline = fr.Outcome, "probe session: "+fr.Error, fr.Reply, fr.Timeline
		if fr.Outcome == Rejected && fr.Reply != nil && fr.Reply.Class() == 5 && isRcptPhase(fr.Error) {
			r.Findings = append(r.Findings, Finding{SevWarning, "rcpt-refused",
				fmt.Sprintf("%s refused the recipient (%s); pass a recipient it accepts with --to", who(t, r.Address), fr.Reply.String())})
		}
		return r, nil
	case err != nil:
		r.setFailure(ProtocolError, "bracketing: "+err.Error())
		return r, nil
	}
	if b.LargestOK > 0 {
		info.PathMTU = ptr(b.LargestOK)
		info.Bracket[0] = ptr(b.LargestOK)
	}
	if b.SmallestFailed > 0 {
		info.Bracket[1] = ptr(b.SmallestFailed)
	}
	info.Exact = b.Exact()
	results := map[string]bool{}
	for _, pr := range info.Probes {
		results[pr.Result] = true
	}
	switch {
	case results["lost"] || results["timed-out"]:
		info.Verdict = VerdictBlackhole
		r.setFailure(PMTUBlackhole, fmt.Sprintf("segments above %d bytes vanish and no ICMP comes back", b.LargestOK))
	case info.ICMPSeen || info.CachedPMTU > 0:
		info.Verdict = VerdictPMTUDWorking
	case results["clamped"] && info.PathMTU != nil && *info.PathMTU < info.InterfaceMTU:
		// Larger segments were never sent: the peer's MSS (its own
		// PMTUD, or an MSS-clamping router) keeps TCP below a
		// bottleneck that does exist. TCP to this server copes, which
		// is what pmtud-working means here; the finding says how.
		info.Verdict = VerdictPMTUDWorking
	default:
		info.Verdict = VerdictNoBottleneck
	}
	r.Findings = append(r.Findings, mtuFindings(t, &r, v6, results["clamped"])...)
	r.timePhase("mtu", p.now().Sub(start))
	return r, nil
}

// RangeError is a --min/--max that does not fit the path.
type RangeError struct{ Msg string }

func (e *RangeError) Error() string { return e.Msg }

// probeFailed carries a probe session that failed for a reason other
// than the path (refused recipient, closed port...).
type probeFailed struct{ r Result }

func (e *probeFailed) Error() string { return e.r.Error }

func isRcptPhase(msg string) bool { return len(msg) >= 4 && msg[:4] == "rcpt" }

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

// mtuProbe runs one probe session at packet size size.
func (p *Prober) mtuProbe(ctx context.Context, t Target, size int, v6 bool, opt MTUOptions) (MTUProbe, Result) {
	pr := MTUProbe{Size: size}
	q := *p
	q.Control = mtu.Control(mtu.ClampForPacket(size, v6))
	r := newResult(t)
	d := q.begin(ctx, t, &r)
	if d == nil {
		pr.Result = "session-failed"
		return pr, r
	}
	defer d.end()
	to := opt.To
	if to == "" {
		to = "postmaster"
	}
	ok := d.greet(false)
	for _, s := range []struct{ phase, line string }{{"mail", "MAIL FROM:<" + opt.From + ">"}, {"rcpt", "RCPT TO:<" + to + ">"}, {"data", "DATA"}} {
		if !ok {
			break
		}
		_, ok = d.step1(s.phase, s.line)
	}
	if !ok {
		d.quit()
		pr.Result = "session-failed"
		return pr, r
	}
	sc, _ := d.c.Raw().(syscall.Conn)
	before, err := mtu.TCPInfo(sc)
	if err != nil {
		r.setFailure(ProtocolError, "TCP_INFO: "+err.Error())
		pr.Result = "session-failed"
		return pr, r
	}
	// Never trust the clamp asked for: a cached path MTU or the peer's
	// MSS may make the kernel's segments smaller.
	pr.Sent = mtu.PacketSize(before, v6)
	// Several full-size segments, all within the initial window.
	body := Message(opt.From, to, d.name, 4*before.SndMSS, p.now())
	if err := d.c.WriteData(ctx, d.rt, body); err != nil {
		r.setFailure(Classify(err), "body: "+err.Error())
		pr.Result = "session-failed"
		return pr, r
	}
	v, after, err := mtu.Watch(ctx, sc, before.BytesAcked+uint64(len(body)), opt.Loss)
	pr.Retransmits = after.TotalRetrans
	pr.RTTMS = ms(after.RTT)
	pmtu, _ := mtu.PathMTU(sc)
	pr.PMTU = pmtu
	if err != nil {
		if errors.Is(err, mtu.ErrClosed) {
			r.setFailure(Reset, "the server reset the probe session before the body was acknowledged")
		} else {
			r.setFailure(Classify(err), "watching the body: "+err.Error())
		}
		pr.Result = "session-failed"
		return pr, r
	}
	switch {
	case pmtu > 0 && pmtu < pr.Sent:
		// ICMP "fragmentation needed" / "packet too big" arrived
		// while this probe's packets were in flight (RFC 1191 §4,
		// RFC 8201 §4): the kernel lowered the path MTU below the size
		// the probe had started with, and resegmented.
		pr.Result = "icmp"
	case v == mtu.Lost:
		pr.Result = "lost"
		abort(d.c)
	case v == mtu.TimedOut:
		pr.Result = "timed-out"
		abort(d.c)
	case pr.Sent < size:
		pr.Result = "clamped"
	default:
		pr.OK, pr.Result = true, "delivered"
	}
	d.c.Event(EvData, fmt.Sprintf("probe %d bytes: %s (sent %d-byte packets, %d retransmits, path MTU %d)", size, pr.Result, pr.Sent, pr.Retransmits, pmtu))
	return pr, r
}

// abort resets the connection so that neither side keeps retransmitting
// data the path cannot carry, and the server drops the transaction.
func abort(c *Conn) {
	if tc, ok := c.Raw().(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// mtuFindings say what to do, as the field reports do.
func mtuFindings(t Target, r *Result, v6, clamped bool) []Finding {
	info := r.MTUInfo
	w := who(t, r.Address)
	var fs []Finding
	icmp := "ICMP type 3 code 4 (fragmentation needed)"
	if v6 {
		icmp = "ICMPv6 type 2 (packet too big)"
	}
	if info.CachedPMTU > 0 {
		why := ""
		if !info.ICMPSeen {
			// The verdict rests on the cache alone: a firewall change
			// since then (ICMP now dropped) would not show. Not a
			// warning: a cron job probing every few minutes always
			// finds its own last run's cache.
			why = "; this run could not test whether ICMP still arrives: to validate a firewall change, flush the cache first (ip route flush cache; ip -6 route flush cache) and probe again"
		}
		fs = append(fs, Finding{SevInfo, "pmtu-cached",
			fmt.Sprintf("the kernel had a path MTU of %d cached towards %s before the probe (learned from ICMP within about 10 minutes), so larger probes could not be sent%s", info.CachedPMTU, r.Address, why)})
	}
	if clamped && !info.ICMPSeen && info.CachedPMTU == 0 && info.PathMTU != nil {
		fs = append(fs, Finding{SevInfo, "peer-mss-limit",
			fmt.Sprintf("%s: the peer's advertised MSS (its own path MTU cache, or an MSS-clamping router) keeps TCP packets at %d bytes or less, so larger sizes were never sent and whether ICMP reaches this host was not tested", w, *info.PathMTU)})
	}
	switch info.Verdict {
	case VerdictBlackhole:
		fs = append(fs, Finding{SevCritical, "pmtu-blackhole",
			fmt.Sprintf("%s: packets larger than %d bytes vanish and no %s comes back; mail larger than a few KB stalls (\"timeout after DATA\"). Fix: allow %s and ICMP time exceeded through the firewalls on the path", w, *info.PathMTU, icmp, icmp)})
		fs = append(fs, Finding{SevWarning, "clamp-mss",
			fmt.Sprintf("or clamp the MSS on the bottleneck router to the path MTU (iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu; nftables: tcp flags syn tcp option maxseg size set rt mtu)")})
		stop := fmt.Sprintf("as a stopgap on this host, lower the interface MTU to %d (ip link set dev IFACE mtu %d) or enable net.ipv4.tcp_mtu_probing=1", *info.PathMTU, *info.PathMTU)
		if info.MTUProbing != nil {
			stop += fmt.Sprintf(" (currently %d)", *info.MTUProbing)
		}
		fs = append(fs, Finding{SevWarning, "pmtu-stopgap", stop})
	case VerdictPMTUDWorking:
		if info.PathMTU != nil {
			fs = append(fs, Finding{SevInfo, "pmtu-bottleneck",
				fmt.Sprintf("%s: the path MTU is %d bytes (interface %d); %s reaches this host and TCP adapts", w, *info.PathMTU, info.InterfaceMTU, icmp)})
		}
	}
	return fs
}
