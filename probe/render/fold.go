package render

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// The compact text output (issue 20) tells each cause once: one line per
// failed address and cause, with its evidence, the findings that explain
// it folded into that line, fixes as "fix:" lines under it, and findings
// that read the same at many addresses once, with a count. Only the text
// folds: JSON, Nagios and -v keep every finding.
//
// Folding works from data, never from a message's words: a finding
// belongs to the address whose Result.Findings hold it, and the relation
// table below says how a code relates to that address's outcome. A code
// the table does not know gets a line of its own, and is still counted
// with its twins at other addresses.

// relation is how a finding relates to the cause of its address.
type relation int

const (
	// own: a line of its own (any code the table does not name).
	//lint:ignore U1000 the zero relation, which relations gives every code it does not name
	own relation = iota
	// headline: it states the cause best; its message, less the name of
	// the address, becomes the cause line's text.
	headline
	// evidence: it adds to the cause line, after a semicolon.
	evidence
	// explained: the cause line already says it (its headline covers it,
	// or it is the cause's own measure, such as a connect that "took" the
	// whole connect timeout).
	explained
	// fix: a remedy; it prints as a "fix:" line under its cause.
	fix
)

// rel is a row of the relation table: how a code relates to the outcomes
// in causes (any outcome of a failed address when causes is nil).
type rel struct {
	kind   relation
	causes []probe.Outcome
}

// relations is the relation table: which codes explain which cause.
var relations = map[string]rel{
	// Path sweeps of an unanswered or rejected connect (probe/path.go).
	dnscheck.CodeSYNDroppedAfterHop:  {headline, []probe.Outcome{probe.ConnectTimeout}},
	dnscheck.CodePort25FilteredAtHop: {explained, []probe.Outcome{probe.ConnectTimeout}},
	dnscheck.CodeICMPAdminProhibited: {headline, []probe.Outcome{probe.Unreachable, probe.ConnectTimeout}},
	dnscheck.CodeICMPHostUnreachable: {headline, []probe.Outcome{probe.Unreachable, probe.ConnectTimeout}},
	dnscheck.CodeICMPNetUnreachable:  {headline, []probe.Outcome{probe.Unreachable, probe.ConnectTimeout}},
	dnscheck.CodeNoLocalRoute:        {headline, []probe.Outcome{probe.Unreachable, probe.ConnectTimeout}},
	// A connect that timed out took the connect timeout: its time
	// threshold says nothing more than the outcome.
	dnscheck.CodeThresholdTime: {explained, []probe.Outcome{probe.ConnectTimeout}},
	// PMTU black holes (probe/evidence.go, mtu.go, path.go).
	dnscheck.CodePMTUBlackhole:        {headline, []probe.Outcome{probe.PMTUBlackhole}},
	dnscheck.CodeReversePMTUBlackhole: {headline, []probe.Outcome{probe.PMTUBlackhole}},
	dnscheck.CodeBlackholeLink:        {evidence, []probe.Outcome{probe.PMTUBlackhole}},
	dnscheck.CodeSegmentsLost:         {evidence, []probe.Outcome{probe.PMTUBlackhole, probe.ReplyTimeout}},
	dnscheck.CodeBodySegmentsLost:     {evidence, []probe.Outcome{probe.PMTUBlackhole, probe.ReplyTimeout}},
	dnscheck.CodeServerFlightStalled:  {evidence, []probe.Outcome{probe.PMTUBlackhole, probe.ReplyTimeout}},
	// A large ClientHello that stalled (probe/tlshello.go).
	dnscheck.CodeTLSMiddlebox:        {headline, []probe.Outcome{probe.TLSMiddlebox}},
	dnscheck.CodeTLSHelloStalled:     {headline, []probe.Outcome{probe.TLSError}},
	dnscheck.CodeTLSEvaluatedOnRetry: {evidence, []probe.Outcome{probe.PMTUBlackhole}},
	// Remedies.
	dnscheck.CodeClampMSS:    {kind: fix},
	dnscheck.CodePMTUStopgap: {kind: fix},
}

