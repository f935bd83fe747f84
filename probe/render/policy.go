package render

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// policyText writes the domain's transport policies (mx, issue 12): the
// MTA-STS policy, TLS-RPT and whether the MX records are DNSSEC-validated.
func policyText(w io.Writer, p *policy.Report) {
	if p == nil {
		return
	}
	printf(w, "\nPolicy\n")
	m := p.MTASTS
	switch {
	case m.Mode != "":
		age := ""
		if m.MaxAge != nil {
			age = ", max_age " + units.Setting(time.Duration(*m.MaxAge)*time.Second)
		}
		mx := ""
		if len(m.MX) > 0 {
			mx = ", mx " + strings.Join(m.MX, " ")
		}
		printf(w, "  mta-sts: %s (id %s%s%s)\n", m.Mode, m.ID, age, mx)
	case m.FetchError != "":
		printf(w, "  mta-sts: TXT id %s, no policy: %s\n", m.ID, m.FetchError)
	case m.RecordError != "":
		printf(w, "  mta-sts: %s\n", m.RecordError)
	default:
		printf(w, "  mta-sts: none\n")
	}
	switch {
	case len(p.TLSRPT.RUA) > 0:
		printf(w, "  tls-rpt: %s\n", strings.Join(p.TLSRPT.RUA, " "))
	case p.TLSRPT.Error != "":
		printf(w, "  tls-rpt: %s\n", p.TLSRPT.Error)
	default:
		printf(w, "  tls-rpt: none\n")
	}
	if p.MXSecure {
		printf(w, "  dnssec:  MX records validated\n")
	} else {
		printf(w, "  dnssec:  MX records not validated\n")
	}
}

// emptyPolicy tells whether the policy block of the compact text would
// say nothing: no policy looked up; nothing published (no MTA-STS, no
// TLS-RPT, MX records not DNSSEC-validated: the default of most
// domains, which -v still shows); or only lookups that failed because
// the MX lookup itself failed (the resolver is down: its error is the
// report's finding, once).
func emptyPolicy(rep *probe.Report) bool {
	p := rep.Policy
	if p == nil {
		return true
	}
	m := p.MTASTS
	if dnsFailed(rep) && m.Mode == "" && m.FetchError == "" && len(p.TLSRPT.RUA) == 0 && !p.MXSecure {
		return true
	}
	return m.Mode == "" && m.FetchError == "" && m.RecordError == "" && len(m.TXT) == 0 &&
		len(p.TLSRPT.RUA) == 0 && p.TLSRPT.Error == "" && !p.MXSecure
}

// daneText writes a result's TLSA records and what became of them.
func daneText(w io.Writer, indent string, d *policy.DANEReport) {
	if d == nil {
		return
	}
	recs := units.Count(len(d.Records), "TLSA record")
	switch {
	case d.LookupError != "":
		printf(w, "%sdane:   %s lookup failed: %s\n", indent, d.Name, d.LookupError)
	case !d.Enforced:
		printf(w, "%sdane:   %s, not used: %s\n", indent, recs, d.NotEnforced)
	case d.MatchedRecord != "":
		printf(w, "%sdane:   %s, matched %s\n", indent, recs, d.MatchedRecord)
	case d.MatchError != "":
		printf(w, "%sdane:   %s, no match: %s\n", indent, recs, d.MatchError)
	default:
		printf(w, "%sdane:   %s, not checked (no TLS session)\n", indent, recs)
	}
}

// policyBrief is a run's transport policy in one line, for check's table
// and its Nagios output (issue 12), as mx's text gives it in full: the
// MTA-STS mode (RFC 8461 §3.2) and how many of the addresses whose TLSA
// records senders use (RFC 7672 §2.2) matched them. It is "" for a run
// that made no policy lookups (another module, or --no-policy).
func policyBrief(rep *probe.Report) string {
	if rep == nil {
		return ""
	}
	var parts []string
	if p := rep.Policy; p != nil {
		switch m := p.MTASTS; {
		case m.Mode != "":
			parts = append(parts, "mta-sts "+m.Mode)
		case m.FetchError != "":
			parts = append(parts, "mta-sts policy unavailable")
		case m.RecordError != "":
			parts = append(parts, "mta-sts record unusable")
		default:
			parts = append(parts, "no mta-sts")
		}
	}
	enforced, matched, unused := 0, 0, 0
	for _, r := range rep.Results {
		switch d := r.DANE; {
		case d == nil:
		case d.Enforced:
			enforced++
			if d.Matched != nil {
				matched++
			}
		default:
			unused++
		}
	}
	switch {
	case enforced > 0:
		parts = append(parts, fmt.Sprintf("dane %d of %s matched", matched, units.Count(enforced, "address", "addresses")))
	case unused > 0:
		parts = append(parts, "dane not used (TLSA records not validated)")
	case rep.Policy != nil:
		parts = append(parts, "no dane")
	}
	return strings.Join(parts, ", ")
}

// runPolicy is policyBrief of the run that c summarises, or "" when the
// run's domain publishes no transport policy at all (no MTA-STS record and
// no TLSA records): check's summary table then stays one row per check.
func runPolicy(runs []Run, c probe.CheckSummary) string {
	for _, r := range runs {
		if r.Err == nil && r.Target == c.Target && r.Module == c.Module {
			if !publishesPolicy(r.Report) || dnsFailed(r.Report) {
				// Nothing published, or lookups that failed because the
				// resolver did: the run's own finding says so.
				return ""
			}
			return policyBrief(r.Report)
		}
	}
	return ""
}

// publishesPolicy tells whether rep found an MTA-STS TXT record or TLSA
// records for any of its exchangers.
func publishesPolicy(rep *probe.Report) bool {
	if rep == nil {
		return false
	}
	if p := rep.Policy; p != nil && (len(p.MTASTS.TXT) > 0 || p.MTASTS.Mode != "" || p.MTASTS.FetchError != "" || p.MTASTS.RecordError != "") {
		return true
	}
	for _, r := range rep.Results {
		if r.DANE != nil && len(r.DANE.Records) > 0 {
			return true
		}
	}
	return false
}
