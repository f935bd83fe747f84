package render

import (
	"io"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// policyText writes the domain's transport policies (mx, issue 12): the
// MTA-STS policy, TLS-RPT and whether the MX records are DNSSEC-validated.
func policyText(w io.Writer, p *probe.PolicyReport) {
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

// daneText writes a result's TLSA records and what became of them.
func daneText(w io.Writer, indent string, d *probe.DANEReport) {
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
