package probe

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
)

// ptbPatience is how long the patient probe (patientProbe) waits for a
// frag-needed / packet-too-big before a black hole is believed. Routers
// rate-limit the ICMP errors they send (RFC 1812 §4.3.2.8, RFC 4443
// §2.4(f); Cisco's default is one unreachable per 500 ms), and the
// search's probes, decided within tens of milliseconds, can all fall
// between two tokens. TCP resends the probe's segments after 200 ms and
// 600 ms (the minimum RTO, doubled: RFC 6298 §5.5), so by 700 ms a router
// that allows two a second has had a token for one of them.
const ptbPatience = 700 * time.Millisecond

// confirmBlackhole settles the forward verdict's findings. A
// pmtu-blackhole is the last word only after a patient probe
// (patientProbe) found no ICMP either; the black-holed link is located
// (locateBlackhole) at the same time, into a scratch result that is kept
// only if the verdict stands. If the patient probe's ICMP arrives, ICMP
// does reach us, only slowly: the probe (result icmp) joins the evidence,
// the verdict is recomputed, and a finding says that a router rate-limits
// its ICMP.
func (p *Prober) confirmBlackhole(ctx context.Context, t Target, r *Result, b mtu.Bracket, v6 bool, opt MTUOptions, pt *patient) {
	info := r.MTUInfo
	if info.Verdict != mtu.VerdictBlackhole {
		r.Findings = append(r.Findings, mtuFindings(t, r, v6)...)
		return
	}
	lr := newResult(t)
	lr.Address, lr.MTUInfo = r.Address, info
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.locateBlackhole(ctx, t, &lr, v6) // reads info, writes lr only
	}()
	var (
		pr   MTUProbe
		icmp bool
	)
	switch {
	case info.Fresh(b, t.Addr.Addr()):
		// The run's first oversized packet met the routers' tokens
		// (mtu.Pacer) and nothing was lost by chance: its silence is
		// the black hole. The patient probe (ended by mtuOut) is not
		// needed.
		info.Confirm = mtu.ConfirmFresh
	case info.Method == mtu.MethodUDP:
		// The DF datagrams decided, not TCP: larger ones vanished
		// twice beside smaller ones that reached the server.
		info.Confirm = mtu.ConfirmDF
	case p.confirmByDF(ctx, t, b, info):
		// Two DF datagrams, mtu.PTBInterval apart, vanished above the bracket:
		// the patient probe (ended by mtuOut) is not needed.
		info.Confirm = mtu.ConfirmDF
	case pt.started():
		pr, icmp = pt.wait()
		info.Sessions++
		info.Confirm = mtu.ConfirmPatient
	case b.SmallestFailed > 0:
		pr, icmp = p.patientProbe(ctx, t, b.SmallestFailed, v6, opt)
		info.Sessions++
		info.Confirm = mtu.ConfirmPatient
	}
	<-done
	if icmp {
		pr.Round, pr.Attempts = b.Rounds+1, 1
		info.Probes = append(info.Probes, pr)
		info.Rounds++
		info.ICMPSeen = true
		info.Verdict = mtu.OutVerdict(b, info)
		info.Tested = mtu.OutTested(info, info.Range[0], info.Range[1])
	}
	if info.Verdict != mtu.VerdictBlackhole {
		info.Confirm = ""
		r.Findings = append(r.Findings, ptbRateLimited(t, r, pr, v6))
		r.Findings = append(r.Findings, mtuFindings(t, r, v6)...)
		return
	}
	r.setFailure(PMTUBlackhole, fmt.Sprintf("segments above %s bytes vanish and no ICMP comes back", intOr(info.PathMTU, "?")))
	r.Findings = append(r.Findings, mtuFindings(t, r, v6)...)
	r.Findings = append(r.Findings, lr.Findings...)
	r.BlackholeLink, r.Hops, r.PathEnd = lr.BlackholeLink, lr.Hops, lr.PathEnd
}

