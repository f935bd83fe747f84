package render

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// HopTable writes a result's path sweep (its hops, then where the SYNs
// stopped) as a table, each line starting with indent:
//
//	hop  address       answer          rtt      probes
//	  1  198.18.1.1    time-exceeded   0.5 ms   1
//	  2  198.18.2.2    time-exceeded   0.1 ms   1
//	  3  *             silent                   3
//	SYNs stop: silent after hop 2 (198.18.2.2); 18 SYNs in 655 ms
//
// A result without hops writes nothing.
func HopTable(w io.Writer, indent string, r probe.Result) {
	if len(r.Hops) == 0 {
		return
	}
	addrW := len("address")
	for _, h := range r.Hops {
		addrW = max(addrW, len(SafeText(h.Address)))
	}
	fmt.Fprintf(w, "%s%3s  %-*s  %-22s  %9s  %s\n", indent, "hop", addrW, "address", "answer", "rtt", "probes")
	for _, h := range r.Hops {
		addr, rtt := SafeText(h.Address), ""
		if addr == "" {
			addr = "*"
		} else {
			rtt = units.Duration(time.Duration(h.RTTMS * float64(time.Millisecond)))
		}
		ans := h.Answer
		if h.Type != nil && h.ICMP != "time-exceeded" {
			ans = fmt.Sprintf("%s %d/%d", h.ICMP, *h.Type, *h.Code)
		}
		note := ""
		switch {
		case h.Answer == "rate-limited":
			ans, note = "silent", "  no answer (ICMP rate limit likely)"
		case h.Unanswered > 0:
			note = fmt.Sprintf("  %d× no answer (ICMP rate limit likely), then this answer", h.Unanswered)
		}
		fmt.Fprintf(w, "%s%3d  %-*s  %-22s  %9s  %d%s\n", indent, h.TTL, addrW, addr, ans, rtt, h.Probes, note)
	}
	if e := r.PathEnd; e != nil {
		fmt.Fprintf(w, "%sSYNs stop: %s; %s in %s\n", indent, stopWords(e),
			units.Count(e.Probes+e.CompareProbes, "SYN"), units.Duration(time.Duration(e.ElapsedMS*float64(time.Millisecond))))
	}
}

func stopWords(e *trace.PathEnd) string {
	hop := func(ttl int, a string) string {
		if a == "" {
			return fmt.Sprintf("hop %d", ttl)
		}
		return fmt.Sprintf("hop %d (%s)", ttl, SafeText(a))
	}
	switch e.Answer {
	case "syn-ack":
		return "SYN-ACK from the target at " + hop(e.TTL, e.Address)
	case "rst":
		return "RST from the target at " + hop(e.TTL, e.Address)
	case "unreachable":
		s := fmt.Sprintf("ICMP %s (%d/%d) from %s", e.ICMP, deref(e.Type), deref(e.Code), hop(e.HopTTL, e.Address))
		if e.RateLimited {
			s += fmt.Sprintf(", as the connect received it; the sweep's SYNs at hop %d got no answer (ICMP rate limit likely)", e.TTL)
		}
		return s
	case "local-error":
		return "the SYNs could not leave this host"
	}
	var b strings.Builder
	if e.LastTTL == 0 {
		b.WriteString("silent from hop 1 on")
	} else {
		fmt.Fprintf(&b, "silent after %s", hop(e.LastTTL, e.LastAddress))
	}
	if e.ComparePort != 0 {
		switch e.CompareAnswer {
		case "syn-ack", "rst":
			fmt.Fprintf(&b, "; port %d answers (%s) at hop %d", e.ComparePort, e.CompareAnswer, e.CompareTTL)
		default:
			fmt.Fprintf(&b, "; port %d: %s", e.ComparePort, e.CompareAnswer)
		}
	}
	return b.String()
}

func deref(p *uint8) uint8 {
	if p == nil {
		return 0
	}
	return *p
}
