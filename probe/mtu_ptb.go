package probe

import (
	"context"
	"fmt"
	"time"

	"github.com/smtpprobe/smtpprobe/mtu"
)

// ptbPatience is how long the patient probe (confirmPTB) waits for a
// frag-needed / packet-too-big before a black hole is believed. Routers
// rate-limit the ICMP errors they send (RFC 1812 §4.3.2.8, RFC 4443
// §2.4(f); Cisco's default is one unreachable per 500 ms), and the
// search's probes, decided within tens of milliseconds, can all fall
// between two tokens. TCP resends the probe's segments after 200 ms and
// 600 ms (the minimum RTO, doubled: RFC 6298 §5.5), so by 700 ms a router
// that allows two a second has had a token for one of them.
const ptbPatience = 700 * time.Millisecond

// confirmPTB is the last word before a forward pmtu-blackhole verdict: one
// more probe at the smallest failed size that waits ptbPatience, through
// TCP's own retransmissions, for ICMP. If the kernel's path MTU drops
// meanwhile, ICMP does reach us, only slowly: the probe (result icmp) joins
// the evidence and the verdict is recomputed; a finding says the router
// rate-limits its ICMP. It reports whether the verdict changed.
func (p *Prober) confirmPTB(ctx context.Context, t Target, r *Result, b mtu.Bracket, v6 bool, opt MTUOptions) bool {
	info := r.MTUInfo
	if info.Verdict != VerdictBlackhole || b.SmallestFailed == 0 {
		return false
	}
	o := opt
	o.Loss = mtu.WatchOptions{MinWait: ptbPatience, RTOs: 1 << 10, MaxWait: ptbPatience + time.Second,
		LostAfter: func() time.Duration { return ptbPatience }}
	pr, res := p.mtuProbe(ctx, t, b.SmallestFailed, v6, o, &roundClock{})
	if res.Outcome != OK || pr.Result != ProbeICMP {
		return false // a session that failed proves nothing: the verdict stands
	}
	pr.Round, pr.Attempts = b.Rounds+1, 1
	info.Probes = append(info.Probes, pr)
	info.Sessions++
	info.Rounds++
	info.ICMPSeen = true
	info.Verdict = outVerdict(b, info)
	if info.Verdict == VerdictBlackhole {
		return false
	}
	icmp := "ICMP fragmentation needed"
	if v6 {
		icmp = "ICMPv6 packet too big"
	}
	r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: "icmp-rate-limited", Message: fmt.Sprintf(
		"%s: %s arrived only for a probe that waited %s and was retransmitted (%d retransmits): a router on the path rate-limits the ICMP it sends, so PMTUD works but a connection's first full-size segments may wait for a retransmission",
		who(t, r.Address), icmp, fmtDur(pr.Wait), pr.Retransmits)})
	return true
}
