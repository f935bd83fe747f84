package probe

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// Hop is one TTL of a path sweep, as JSON carries it in a result's
// "hops".
type Hop struct {
	TTL     int     `json:"ttl"`
	Address string  `json:"address,omitempty"` // absent when the hop stayed silent
	Answer  string  `json:"answer"`            // time-exceeded, unreachable, syn-ack, rst, silent, local-error
	ICMP    string  `json:"icmp,omitempty"`    // the ICMP error's class: time-exceeded, admin-prohibited, host-unreachable...
	Type    *uint8  `json:"icmp_type,omitempty"`
	Code    *uint8  `json:"icmp_code,omitempty"`
	RTTMS   float64 `json:"rtt_ms,omitempty"`
	Probes  int     `json:"probes"`
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
	LastAddress string  `json:"last_address,omitempty"`
	Probes      int     `json:"probes"`
	ElapsedMS   float64 `json:"elapsed_ms"`
	// ComparePort is a second port of the same host swept beside the
	// probed one when its SYNs went unanswered; CompareAnswer and
	// CompareTTL are how and at which hop that port answered.
	ComparePort   uint16 `json:"compare_port,omitempty"`
	CompareAnswer string `json:"compare_answer,omitempty"`
	CompareTTL    int    `json:"compare_ttl,omitempty"`
}

// PathOptions tune a path sweep.
type PathOptions struct {
	trace.Options
	// ComparePort is swept beside the probed port when that one's SYNs go
	// unanswered, to tell a port filter from a dead path; 0 means 587
	// (or 25 when the probed port is 587).
	ComparePort uint16
	// Budget bounds the whole sweep; 0 means no bound beyond ctx.
	Budget time.Duration
}

// LocateBudget bounds the sweep that a connect-timeout or an unreachable
// adds to mx, session, timeout and check (issue 13: about 2 s more).
const LocateBudget = 2 * time.Second

// tracer is the sweep's probe; tests replace it.
var tracer trace.ProbeFunc = trace.TCPProbe

// sweepPath sweeps t's port and, when its SYNs go unanswered, a compare
// port of the same host at the same time.
func (p *Prober) sweepPath(ctx context.Context, t Target, opt PathOptions) (*trace.Path, *trace.Path) {
	if opt.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.Budget)
		defer cancel()
	}
	cmp := opt.ComparePort
	if cmp == 0 {
		cmp = 587
		if t.Addr.Port() == 587 {
			cmp = 25
		}
	}
	if opt.Now == nil {
		opt.Now = p.Now
	}
	var main, other *trace.Path
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		other = trace.Sweep(ctx, netip.AddrPortFrom(t.Addr.Addr(), cmp), opt.Options, tracer)
	}()
	main = trace.Sweep(ctx, t.Addr, opt.Options, tracer)
	wg.Wait()
	return main, other
}

// Path sweeps t hop by hop on its port (`smtpprobe path`): the result's
// hops, where the SYNs stop, and the findings that say what it means. Its
// outcome is what a connect would have met: ok (SYN-ACK), refused (RST),
// unreachable (ICMP error), connect-timeout (silence).
func (p *Prober) Path(ctx context.Context, t Target, opt PathOptions) Result {
	r := newResult(t)
	start := p.now()
	path, cmp := p.sweepPath(ctx, t, opt)
	r.timePhase("path", p.now().Sub(start))
	r.setPath(path, cmp)
	switch path.Stop.Kind {
	case trace.SynAck:
	case trace.Reset:
		r.setFailure(Refused, fmt.Sprintf("RST from %s at hop %d: nothing listens on port %d", path.Stop.From, path.Stop.TTL, t.Addr.Port()))
	case trace.Unreachable, trace.LocalError:
		r.setFailure(Unreachable, stopText(path))
	default:
		r.setFailure(ConnectTimeout, stopText(path))
	}
	r.Findings = append(r.Findings, pathFindings(t, path, cmp)...)
	return r
}