// confirmByDF is the patient probe's faster twin, for an IPv4 host allowed
// raw sockets (so nothing it draws is cached: mtu.SendDF). dfFirst sent
// its datagram of the interface's size before any TCP probe; at least
// mtu.PTBInterval after it (a router that allows two ICMP errors a
// second has had a token for one of them), a datagram of b's smallest
// failed size goes out beside one of its largest passing size. It is true when the large one vanished
// while the small one drew the server's port unreachable (RFC 792), and
// this host's kernel holds no path MTU for the server that a late ICMP
// for one of the search's probes would have left: a router that
// rate-limits its ICMP had a token for one of the two datagrams (RFC
// 1812 §4.3.2.8), so silence for both is the black hole. Anything else
// (an answer, a silent control, a cached path MTU, no raw socket) is
// false, and the patient probe decides.
func (p *Prober) confirmByDF(ctx context.Context, t Target, b mtu.Bracket, info *MTUInfo) bool {
	dst := t.Addr.Addr().Unmap()
	if info.DfAt.IsZero() || !dst.Is4() || b.SmallestFailed <= 0 || b.LargestOK <= 0 || b.LargestOK >= b.SmallestFailed {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(info.DfAt.Add(mtu.PTBInterval))):
	}
	var rtt time.Duration
	for _, pr := range info.Probes {
		rtt = max(rtt, pr.RTT)
	}
	wait := max(2*lossFloor, lossFactor*rtt) // a few RTTs for the ICMP to come back
	var (
		wg         sync.WaitGroup
		big        mtu.DFReply
		errB, errS error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		big, errB = mtu.SendDF(ctx, dst, mtu.DFPort, b.SmallestFailed, wait)
	}()
	time.Sleep(time.Millisecond) // the large one first, on its own socket
	small, errS := mtu.SendDF(ctx, dst, mtu.DFPort+1, b.LargestOK, wait)
	wg.Wait()
	if errB == nil && errS == nil {
		info.Datagrams = append(info.Datagrams, big, small)
	}
	if errB != nil || errS != nil || !big.Raw || !small.Raw || big.Answer != mtu.DFSilent || small.Answer != mtu.DFArrived {
		return false
	}
	if c, err := mtu.CachedPMTU(dst); err != nil || c.MTU > 0 {
		return false
	}
	return true
}

// patient is a forward search's patient probe, started (start) as soon
// as one of the search's probes was lost without ICMP, so that its wait
// overlaps the rest of the search instead of following it. A lost size
// serves as well as the smallest failed one: ICMP for it proves that
// ICMP reaches us, and outVerdict still calls a path MTU learned above
// the bracket (a first bottleneck that answers, a second that does not)
// a black hole.
type patient struct {
	mu     sync.Mutex
	done   chan struct{} // nil until started; closed when it ended
	cancel context.CancelFunc
	pr     MTUProbe
	icmp   bool
}

// start runs the patient probe at size in the background, once.
func (pt *patient) start(ctx context.Context, p *Prober, t Target, size int, v6 bool, opt MTUOptions) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.done != nil {
		return
	}
	done := make(chan struct{})
	ctx, pt.cancel = context.WithCancel(ctx)
	pt.done = done
	go func() {
		defer close(done)
		pr, icmp := p.patientProbe(ctx, t, size, v6, opt)
		pt.mu.Lock()
		pt.pr, pt.icmp = pr, icmp
		pt.mu.Unlock()
	}()
}

func (pt *patient) started() bool {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.done != nil
}

// wait waits for a started patient probe and returns it (a zero probe
// and false when none was started).
func (pt *patient) wait() (MTUProbe, bool) {
	pt.mu.Lock()
	done := pt.done
	pt.mu.Unlock()
	if done == nil {
		return MTUProbe{}, false
	}
	<-done
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.pr, pt.icmp
}

// stop ends a patient probe that nobody waits for (the verdict was no
// black hole) and waits for its goroutine.
func (pt *patient) stop() {
	pt.mu.Lock()
	cancel, done := pt.cancel, pt.done
	pt.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// patientProbe runs one probe at size that waits ptbPatience, through
// TCP's own retransmissions, and reports whether ICMP lowered the path MTU
// during it. A session that failed proves nothing (false).
func (p *Prober) patientProbe(ctx context.Context, t Target, size int, v6 bool, opt MTUOptions) (MTUProbe, bool) {
	o := opt
	o.Loss = mtu.WatchOptions{MinWait: ptbPatience, RTOs: 1 << 10, MaxWait: ptbPatience + time.Second,
		LostAfter: func() time.Duration { return ptbPatience }}
	pr, res := p.mtuProbe(ctx, t, size, v6, o, &mtu.Round{})
	return pr, res.Outcome == OK && pr.Result == mtu.ProbeICMP
}

func ptbRateLimited(t Target, r *Result, pr MTUProbe, v6 bool) Finding {
	icmp := "ICMP fragmentation needed"
	if v6 {
		icmp = "ICMPv6 packet too big"
	}
	return Finding{Severity: SevInfo, Code: dnscheck.CodeICMPRateLimited, Message: fmt.Sprintf(
		"%s: %s arrived only for a probe that waited %s and was retransmitted (%d retransmits): a router on the path rate-limits the ICMP it sends, so PMTUD works but a connection's first full-size segments may wait for a retransmission",
		who(t, r.Address), icmp, fmtDur(pr.Wait), pr.Retransmits)}
}
