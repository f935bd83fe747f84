package assess

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// Compare reports how cur regressed from base, a saved run of the same
// command and target: the pre- and post-change check of a firewall rule.
// A regression is critical: an address that was good and is not, a path
// that became a PMTU black hole or whose path MTU dropped, in either
// direction (MTUInfo.Reverse is server to client), a server idle
// timeout that shrank beyond measurement noise (max(100 ms, 1 %)), a
// domain that stopped resolving. Addresses that appeared or vanished are
// warnings, and so is a path MTU verdict that is less tested than the
// baseline's (compareTested): a firewall change that the caches at either
// end hid is not a pass.
func Compare(base, cur *probe.Report) []probe.Finding {
	var fs []probe.Finding
	add := func(sev probe.Severity, code, format string, args ...any) {
		fs = append(fs, probe.Finding{Severity: sev, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if base.Outcome == probe.OK && (cur.Outcome == probe.DNSError || cur.Outcome == probe.NullMX) {
		add(probe.SevCritical, dnscheck.CodeRegressionDNS, "%s %s: was resolving, now %s", cur.Command, cur.Target, cur.Outcome)
	}
	now := map[string]*probe.Result{}
	for i := range cur.Results {
		now[key(&cur.Results[i])] = &cur.Results[i]
	}
	seen := map[string]bool{}
	for i := range base.Results {
		b := &base.Results[i]
		k := key(b)
		seen[k] = true
		c, ok := now[k]
		if !ok {
			if cur.Outcome != probe.DNSError && cur.Outcome != probe.NullMX {
				add(probe.SevWarning, dnscheck.CodeBaselineMissing, "%s is no longer among the results", label(b))
			}
			continue
		}
		if b.Good() && !c.Good() {
			add(probe.SevCritical, dnscheck.CodeRegressionOutcome, "%s: was %s, now %s (%s)", label(c), b.Outcome, c.Outcome, c.Error)
		}
		if bm, cm := b.MTUInfo, c.MTUInfo; bm != nil && cm != nil {
			if bm.Verdict != mtu.VerdictBlackhole && cm.Verdict == mtu.VerdictBlackhole {
				add(probe.SevCritical, dnscheck.CodeRegressionPMTUBlackhole, "%s: the path was %s, now it is a PMTU black hole above %s bytes", label(c), bm.Verdict, intOr(cm.PathMTU, "?"))
			}
			if bm.PathMTU != nil && cm.PathMTU != nil && *cm.PathMTU < *bm.PathMTU {
				add(probe.SevCritical, dnscheck.CodeRegressionPathMTU, "%s: path MTU dropped from %d to %d", label(c), *bm.PathMTU, *cm.PathMTU)
			}
			if br, cr := bm.Reverse, cm.Reverse; br != nil && cr != nil {
				if br.Verdict != mtu.VerdictBlackhole && cr.Verdict == mtu.VerdictBlackhole {
					add(probe.SevCritical, dnscheck.CodeRegressionReversePMTUBlackhole, "%s: server to client, the path was %s, now it is a PMTU black hole above %s bytes", label(c), br.Verdict, intOr(cr.PathMTU, "?"))
				}
				if br.PathMTU != nil && cr.PathMTU != nil && *cr.PathMTU < *br.PathMTU {
					add(probe.SevCritical, dnscheck.CodeRegressionReversePathMTU, "%s: server to client, path MTU dropped from %d to %d", label(c), *br.PathMTU, *cr.PathMTU)
				}
			}
			fs = append(fs, compareTested(c, bm, cm)...)
		}
		if b.Timeout != nil && c.Timeout != nil {
			noise := max(100*time.Millisecond, *b.Timeout/100)
			if *b.Timeout-*c.Timeout > noise {
				add(probe.SevCritical, dnscheck.CodeRegressionServerTimeout, "%s: server idle timeout shrank from %s to %s",
					label(c), units.Duration(*b.Timeout), units.Duration(*c.Timeout))
			}
		}
		if b.TLS != nil && b.TLS.Verified && (c.TLS == nil || !c.TLS.Verified) && c.Good() {
			add(probe.SevWarning, dnscheck.CodeRegressionTLS, "%s: the certificate verified before and does not now", label(c))
		}
	}
	fs = append(fs, comparePolicy(base, cur)...)
	for _, c := range cur.Results {
		if !seen[key(&c)] {
			add(probe.SevInfo, dnscheck.CodeBaselineNew, "%s is new since the baseline", label(&c))
		}
	}
	return fs
}

// key identifies a result across runs.
func key(r *probe.Result) string {
	return r.Target + "|" + r.Module + "|" + r.Host + "|" + r.Address + "|" + r.Phase
}

// label names a result in a message.
func label(r *probe.Result) string {
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

// testedVerdict reports whether v rests on probes of the sizes above the
// bottleneck (or of every size, up to the maximum): what a firewall change
// can be checked against.
func testedVerdict(v probe.Verdict) bool {
	return v == mtu.VerdictPMTUDWorking || v == mtu.VerdictNoBottleneck || v == mtu.VerdictBlackhole
}

// compareTested warns, as regression-unverified, for each direction of an
// mtu result that the current run tested less than the baseline did: a
// tested verdict became mss-clamped, untested or absent, or the range of
// sizes tested shrank. A proven regression (a new black hole, a lower
// path MTU) is reported by Compare itself and is not repeated here. The
// message names what could not be tested and how to test it again: both
// ends cache a path MTU learned from ICMP for about 10 minutes (Linux:
// net.ipv4.route.mtu_expires), ours lowers the MSS our SYNs advertise and
// the server's lowers the MSS of its SYN-ACK, so after the baseline's own
// probes taught the server, TCP alone cannot send above the bottleneck
// until the server forgets.
func compareTested(c *probe.Result, bm, cm *probe.MTUInfo) []probe.Finding {
	var fs []probe.Finding
	one := func(dir string, bv, cv probe.Verdict, bt, ct *[2]int, hint string) {
		if cv == mtu.VerdictBlackhole || !testedVerdict(bv) {
			return
		}
		was := string(bv)
		if bt != nil {
			was += fmt.Sprintf(", sizes %d-%d tested", bt[0], bt[1])
		}
		now := string(cv)
		if cv == "" {
			now = "no verdict"
		}
		if ct != nil {
			now += fmt.Sprintf(", sizes %d-%d tested", ct[0], ct[1])
		} else {
			now += ", no size tested"
		}
		var untested string
		switch {
		case !testedVerdict(cv):
			untested = "whether ICMP about packet size still gets through"
			if ct != nil {
				untested = fmt.Sprintf("sizes above %d bytes, and so whether ICMP about packet size still gets through,", ct[1])
			}
		case bt != nil && ct != nil && ct[1] < bt[1]:
			untested = fmt.Sprintf("sizes %d-%d", ct[1]+1, bt[1])
		default:
			return
		}
		fs = append(fs, probe.Finding{Severity: probe.SevWarning, Code: dnscheck.CodeRegressionUnverified,
			Message: fmt.Sprintf("%s: %s, the baseline was %s, this run %s: %s could not be tested, so this run neither confirms nor refutes a regression; %s", label(c), dir, was, now, untested, hint)})
	}
	one("client to server", bm.Verdict, cm.Verdict, bm.Tested, cm.Tested, retestHint(cm, false))
	if br, cr := bm.Reverse, cm.Reverse; br != nil && cr != nil {
		one("server to client", br.Verdict, cr.Verdict, br.Tested, cr.Tested, retestHint(cm, true))
	}
	return fs
}

// retestHint says what hid the sizes and how to test them again.
func retestHint(m *probe.MTUInfo, reverse bool) string {
	ours := m.CachedPMTU > 0 && !m.CacheCleared
	if reverse && m.Reverse != nil {
		for _, pr := range m.Reverse.Probes {
			if pr.Result == mtu.ProbeCached {
				ours = true
			}
		}
	}
	if !reverse {
		for _, pr := range m.Probes {
			if pr.Result == mtu.ProbeClamped && pr.Limit == mtu.LimitPathMTU {
				ours = true
			}
		}
	}
	if ours {
		return fmt.Sprintf("this host's kernel had a path MTU of %d cached (it forgets it about 10 minutes after it learned it; see the pmtu-cached finding): run the comparison again once it has expired, or after flushing it (as root: ip route flush cache; for IPv6 this tool deletes its own cache entry for the one address)", m.CachedPMTU)
	}
	return "the server's SYN-ACK advertised a small MSS: a router that clamps the MSS, or the server's own cached path MTU towards this host, learned from ICMP (for instance during the baseline's probes) and kept about 10 minutes after it last learned it, which only the server's administrator can flush: run the comparison again after 10 minutes without probing this server, or from a host the server has not talked to"
}

// comparePolicy is Compare for the policies: an MTA-STS policy whose mode
// or mx patterns changed, or that can no longer be fetched, and a DANE
// match that was lost, are regressions.
func comparePolicy(base, cur *probe.Report) []probe.Finding {
	var fs []probe.Finding
	if b, c := base.Policy, cur.Policy; b != nil && c != nil {
		switch {
		case b.MTASTS.Mode != "" && c.MTASTS.Mode == "":
			why := c.MTASTS.FetchError
			if why == "" {
				why = c.MTASTS.RecordError
			}
			if why == "" {
				why = "the TXT record is gone"
			}
			fs = append(fs, probe.Finding{Severity: probe.SevCritical, Code: dnscheck.CodeRegressionMTASTSPolicy, Message: fmt.Sprintf("%s: the MTA-STS policy (%s mode) is no longer available: %s", cur.Target, b.MTASTS.Mode, why)})
		case b.MTASTS.Mode != c.MTASTS.Mode || !slices.Equal(b.MTASTS.MX, c.MTASTS.MX):
			fs = append(fs, probe.Finding{Severity: probe.SevCritical, Code: dnscheck.CodeRegressionMTASTSPolicy, Message: fmt.Sprintf("%s: the MTA-STS policy changed from %s mode (mx %s) to %s mode (mx %s)",
				cur.Target, b.MTASTS.Mode, strings.Join(b.MTASTS.MX, ", "), c.MTASTS.Mode, strings.Join(c.MTASTS.MX, ", "))})
		}
	}
	now := map[string]*probe.Result{}
	for i := range cur.Results {
		now[key(&cur.Results[i])] = &cur.Results[i]
	}
	for i := range base.Results {
		b := &base.Results[i]
		c, ok := now[key(b)]
		if !ok || b.DANE == nil || b.DANE.Matched == nil {
			continue
		}
		if c.DANE == nil || c.DANE.Matched == nil {
			why := "no TLSA record now"
			if c.DANE != nil && c.DANE.MatchError != "" {
				why = c.DANE.MatchError
			} else if c.DANE != nil && c.DANE.NotEnforced != "" {
				why = c.DANE.NotEnforced
			}
			fs = append(fs, probe.Finding{Severity: probe.SevCritical, Code: dnscheck.CodeRegressionDANEMatch, Message: fmt.Sprintf("%s: TLSA record %s matched before, and nothing matches now (%s)", label(c), b.DANE.MatchedRecord, why)})
		}
	}
	return fs
}