// explainedByDNS are the codes a failed MX lookup explains: with the
// resolver down, the policy lookups fail the same way, and saying so
// again adds nothing.
var explainedByDNS = map[string]bool{
	dnscheck.CodeMTASTSLookupFailed: true,
	dnscheck.CodeTLSRPTLookupFailed: true,
}

// dnsFailed tells whether the report is a failed MX lookup: no address
// to probe, and a dns-error.
func dnsFailed(rep *probe.Report) bool {
	return rep.Outcome == probe.DNSError && len(rep.Results) == 0
}

// folded is one line of the compact findings: a cause (an address's
// outcome) or a finding, with the addresses it was seen at.
type folded struct {
	sev  probe.Severity
	code string // the finding's code, or the cause's outcome
	text string
	// cause is set for an address's outcome; text then follows the
	// address.
	cause bool
	fixes []string
	// key is text with the address and host names taken out: lines whose
	// keys match read the same, at different addresses.
	key  string
	at   []int // the results it was seen at (indexes); none: the report's
	find *probe.Finding
}

// foldFindings builds the compact findings of rep, most severe first:
// a line per failed address (its cause, with the findings the relation
// table folds into it and its fixes), then the other findings, each
// once, with the addresses it was seen at.
func foldFindings(rep *probe.Report, opt Options) []*folded {
	owner := map[probe.Finding]int{}
	for i := len(rep.Results) - 1; i >= 0; i-- { // the first result that holds it
		for _, f := range rep.Results[i].Findings {
			owner[f] = i
		}
	}
	good := 0
	for _, r := range rep.Results {
		if r.Good() {
			good++
		}
	}
	causes := map[int]*folded{}
	var lines []*folded
	for i, r := range rep.Results {
		if r.Good() {
			continue
		}
		sev := probe.SevCritical
		if good > 0 {
			sev = probe.SevWarning
		}
		text := r.Error
		if text == "" {
			text = string(r.Outcome)
		}
		c := &folded{sev: sev, code: string(r.Outcome), text: text, cause: true, at: []int{i}}
		causes[i] = c
		lines = append(lines, c)
	}
	headlined := map[int]bool{}
	var loose []string // fixes of no cause
	for k := range rep.Findings {
		f := &rep.Findings[k]
		i, ok := owner[*f]
		if !ok {
			if dnsFailed(rep) && explainedByDNS[f.Code] {
				continue
			}
			if relations[f.Code].kind == fix {
				loose = append(loose, opt.message(*f))
				continue
			}
			lines = append(lines, &folded{sev: f.Severity, code: f.Code, text: opt.message(*f), key: opt.message(*f), find: f})
			continue
		}
		r := rep.Results[i]
		rl := relations[f.Code]
		c := causes[i]
		applies := c != nil && (rl.causes == nil || slices.Contains(rl.causes, r.Outcome))
		switch {
		case rl.kind == fix && c != nil:
			c.fixes = append(c.fixes, opt.message(*f))
			continue
		case rl.kind == fix:
			loose = append(loose, opt.message(*f))
			continue
		case rl.kind == headline && applies && !headlined[i]:
			headlined[i] = true
			c.text = unnamed(opt.message(*f), r)
			c.sev = worse(c.sev, f.Severity)
			continue
		case (rl.kind == headline || rl.kind == evidence) && applies:
			c.text += "; " + unnamed(opt.message(*f), r)
			c.sev = worse(c.sev, f.Severity)
			continue
		case rl.kind == explained && applies:
			c.sev = worse(c.sev, f.Severity) // a critical threshold still makes the line critical
			continue
		}
		lines = append(lines, &folded{sev: f.Severity, code: f.Code, text: opt.message(*f), at: []int{i},
			key: anonymous(opt.message(*f), r), find: f})
	}
	for _, c := range causes {
		c.key = anonymous(c.text, rep.Results[c.at[0]])
		for _, x := range c.fixes {
			c.key += "\x00fix " + anonymous(x, rep.Results[c.at[0]])
		}
	}
	// Lines that read the same at several addresses print once.
	var out []*folded
	seen := map[string]*folded{}
	for _, l := range lines {
		if len(l.at) == 0 {
			out = append(out, l)
			continue
		}
		id := fmt.Sprintf("%t\x00%s\x00%s\x00%s", l.cause, l.sev, l.code, l.key)
		if first := seen[id]; first != nil {
			first.at = append(first.at, l.at...)
			continue
		}
		seen[id] = l
		out = append(out, l)
	}
	slices.SortStableFunc(out, func(a, b *folded) int { return a.sev.Rank() - b.sev.Rank() })
	if len(loose) > 0 {
		// Fixes of no failed address go under the most severe line, or
		// stand alone.
		if len(out) == 0 {
			out = append(out, &folded{})
		}
		out[0].fixes = append(out[0].fixes, loose...)
	}
	return out
}

