package mtu

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// DFAnswer is what one DF datagram drew (SendDF).
type DFAnswer string

// DF datagram answers.
const (
	// DFSilent: nothing came back within the wait.
	DFSilent DFAnswer = "silent"
	// DFArrived: the target answered with ICMP port unreachable (RFC 792
	// type 3 code 3, RFC 4443 type 1 code 4): the datagram crossed the
	// whole path.
	DFArrived DFAnswer = "port-unreachable"
	// DFTooBig: a hop answered with ICMP fragmentation needed (RFC 1191
	// §4) or packet too big (RFC 8201 §4): ICMP from that hop reaches
	// this host.
	DFTooBig DFAnswer = "too-big"
	// DFOther: another ICMP error (administratively prohibited, say).
	DFOther DFAnswer = "other-icmp"
)

// DFReply is the answer to one DF datagram.
type DFReply struct {
	Size   int           `json:"size"`          // IP packet size sent
	Answer DFAnswer      `json:"answer"`        // silent, port-unreachable, too-big, other-icmp
	From   netip.Addr    `json:"from,omitzero"` // the ICMP's sender; zero when silent
	MTU    int           `json:"mtu,omitempty"`
	Type   int           `json:"-"` // ICMP type and code of DFOther
	Code   int           `json:"-"`
	After  time.Duration `json:"-"`
	// Raw: sent and answered through raw sockets, so the kernel cached
	// nothing from the answer (SendDF).
	Raw bool `json:"-"`
}

// DFVerdict is the conclusion of CheckDF.
type DFVerdict string

// CheckDF verdicts.
const (
	// DFUnknown: nothing can be concluded (the target does not answer
	// datagrams to a closed port, or its ICMP is rate-limited).
	DFUnknown DFVerdict = "unknown"
	// DFICMPWorks: a hop's packet-too-big came back.
	DFICMPWorks DFVerdict = "icmp-reaches-us"
	// DFNoBottleneck: the largest size crossed the path.
	DFNoBottleneck DFVerdict = "no-bottleneck"
	// DFBlackhole: larger datagrams vanished twice, each time beside a
	// smaller one that drew the target's port unreachable.
	DFBlackhole DFVerdict = "blackhole"
)

// DFCheck is CheckDF's evidence and conclusion.
type DFCheck struct {
	Verdict DFVerdict `json:"verdict"`
	// Hop and MTU are the packet-too-big's sender and next-hop MTU.
	Hop netip.Addr `json:"hop,omitzero"`
	MTU int        `json:"mtu,omitempty"`
	// LargestArrived is the largest size the target answered; 0 none.
	LargestArrived int `json:"largest_arrived,omitempty"`
	// SmallestSilent is the smallest size that vanished beside an answered
	// smaller one (a black hole's edge); 0 none.
	SmallestSilent int       `json:"smallest_silent,omitempty"`
	Replies        []DFReply `json:"datagrams"`
}

// DFPort is the closed UDP port CheckDF aims at (traceroute's first).
const DFPort = 33434

// CheckDF tests whether ICMP about packet size reaches this host on the
// path to dst, with DF datagrams rather than TCP, as tracepath does: each
// datagram of IP size hi goes out beside a control of size ctl (a size
// known to cross) to a closed UDP port of dst. A packet-too-big from a hop
// proves that ICMP reaches us; the target's port unreachable for hi means
// no bottleneck up to hi; silence for hi twice, while the control drew the
// port unreachable both times, is a black hole above ctl, and ctl+1 is then
// tried to make the bracket exact. The datagrams ignore the kernel's cached
// path MTU (IP_PMTUDISC_PROBE), so a cache cannot hide the bottleneck; a
// packet-too-big they draw does update that cache, as any would.
//
// Few datagrams are sent (at most six), because the target's kernel limits
// its ICMP errors (Linux: a burst of about six, then one a second per
// source): a silent control makes the answer DFUnknown rather than a
// black hole.
func CheckDF(ctx context.Context, dst netip.Addr, ctl, hi int, wait time.Duration) (DFCheck, error) {
	var c DFCheck
	pair := func(size int) (big, small DFReply, err error) {
		var (
			wg         sync.WaitGroup
			errB, errS error
		)
		wg.Add(1)
		go func() {
			defer wg.Done()
			big, errB = SendDF(ctx, dst, DFPort, size, wait)
		}()
		time.Sleep(time.Millisecond) // the large one first, on its own socket
		small, errS = SendDF(ctx, dst, DFPort+1, ctl, wait)
		wg.Wait()
		c.Replies = append(c.Replies, big, small)
		if errB != nil {
			return big, small, errB
		}
		return big, small, errS
	}
	decide := func(big DFReply) bool {
		switch big.Answer {
		case DFTooBig:
			c.Verdict, c.Hop, c.MTU = DFICMPWorks, big.From, big.MTU
			return true
		case DFArrived:
			c.Verdict, c.LargestArrived = DFNoBottleneck, big.Size
			return true
		case DFOther:
			c.Verdict = DFUnknown
			return true
		}
		return false
	}
	c.Verdict = DFUnknown
	if ctl >= hi {
		return c, nil
	}
	for range 2 {
		big, small, err := pair(hi)
		if err != nil {
			return c, err
		}
		if decide(big) {
			return c, nil
		}
		if small.Answer != DFArrived {
			c.Verdict = DFUnknown
			return c, nil
		}
		c.LargestArrived = ctl
	}
	c.Verdict, c.SmallestSilent = DFBlackhole, hi
	if ctl+1 < hi {
		r, err := SendDF(ctx, dst, DFPort+2, ctl+1, wait)
		if err != nil {
			return c, err
		}
		c.Replies = append(c.Replies, r)
		switch r.Answer {
		case DFSilent:
			c.SmallestSilent = ctl + 1
		case DFArrived:
			c.LargestArrived = ctl + 1
		case DFTooBig:
			// The bottleneck does answer for this size: ICMP reaches us
			// from that hop after all.
			c.Verdict, c.Hop, c.MTU, c.SmallestSilent, c.LargestArrived = DFICMPWorks, r.From, r.MTU, 0, ctl
		}
	}
	return c, nil
}