// locate is the hook of a failed connect (begin): a connect-timeout or an
// unreachable gets a short sweep, its hops, and findings that name the
// hop where the SYNs stop.
func (p *Prober) locate(ctx context.Context, t Target, r *Result, err error) {
	o := Classify(err)
	if o != ConnectTimeout && o != Unreachable || ctx.Err() != nil {
		return
	}
	if de, ok := err.(*DialError); ok {
		if _, policy := de.Err.(*PolicyError); policy {
			return // nothing may be sent there
		}
	}
	opt := PathOptions{Budget: LocateBudget}
	opt.Wait = time.Second
	path, cmp := p.sweepPath(ctx, t, opt)
	r.setPath(path, cmp)
	r.Findings = append(r.Findings, pathFindings(t, path, cmp)...)
}

func (r *Result) setPath(path, cmp *trace.Path) {
	v6 := is6(path.Target.Addr())
	r.Hops = make([]Hop, 0, len(path.Hops))
	for _, h := range path.Hops {
		hop := Hop{TTL: h.TTL, Answer: h.Kind.String(), Probes: h.Sent}
		if h.Addr.IsValid() {
			hop.Address = h.Addr.String()
			hop.RTTMS = ms(h.RTT)
		}
		if h.Kind == trace.TimeExceeded || h.Kind == trace.Unreachable {
			hop.ICMP = trace.Class(v6, h.Type, h.Code)
			hop.Type, hop.Code = ptr(h.Type), ptr(h.Code)
		}
		r.Hops = append(r.Hops, hop)
	}
	s := path.Stop
	e := &PathEnd{Answer: s.Kind.String(), TTL: s.TTL, LastTTL: s.LastTTL, Probes: path.Probes, ElapsedMS: ms(path.Elapsed)}
	if s.From.IsValid() {
		e.Address = s.From.String()
		e.HopTTL = hopOf(path, s.From)
	}
	if s.LastAddr.IsValid() {
		e.LastAddress = s.LastAddr.String()
	}
	if s.Kind == trace.Unreachable {
		e.ICMP = trace.Class(v6, s.Type, s.Code)
		e.Type, e.Code = ptr(s.Type), ptr(s.Code)
	}
	if cmp != nil && s.Kind == trace.Silent {
		e.ComparePort = cmp.Target.Port()
		e.CompareAnswer = cmp.Stop.Kind.String()
		e.CompareTTL = cmp.Stop.TTL
	}
	r.PathEnd = e
}

func is6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }

// hopOf is the first TTL at which a answered (a router that rejects
// forwarded SYNs answers the TTL that ends at it with time exceeded, and
// every later one with its rejection).
func hopOf(path *trace.Path, a netip.Addr) int {
	for _, h := range path.Hops {
		if h.Addr == a {
			return h.TTL
		}
	}
	return path.Stop.TTL
}

// hopName is "hop 2 (198.18.2.2)".
func hopName(ttl int, a netip.Addr) string {
	if !a.IsValid() {
		return fmt.Sprintf("hop %d", ttl)
	}
	return fmt.Sprintf("hop %d (%s)", ttl, a)
}

// stopText says in one line where and how the SYNs stopped.
func stopText(path *trace.Path) string {
	s := path.Stop
	v6 := is6(path.Target.Addr())
	switch s.Kind {
	case trace.SynAck:
		return fmt.Sprintf("SYN-ACK from %s at hop %d", s.From, s.TTL)
	case trace.Reset:
		return fmt.Sprintf("RST from %s at hop %d", s.From, s.TTL)
	case trace.Unreachable:
		return fmt.Sprintf("ICMP %s (type %d code %d) from %s", icmpWords(trace.Class(v6, s.Type, s.Code)), s.Type, s.Code, hopName(hopOf(path, s.From), s.From))
	case trace.LocalError:
		return "the SYN could not leave this host: no route to it here"
	}
	if s.LastTTL == 0 {
		return fmt.Sprintf("no answer from any hop to SYNs to port %d", path.Target.Port())
	}
	return fmt.Sprintf("SYNs to port %d dropped after %s: no answer from hop %d on", path.Target.Port(), hopName(s.LastTTL, s.LastAddr), s.LastTTL+1)
}