// writeFolded writes the compact findings of rep under head, which the
// caller has made safe; problemsOnly leaves out info. It writes nothing,
// not even head, when there is nothing to say.
func writeFolded(w *bytes.Buffer, rep *probe.Report, opt Options, head string, problemsOnly bool) {
	lines := foldFindings(rep, opt)
	n := 0
	for _, l := range lines {
		if problemsOnly && (l.sev == probe.SevInfo || l.sev == "") && len(l.fixes) == 0 {
			continue
		}
		if n == 0 {
			w.WriteString(head) // the caller's, made safe
		}
		n++
		total := units.Count(len(rep.Results), "address", "addresses")
		if len(rep.Results) > 0 && rep.Results[0].Phase != "" {
			total = units.Count(len(rep.Results), "measurement")
		}
		switch {
		case l.sev == "": // only loose fixes
		case l.cause && len(l.at) == 1:
			printf(w, "  %-8s %s %s: %s\n", l.sev, Addr(rep.Results[l.at[0]]), l.code, l.text)
		case l.cause:
			printf(w, "  %-8s %s at %d of %s (%s): %s\n", l.sev, l.code, len(l.at), total, addrList(rep, l.at), l.text)
		case len(l.at) > 1:
			printf(w, "  %-8s %s at %d of %s: %s (and %d more like it)\n", l.sev, l.code, len(l.at), total, l.text, len(l.at)-1)
		default:
			printf(w, "  %-8s %s: %s\n", l.sev, l.code, l.text)
		}
		for _, x := range l.fixes {
			printf(w, "  %-8s fix: %s\n", "", x)
		}
	}
}

// addrList names the addresses at, up to three, then how many more.
func addrList(rep *probe.Report, at []int) string {
	var names []string
	for k, i := range at {
		if k == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(at)-3))
			break
		}
		names = append(names, Addr(rep.Results[i]))
	}
	return strings.Join(names, ", ")
}

// unnamed is a finding's message without the leading name of its
// address ("mx1.example.com [192.0.2.10]: "), which its line already
// gives.
func unnamed(msg string, r probe.Result) string {
	for _, who := range []string{
		r.Host + " [" + r.Address + "]: ",
		Addr(r) + ": ",
		r.Address + ": ",
	} {
		if rest, ok := strings.CutPrefix(msg, who); ok && rest != "" {
			return rest
		}
	}
	return msg
}

// anonymous is text with r's address and host name taken out, so that
// the same finding at two addresses compares equal.
func anonymous(text string, r probe.Result) string {
	repl := []string{Addr(r), "\x00addr", r.Address, "\x00addr"}
	if r.Host != "" && r.Host != r.Address {
		repl = append(repl, r.Host, "\x00host")
	}
	return strings.NewReplacer(repl...).Replace(text)
}

// worse is the more severe of a and b.
func worse(a, b probe.Severity) probe.Severity {
	if b.Rank() < a.Rank() {
		return b
	}
	return a
}
