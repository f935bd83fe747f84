package probe

import (
	"fmt"

	"time"

	"github.com/smtpprobe/smtpprobe/probe/units"
)

// Compare reports how cur regressed from base, a saved run of the same
// command and target: the pre- and post-change check of a firewall rule.
// A regression is critical: an address that was good and is not, a path
// that became a PMTU black hole or whose path MTU dropped, in either
// direction (MTUInfo.Reverse is server to client), a server idle
// timeout that shrank beyond measurement noise (max(100 ms, 1 %)), a
// domain that stopped resolving. Addresses that appeared or vanished are
// warnings.
func Compare(base, cur *Report) []Finding {
	var fs []Finding
	add := func(sev Severity, code, format string, args ...any) {
		fs = append(fs, Finding{Severity: sev, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if base.Outcome == OK && (cur.Outcome == DNSError || cur.Outcome == NullMX) {
		add(SevCritical, "regression-dns", "%s %s: was resolving, now %s", cur.Command, cur.Target, cur.Outcome)
	}
	now := map[string]*Result{}
	for i := range cur.Results {
		now[cur.Results[i].key()] = &cur.Results[i]
	}
	seen := map[string]bool{}
	for i := range base.Results {
		b := &base.Results[i]
		k := b.key()
		seen[k] = true
		c, ok := now[k]
		if !ok {
			if cur.Outcome != DNSError && cur.Outcome != NullMX {
				add(SevWarning, "baseline-missing", "%s is no longer among the results", b.label())
			}
			continue
		}
		if b.Good() && !c.Good() {
			add(SevCritical, "regression-outcome", "%s: was %s, now %s (%s)", c.label(), b.Outcome, c.Outcome, c.Error)
		}
		if bm, cm := b.MTUInfo, c.MTUInfo; bm != nil && cm != nil {
			if bm.Verdict != VerdictBlackhole && cm.Verdict == VerdictBlackhole {
				add(SevCritical, "regression-pmtu-blackhole", "%s: the path was %s, now it is a PMTU black hole above %s bytes", c.label(), bm.Verdict, intOr(cm.PathMTU, "?"))
			}
			if bm.PathMTU != nil && cm.PathMTU != nil && *cm.PathMTU < *bm.PathMTU {
				add(SevCritical, "regression-path-mtu", "%s: path MTU dropped from %d to %d", c.label(), *bm.PathMTU, *cm.PathMTU)
			}
			if br, cr := bm.Reverse, cm.Reverse; br != nil && cr != nil {
				if br.Verdict != VerdictBlackhole && cr.Verdict == VerdictBlackhole {
					add(SevCritical, "regression-reverse-pmtu-blackhole", "%s: server to client, the path was %s, now it is a PMTU black hole above %s bytes", c.label(), br.Verdict, intOr(cr.PathMTU, "?"))
				}
				if br.PathMTU != nil && cr.PathMTU != nil && *cr.PathMTU < *br.PathMTU {
					add(SevCritical, "regression-reverse-path-mtu", "%s: server to client, path MTU dropped from %d to %d", c.label(), *br.PathMTU, *cr.PathMTU)
				}
			}
		}
		if b.Timeout != nil && c.Timeout != nil {
			noise := max(100*time.Millisecond, *b.Timeout/100)
			if *b.Timeout-*c.Timeout > noise {
				add(SevCritical, "regression-server-timeout", "%s: server idle timeout shrank from %s to %s",
					c.label(), units.Duration(*b.Timeout), units.Duration(*c.Timeout))
			}
		}
		if b.TLS != nil && b.TLS.Verified && (c.TLS == nil || !c.TLS.Verified) && c.Good() {
			add(SevWarning, "regression-tls", "%s: the certificate verified before and does not now", c.label())
		}
	}
	fs = append(fs, comparePolicy(base, cur)...) // policy.go
	for _, c := range cur.Results {
		if !seen[c.key()] {
			add(SevInfo, "baseline-new", "%s is new since the baseline", c.label())
		}
	}
	return fs
}

// key identifies a result across runs.
func (r *Result) key() string {
	return r.Target + "|" + r.Module + "|" + r.Host + "|" + r.Address + "|" + r.Phase
}

// label names a result in a message.
func (r *Result) label() string {
	s := r.Address
	if r.Host != "" && r.Host != r.Address {
		s = fmt.Sprintf("%s [%s]", r.Host, r.Address)
	}
	if r.Target != "" {
		s = r.Target + " " + s
	}
	if r.Module != "" {
		s = "[" + r.Module + "] " + s
	}
	if r.Phase != "" {
		s += " at " + r.Phase
	}
	return s
}

func intOr(p *int, dflt string) string {
	if p == nil {
		return dflt
	}
	return fmt.Sprint(*p)
}