func icmpWords(class string) string {
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

// nearHops is how far from us a drop still counts as "near": this host's
// own firewall or its first router, where a provider's outbound port-25
// policy usually sits.
const nearHops = 1

// pathFindings explains a sweep: where SYNs are dropped, or who rejects
// them with which ICMP error, and what to look at.
func pathFindings(t Target, path, cmp *trace.Path) []Finding {
	s := path.Stop
	port := t.Addr.Port()
	dst := t.Addr.Addr()
	v6 := is6(dst)
	switch s.Kind {
	case trace.Unreachable:
		class := trace.Class(v6, s.Type, s.Code)
		hop := hopOf(path, s.From)
		where := "at " + hopName(hop, s.From)
		atDst := s.From == dst
		if atDst {
			where = fmt.Sprintf("by the destination itself, %s", hopName(hop, s.From))
		}
		msg := fmt.Sprintf("%s: SYNs to port %d are answered %s with ICMP %s (type %d code %d)", who(t, dst.String()), port, where, icmpWords(class), s.Type, s.Code)
		var code string
		switch class {
		case "admin-prohibited":
			code = "icmp-admin-prohibited"
			msg += fmt.Sprintf(": a firewall rejects them; look for a reject rule for port %d at %s", port, s.From)
		case "host-unreachable":
			code = "icmp-host-unreachable"
			if atDst {
				msg += ": the host itself refuses them with a reject rule"
			} else {
				msg += fmt.Sprintf(": %s cannot reach the host (down, or no neighbour answers for it), or a reject rule there says so", s.From)
			}
		case "net-unreachable":
			code = "icmp-net-unreachable"
			msg += fmt.Sprintf(": %s has no route to %s, or a reject rule there says so", s.From, dst)
		default:
			code = "icmp-" + class
		}
		if hop <= nearHops && !atDst {
			msg += "; this is near us: check the local firewall or the provider's outbound port-25 policy"
		}
		return []Finding{{SevCritical, code, msg}}
	case trace.Silent:
		var fs []Finding
		dist := 0
		if cmp != nil && (cmp.Stop.Kind == trace.SynAck || cmp.Stop.Kind == trace.Reset) && cmp.Stop.From == dst {
			dist = cmp.Stop.TTL
		}
		last := s.LastTTL
		msg := fmt.Sprintf("%s: SYNs to port %d get no answer after %s", who(t, dst.String()), port, hopName(last, s.LastAddr))
		if last == 0 {
			msg = fmt.Sprintf("%s: SYNs to port %d get no answer from any hop, not even the first router", who(t, dst.String()), port)
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
		fs = append(fs, Finding{SevCritical, "syn-dropped-after-hop", msg})
		if dist > 0 {
			where := fmt.Sprintf("at %s", hopName(at, addrAt(cmp, at)))
			if at >= dist {
				where = fmt.Sprintf("at the destination, %s", hopName(dist, dst))
			}
			fs = append(fs, Finding{SevCritical, "port25-filtered-at-hop", fmt.Sprintf(
				"%s: port %d is filtered %s, while port %d passes on the same path: a filter drops port %d, the path itself works",
				who(t, dst.String()), port, where, cmp.Target.Port(), port)})
		}
		return fs
	case trace.LocalError:
		return []Finding{{SevCritical, "no-local-route", fmt.Sprintf("%s: SYNs to port %d cannot leave this host (no route or a local reject rule): check the local firewall and routes", who(t, dst.String()), port)}}
	}
	return nil
}

// addrAt is the address of hop ttl in a sweep, if it answered.
func addrAt(p *trace.Path, ttl int) netip.Addr {
	if h, ok := p.Hop(ttl); ok {
		return h.Addr
	}
	return netip.Addr{}
}

// icmpDialText is a connect failed by an ICMP error, in words that name
// the error and the hop that sent it, not the errno it maps to.
func icmpDialText(r *trace.Reply) string {
	v6 := is6(r.From)
	return fmt.Sprintf("connect: ICMP %s (type %d code %d) from %s", icmpWords(trace.Class(v6, r.Type, r.Code)), r.Type, r.Code, r.From)
}
