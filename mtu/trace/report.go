package trace

// What a sweep says, for a probe result: its JSON model (the "hops",
// "path_end" and "blackhole_link" of a result), its one-line stop, and
// the findings that name the hop where SYNs stop and what to look at.

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// HopReport is one TTL of a path sweep, as JSON carries it in a
// result's "hops".
type HopReport struct {
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

// Summarize is a sweep as JSON carries it: its hops, and where its SYNs
// stopped. cmp is the sweep of a compare port after path's SYNs went
// unanswered, or nil.
func Summarize(path, cmp *Path) ([]HopReport, *PathEnd) {
	v6 := is6(path.Target.Addr())
	hops := make([]HopReport, 0, len(path.Hops))
	for _, h := range path.Hops {
		hop := HopReport{TTL: h.TTL, Answer: h.Kind.String(), Probes: h.Sent, Unanswered: h.Unanswered}
		if h.Addr.IsValid() {
			hop.Address = h.Addr.String()
			hop.RTTMS = units.MS(h.RTT)
		}
		if h.Kind == TimeExceeded || h.Kind == Unreachable {
			hop.ICMP = Class(v6, h.Type, h.Code)
			hop.Type, hop.Code = ptr(h.Type), ptr(h.Code)
		}
		hops = append(hops, hop)
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
	if s.Kind == Unreachable {
		e.ICMP = Class(v6, s.Type, s.Code)
		e.Type, e.Code = ptr(s.Type), ptr(s.Code)
	}
	if cmp != nil && s.Kind == Silent {
		e.ComparePort = cmp.Target.Port()
		e.CompareAnswer = cmp.Stop.Kind.String()
		e.CompareTTL = cmp.Stop.TTL
		e.CompareProbes = cmp.Probes
		e.ElapsedMS = units.MS(path.Elapsed + cmp.Elapsed)
	}
	return hops, e
}

func ptr[T any](v T) *T { return &v }

// hopOf is the first TTL at which a answered (a router that rejects
// forwarded SYNs answers the TTL that ends at it with time exceeded, and
// every later one with its rejection).
func hopOf(path *Path, a netip.Addr) int {
	for _, h := range path.Hops {
		if h.Addr == a {
			return h.TTL
		}
	}
	return path.Stop.TTL
}

// HopName is "hop 2 (198.18.2.2)".
func HopName(ttl int, a netip.Addr) string {
	if !a.IsValid() {
		return fmt.Sprintf("hop %d", ttl)
	}
	return fmt.Sprintf("hop %d (%s)", ttl, a)
}

// StopText says in one line where and how the SYNs stopped.
func StopText(path *Path) string {
	s := path.Stop
	v6 := is6(path.Target.Addr())
	switch s.Kind {
	case SynAck:
		return fmt.Sprintf("SYN-ACK from %s at hop %d", s.From, s.TTL)
	case Reset:
		return fmt.Sprintf("RST from %s at hop %d", s.From, s.TTL)
	case Unreachable:
		return fmt.Sprintf("ICMP %s (type %d code %d) from %s", ClassWords(Class(v6, s.Type, s.Code)), s.Type, s.Code, HopName(hopOf(path, s.From), s.From))
	case LocalError:
		return "the SYN could not leave this host: no route to it here"
	}
	if s.LastTTL == 0 {
		return fmt.Sprintf("no answer from any hop to SYNs to port %d", path.Target.Port())
	}
	return fmt.Sprintf("SYNs to port %d dropped after %s: no answer from hop %d on", path.Target.Port(), HopName(s.LastTTL, s.LastAddr), s.LastTTL+1)
}

// nearHops is how far from us a drop still counts as "near": this host's
// own firewall or its first router, where a provider's outbound port-25
// policy usually sits.
const nearHops = 1

// Findings explains a sweep: where SYNs are dropped, or who rejects
// them with which ICMP error, and what to look at. cmp is the sweep of a
// compare port, or nil; who names the target in the messages.
func Findings(path, cmp *Path, who string) []dnscheck.Finding {
	s := path.Stop
	port := path.Target.Port()
	dst := path.Target.Addr()
	v6 := is6(dst)
	switch s.Kind {
	case Unreachable:
		class := Class(v6, s.Type, s.Code)
		hop := hopOf(path, s.From)
		where := "at " + HopName(hop, s.From)
		atDst := s.From == dst
		if atDst {
			where = fmt.Sprintf("by the destination itself, %s", HopName(hop, s.From))
		}
		msg := fmt.Sprintf("%s: SYNs to port %d are answered %s with ICMP %s (type %d code %d)", who, port, where, ClassWords(class), s.Type, s.Code)
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
		return []dnscheck.Finding{{Severity: dnscheck.SeverityWarning, Code: code, Message: msg}}
	case Silent:
		var fs []dnscheck.Finding
		dist := 0
		if cmp != nil && (cmp.Stop.Kind == SynAck || cmp.Stop.Kind == Reset) && cmp.Stop.From == dst {
			dist = cmp.Stop.TTL
		}
		last := s.LastTTL
		msg := fmt.Sprintf("%s: SYNs to port %d get no answer after %s", who, port, HopName(last, s.LastAddr))
		if last == 0 {
			msg = fmt.Sprintf("%s: SYNs to port %d get no answer from any hop, not even the first router", who, port)
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
		fs = append(fs, dnscheck.Finding{Severity: dnscheck.SeverityWarning, Code: dnscheck.CodeSYNDroppedAfterHop, Message: msg})
		if dist > 0 {
			where := fmt.Sprintf("at %s", HopName(at, addrAt(cmp, at)))
			if at >= dist {
				where = fmt.Sprintf("at the destination, %s", HopName(dist, dst))
			}
			fs = append(fs, dnscheck.Finding{Severity: dnscheck.SeverityWarning, Code: dnscheck.CodePort25FilteredAtHop, Message: fmt.Sprintf(
				"%s: port %d is filtered %s, while port %d passes on the same path: a filter drops port %d, the path itself works",
				who, port, where, cmp.Target.Port(), port)})
		}
		return fs
	case LocalError:
		return []dnscheck.Finding{{Severity: dnscheck.SeverityWarning, Code: dnscheck.CodeNoLocalRoute, Message: fmt.Sprintf("%s: SYNs to port %d cannot leave this host (no route or a local reject rule): check the local firewall and routes", who, port)}}
	}
	return nil
}

// addrAt is the address of hop ttl in a sweep, if it answered.
func addrAt(p *Path, ttl int) netip.Addr {
	if h, ok := p.Hop(ttl); ok {
		return h.Addr
	}
	return netip.Addr{}
}

// RateLimitFinding explains a sweep whose stop came from the connect's own
// ICMP error because the sweep's SYNs met silence there; who names the
// target in the message.
func RateLimitFinding(path *Path, who string) dnscheck.Finding {
	s := path.Stop
	return dnscheck.Finding{Severity: dnscheck.SeverityInfo, Code: dnscheck.CodeICMPRateLimited, Message: fmt.Sprintf(
		"%s: the follow-up sweep's SYNs got no answer at hop %d, where the connect had just received ICMP %s from %s: "+
			"that sender rate-limits its ICMP errors (Linux: about one per second per destination after a burst of six), "+
			"so the silence is its rate limit, not a drop; the connect's answer stands",
		who, s.TTL, ClassWords(Class(is6(path.Target.Addr()), s.Type, s.Code)), s.From)}
}

// SlowestRTT is the slowest RTT among the hops of p that answered; 0
// when none did.
func (p *Path) SlowestRTT() time.Duration {
	var d time.Duration
	for _, h := range p.Hops {
		d = max(d, h.RTT)
	}
	return d
}

// ClassWords names an ICMP unreachable class (Class) in words:
// "host unreachable", "administratively prohibited".
func ClassWords(class string) string {
	switch class {
	case "admin-prohibited":
		return "administratively prohibited"
	case "host-unreachable":
		return "host unreachable"
	case "net-unreachable":
		return "network unreachable"
	case "port-unreachable":
		return "port unreachable"
	}
	return class
}
