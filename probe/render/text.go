package render

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/assess"
	"github.com/smtpprobe/smtpprobe/probe/mta"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// Options are the settings of the text and Nagios writers.
type Options struct {
	// Verbose gives the full text report: each session's timeline (and
	// each MTU probe), its banner, extensions, PTR and hops, and every
	// finding as it is; without it the text is compact (fold.go).
	Verbose bool
	// Timeline adds each session's timeline to the compact text.
	Timeline bool
	// Warn and Crit are the thresholds a single report was judged by;
	// Nagios shows them as perfdata ranges. A check's runs carry their own.
	Warn, Crit assess.Thresholds
	// Color shows the status in colour (ANSI SGR); the front end sets it
	// only for a terminal, and never with NO_COLOR set (no-color.org).
	Color bool
	// Option spells a finding's Option (a neutral key such as "to") in
	// the front end's words ("--to"); nil leaves findings as they are.
	Option func(key string) string
}

// message is a finding's message, with the option it advises changing
// in the front end's words: "...; give a recipient the server accepts
// (set with --to)".
func (o Options) message(f probe.Finding) string {
	if f.Option == "" || o.Option == nil {
		return f.Message
	}
	return f.Message + " (set with " + o.Option(f.Option) + ")"
}

// status renders a status, in colour when o.Color: green OK, yellow
// WARNING, red CRITICAL, magenta UNKNOWN.
func (o Options) status(s probe.Status) trusted {
	if !o.Color {
		return trusted(s.String())
	}
	code := map[probe.Status]string{probe.StatusOK: "32", probe.StatusWarning: "33", probe.StatusCritical: "31"}[s]
	if code == "" {
		code = "35"
	}
	return trusted("\x1b[" + code + "m" + s.String() + "\x1b[0m")
}

// Run is one run of a combined check report: the target as written in the
// configuration, the module, the run's report (for a run that could not
// be made, one with a "check-failed" finding) and why it could not be
// made, and the thresholds it was judged by.
type Run struct {
	Target, Module string
	Report         *probe.Report
	Err            error
	Warn, Crit     assess.Thresholds
}

// Text writes the report as a table per exchanger and address, then the
// findings.
func Text(w io.Writer, rep *probe.Report, opt Options) error {
	var b bytes.Buffer
	text(&b, rep, opt)
	_, err := w.Write(b.Bytes())
	return err
}

// CheckText writes a combined check report: a table of the checks, then
// the problems of each run (its warnings and criticals, folded as its
// command's compact text folds them), headed by its module and target;
// with opt.Verbose, each run's full report as its command would print it.
func CheckText(w io.Writer, combined *probe.Report, runs []Run, opt Options) error {
	var b bytes.Buffer
	printf(&b, "check %s: %s, outcome %s, %s: %s (%s)\n\n", combined.Target, opt.status(combined.Status()),
		combined.Outcome, units.Count(len(combined.Checks), "check"), StatusCounts(combined.Checks), units.Duration(combined.Duration))
	head := []string{"TARGET", "MODULE", "STATUS", "OUTCOME", "DURATION"}
	rows := [][]string{head}
	for _, c := range combined.Checks {
		out, dur := string(c.Outcome), units.Duration(c.Duration)
		if c.Error != "" {
			out, dur = "-", "-"
		}
		rows = append(rows, []string{c.Target, c.Module, c.Status.String(), out, dur})
	}
	width := make([]int, len(head))
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], len(cell))
		}
	}
	for k, r := range rows {
		line := " "
		for i, cell := range r {
			line += fmt.Sprintf(" %-*s", width[i], cell)
		}
		printf(&b, "%s\n", strings.TrimRight(line, " "))
		if k > 0 && combined.Checks[k-1].Error != "" {
			printf(&b, "      error: %s\n", OneLine(combined.Checks[k-1].Error))
		}
		if k > 0 {
			if p := runPolicy(runs, combined.Checks[k-1]); p != "" {
				printf(&b, "      policy: %s\n", p) // policy.go
			}
		}
	}
	// Only the problems: each run's warnings and criticals, folded as
	// its command folds them; the table said the rest. Runs whose
	// problems read the same (two modules of one domain whose MX lookup
	// failed) print them once, under both names.
	type block struct {
		names  []string
		status probe.Status
		lines  string
	}
	var blocks []*block
	for _, r := range runs {
		if r.Err != nil {
			continue
		}
		if opt.Verbose {
			printf(&b, "\n[%s] ", r.Module)
			text(&b, r.Report, opt)
			continue
		}
		var lines bytes.Buffer
		writeFolded(&lines, r.Report, opt, "", true)
		if lines.Len() == 0 {
			continue
		}
		var name bytes.Buffer
		printf(&name, "[%s] %s", r.Module, r.Target)
		st := r.Report.Status()
		i := slices.IndexFunc(blocks, func(k *block) bool { return k.status == st && k.lines == lines.String() })
		if i < 0 {
			blocks = append(blocks, &block{status: st, lines: lines.String()})
			i = len(blocks) - 1
		}
		blocks[i].names = append(blocks[i].names, name.String())
	}
	for _, k := range blocks {
		printf(&b, "\n%s: %s\n", trusted(strings.Join(k.names, ", ")), opt.status(k.status))
		b.WriteString(k.lines)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// StatusCounts renders "4 OK, 1 WARNING, 2 CRITICAL" (statuses present).
func StatusCounts(checks []probe.CheckSummary) string {
	n := map[string]int{}
	for _, c := range checks {
		n[c.Status.String()]++
	}
	var parts []string
	for _, s := range []probe.Status{probe.StatusOK, probe.StatusWarning, probe.StatusCritical, probe.StatusUnknown} {
		if n[s.String()] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s.String()], s))
		}
	}
	return strings.Join(parts, ", ")
}

func text(w *bytes.Buffer, rep *probe.Report, opt Options) {
	timeline := opt.Verbose || opt.Timeline
	ok := 0
	for _, r := range rep.Results {
		if r.Good() {
			ok++
		}
	}
	unit, units_ := "address", "addresses"
	if len(rep.Results) > 0 && rep.Results[0].Phase != "" {
		unit, units_ = "measurement", "measurements"
	}
	printf(w, "%s %s: %s, outcome %s, %d of %s ok (%s)\n",
		rep.Command, Target(rep), opt.status(rep.Status()), rep.Outcome, ok, units.Count(len(rep.Results), unit, units_), units.Duration(rep.Duration))
	addrW, outW := 0, 0
	for _, r := range rep.Results {
		addrW = max(addrW, len(SafeText(label(r))))
		outW = max(outW, len(SafeText(string(r.Outcome))))
	}
	// The compact text (the default) gives each address one row and
	// the lines that answer the command (idle timeout, path MTU, message,
	// certificate, DANE); -v adds the rest (banner, extensions, PTR, hops,
	// the MTU probes' counts, each timeline) and lists every finding.
	verbose := opt.Verbose
	// details writes a result's lines under its row.
	details := func(d *bytes.Buffer, r probe.Result) {
		indent := strings.Repeat(" ", 6)
		if r.Error != "" && r.Timeout == nil && (verbose || r.Good()) {
			printf(d, "%s%s\n", indent, r.Error) // else its cause line says it
		}
		if r.Phase != "" {
			if r.Timeout != nil {
				printf(d, "%sidle at %s: server hung up after %s, closed by %s", indent, r.Phase, units.Duration(*r.Timeout), r.ClosedBy)
				if r.ServerLog != "" {
					printf(d, "; %s logs %q", serverName(r.Server), r.ServerLog)
				}
				d.WriteByte('\n')
			} else if r.Outcome == probe.OK {
				printf(d, "%sidle at %s: the server kept the session open for the whole --max-wait\n", indent, r.Phase)
			}
		}
		if m := r.MTUInfo; m != nil && m.Verdict != "" {
			mtuText(d, indent, m, verbose, timeline)
		}
		if verbose || rep.Command == "path" {
			HopTable(d, indent, r) // path sweeps (path.go)
		}
		if r.MessageBytes > 0 {
			printf(d, "%smessage: %s", indent, units.Count(r.MessageBytes, "byte"))
			switch b := r.BodyTCP; {
			case r.Acked:
				printf(d, ", all acknowledged by the peer's TCP")
			case b != nil:
				// What TCP did, not what the write returned: a write a
				// black hole holds returns nothing.
				printf(d, "; TCP sent %s", units.Count(int(b.Sent), "byte"))
				if b.Retransmitted > 0 {
					printf(d, " (%d retransmitted)", b.Retransmitted)
				}
				printf(d, " in %s, the peer acknowledged %d", units.Count(b.Segments, "segment"), b.Acked)
			default:
				printf(d, ", %d written", r.BytesWritten)
			}
			if r.QueueID != "" {
				printf(d, ", delivered: queued as %s", r.QueueID)
			} else if r.Outcome == probe.OK {
				printf(d, ", not delivered (no final dot)")
			}
			d.WriteByte('\n')
		}
		if r.Server.Known() {
			printf(d, "%sserver: %s (%s confidence)", indent, serverName(r.Server), r.Server.Confidence)
			if verbose {
				printf(d, ": %s", strings.Join(r.Server.Evidence, "; "))
			}
			d.WriteByte('\n')
		}
		if r.GreetingDelay != nil {
			printf(d, "%sgreeting delayed: %s after connect\n", indent, units.Duration(*r.GreetingDelay))
		}
		if r.Banner != "" && verbose {
			printf(d, "%sbanner: %s\n", indent, r.Banner)
		}
		if len(r.Capabilities) > 0 && verbose {
			printf(d, "%sesmtp:  %s\n", indent, strings.Join(r.Capabilities, ", "))
		}
		if t := r.TLS; t != nil && t.Version != "" {
			v := "verified"
			if !t.Verified {
				v = "not verified: " + t.VerifyError
			}
			printf(d, "%stls:    %s %s, cert %s, expires %s (%s), %s\n", indent,
				t.Version, t.Cipher, strings.Join(t.Names, " "), t.NotAfter.Format(time.DateOnly), units.Count(t.DaysLeft, "day"), v)
		}
		helloText(d, indent, r.TLS)
		daneText(d, indent, r.DANE) // policy.go; only where TLSA records were looked up
		if r.FCrDNS != nil && verbose {
			switch {
			case len(r.PTR) == 0:
				printf(d, "%sptr:    none\n", indent)
			case *r.FCrDNS:
				printf(d, "%sptr:    %s (forward-confirmed)\n", indent, strings.Join(r.PTR, " "))
			default:
				printf(d, "%sptr:    %s (does not resolve back)\n", indent, strings.Join(r.PTR, " "))
			}
		}
	}
	for a := 0; a < len(rep.Results); {
		b := a + 1 // the group of one exchanger: results a to b-1
		for b < len(rep.Results) && rep.Results[b].Host == rep.Results[a].Host {
			b++
		}
		if verbose || a == 0 {
			w.WriteByte('\n')
		}
		if r := rep.Results[a]; r.Preference != nil {
			printf(w, "MX %d %s\n", *r.Preference, r.Host)
		} else {
			printf(w, "%s\n", r.Host)
		}
		lines := make([][]string, b-a)
		for k := a; k < b; k++ {
			var d bytes.Buffer
			details(&d, rep.Results[k])
			lines[k-a] = strings.SplitAfter(d.String(), "\n")
		}
		// A host's lines that read the same at each of its addresses
		// (its server, certificate, hello) print once, under the host.
		var common map[string]bool
		if !verbose && b-a > 1 {
			common = sameAtEach(lines)
			for _, l := range lines[0] {
				if common[l] {
					w.WriteString("    " + strings.TrimPrefix(l, "      "))
				}
			}
		}
		for k := a; k < b; k++ {
			r := rep.Results[k]
			printf(w, "  %-*s  %-*s  %s\n", addrW, label(r), outW, r.Outcome, phases(r))
			for _, l := range lines[k-a] {
				if !common[l] {
					w.WriteString(l) // made safe by printf above
				}
			}
			if timeline {
				for _, e := range r.Timeline {
					if d := Describe(e); d != "" {
						printf(w, "      %10s  %s\n", units.Duration(e.At), d)
					}
				}
			}
		}
		a = b
	}
	if verbose || !emptyPolicy(rep) {
		policyText(w, rep.Policy) // policy.go
	}
	if !verbose {
		writeFolded(w, rep, opt, "\nFindings\n", false) // fold.go
		return
	}
	findings := append(addressFindings(rep), rep.Findings...)
	probe.SortFindings(findings)
	if len(findings) > 0 {
		printf(w, "\nFindings\n")
		for _, f := range findings {
			sev := f.Severity
			if relations[f.Code].kind == fix {
				sev = "fix"
			}
			printf(w, "  %-8s %s: %s\n", sev, f.Code, opt.message(f))
		}
	}
}

// addressFindings are the failed addresses of an mx report as findings,
// so that a refused or silent secondary MX shows among the findings and
// not only in its row: a warning while another address works, else
// critical.
func addressFindings(rep *probe.Report) []probe.Finding {
	if rep.Command != "mx" {
		return nil
	}
	ok := 0
	for _, r := range rep.Results {
		if r.Good() {
			ok++
		}
	}
	var fs []probe.Finding
	for _, r := range rep.Results {
		if r.Good() {
			continue
		}
		sev := probe.SevCritical
		if ok > 0 {
			sev = probe.SevWarning
		}
		who := Addr(r)
		if r.Preference != nil {
			who = fmt.Sprintf("MX %d %s (%s)", *r.Preference, r.Host, Addr(r))
		}
		msg := who + " is " + string(r.Outcome)
		if r.Error != "" {
			msg += ": " + r.Error
		}
		fs = append(fs, probe.Finding{Severity: sev, Code: dnscheck.CodeAddressPrefix + string(r.Outcome), Message: msg})
	}
	return fs
}

// mtuText writes the path MTU lines of an mtu result: the client-to-server
// bracket and verdict, its evidence, and the server-to-client direction
// (probe.MTUReverse).
func mtuText(w *bytes.Buffer, indent string, m *probe.MTUInfo, verbose, timeline bool) {
	pm := "unknown"
	if m.PathMTU != nil {
		pm = fmt.Sprint(*m.PathMTU)
	}
	br := "nothing failed up to the interface MTU"
	if m.Range[1] > 0 && m.Range[1] < m.InterfaceMTU {
		br = fmt.Sprintf("nothing failed up to the maximum asked for, %d", m.Range[1])
	}
	if m.Bracket[1] != nil {
		lo := 0
		if m.Bracket[0] != nil {
			lo = *m.Bracket[0]
		}
		br = fmt.Sprintf("bracket [%d, %d]", lo, *m.Bracket[1])
	}
	printf(w, "%spath MTU %s, %s, verdict %s\n", indent, pm, br, m.Verdict)
	if !verbose {
		if rv := m.Reverse; rv != nil {
			printf(w, "%sserver to client: %s\n", indent, reverseBrief(rv))
		}
		if s := testedText(m); s != "" {
			printf(w, "%stested: %s\n", indent, s)
		}
		return
	}
	icmp := "no ICMP arrived"
	if m.ICMPSeen {
		icmp = "ICMP arrived (the kernel's path MTU dropped)"
	}
	printf(w, "%s%s in %s, %s, %s; interface MTU %d, range %d-%d", indent,
		units.Count(m.Sessions, "session"), units.Count(m.Rounds, "round"), units.Count(m.Retransmits, "retransmit"), icmp, m.InterfaceMTU, m.Range[0], m.Range[1])
	if m.CachedPMTU > 0 {
		printf(w, ", cached path MTU %d before the probe", m.CachedPMTU)
	}
	if m.MTUProbing != nil {
		printf(w, ", tcp_mtu_probing=%d", *m.MTUProbing)
	}
	w.WriteByte('\n')
	if timeline {
		for _, pr := range m.Probes {
			printf(w, "%s  round %d  size %5d  sent %5d  %-14s retransmits %d  path MTU %d\n", indent,
				pr.Round, pr.Size, pr.Sent, pr.Result, pr.Retransmits, pr.PMTU)
		}
	}
	if s := testedText(m); s != "" {
		printf(w, "%stested: %s\n", indent, s)
	}
	if m.Verdict != mtu.VerdictUntested {
		loss := "no loss on passing probes"
		if m.LossPct != nil && *m.LossPct > 0 {
			loss = fmt.Sprintf("%.1f%% of the passing probes' segments retransmitted", *m.LossPct)
		}
		printf(w, "%s%s, %s, %s\n", indent, units.Count(m.Retests, "re-test"), loss, units.Count(m.Transactions, "MAIL transaction"))
	}
	rv := m.Reverse
	if rv == nil {
		return
	}
	printf(w, "%sserver to client: %s\n", indent, reverseBrief(rv))
	if rv.Verdict == "" || rv.Verdict == mtu.VerdictUntested {
		return
	}
	printf(w, "%s%s in %s, %s; STARTTLS flight %s, tested up to %d\n", indent,
		units.Count(rv.Sessions, "session"), units.Count(rv.Rounds, "round"), units.Count(rv.Retests, "re-test"), units.Count(rv.FlightBytes, "byte"), rv.TestedUpTo)
	if timeline {
		for _, pr := range rv.Probes {
			printf(w, "%s  round %d  size %5d  got %5d  %-14s flight %d\n", indent, pr.Round, pr.Size, pr.Sent, pr.Result, pr.Flight)
		}
	}
}

// label names a result's row: its address, and the phase it measured.
func label(r probe.Result) string {
	if r.Phase != "" {
		return Addr(r) + " " + r.Phase
	}
	return Addr(r)
}

// phases renders "connect 0.4 ms, banner 2.1 ms, ...".
func phases(r probe.Result) string {
	parts := make([]string, 0, len(r.PhaseOrder))
	for _, p := range r.PhaseOrder {
		parts = append(parts, p+" "+units.Duration(r.Phases[p]))
	}
	return strings.Join(parts, ", ")
}

// Target is the report's target with the port its results probed:
// "example.com port 2525", "192.0.2.10 port 25". A report without results
// (a DNS failure) names only the target; a check's target, written with
// its port, stays as it is.
func Target(rep *probe.Report) string {
	if len(rep.Results) == 0 || rep.Results[0].Port == 0 {
		return rep.Target
	}
	port := strconv.Itoa(int(rep.Results[0].Port))
	if strings.HasSuffix(rep.Target, ":"+port) { // a check's target, as written
		return rep.Target
	}
	return rep.Target + " port " + port
}

// Addr is a result's address with its port: "192.0.2.10:25",
// "[2001:db8::25]:25".
func Addr(r probe.Result) string {
	if r.Port == 0 {
		return r.Address
	}
	return net.JoinHostPort(r.Address, strconv.Itoa(int(r.Port)))
}

// Describe renders a timeline event like a line of an annotated capture;
// it is "" for an event that says nothing (a data event of no bytes and
// no text).
func Describe(e wire.Event) string {
	switch e.Kind {
	case wire.EvSend:
		return "C: " + e.Text
	case wire.EvReply:
		return "S: " + replyText(e.Reply)
	case wire.EvUnsolicited:
		return "S: " + replyText(e.Reply) + "   (unsolicited)"
	case wire.EvData:
		if e.Bytes == 0 {
			// Not a write but what TCP showed of the data ("all bytes
			// acknowledged", an MTU probe's fate); no line when empty.
			if e.Text == "" {
				return ""
			}
			return "data: " + e.Text
		}
		if e.Count > 1 && e.Text != "" {
			// A coalesced run of writes: "2048 chunks of 1 B, 1ms apart".
			return fmt.Sprintf("C: %d bytes of message data (%s)", e.Bytes, e.Text)
		}
		return fmt.Sprintf("C: %d bytes of message data", e.Bytes)
	case wire.EvFIN:
		return "FIN from peer"
	case wire.EvRST:
		return "RST: " + e.Text
	}
	if e.Text == "" {
		return string(e.Kind)
	}
	return string(e.Kind) + ": " + e.Text
}

func replyText(r *wire.Reply) string {
	if r == nil {
		return ""
	}
	lines := strings.Split(r.Text, "\n")
	s := r.String()
	if len(lines) > 1 {
		s += fmt.Sprintf(" (+%d lines)", len(lines)-1)
	}
	return s
}

// testedText is the one line that says which sizes each direction's
// verdict rests on: "client to server 576-1400 (tcp), server to client
// untested (576-1400 only)".
func testedText(m *probe.MTUInfo) string {
	one := func(r *[2]int, method string) string {
		switch {
		case method == "":
			return "not asked"
		case r == nil:
			return "no size"
		}
		return fmt.Sprintf("%d-%d (%s)", r[0], r[1], method)
	}
	in := ""
	if rv := m.Reverse; rv != nil {
		in = rv.Method
	}
	if m.Method == "" && in == "" {
		return "" // a report from before the ranges were recorded
	}
	s := "client to server " + one(m.Tested, m.Method) + ", server to client "
	if rv := m.Reverse; rv != nil {
		return s + one(rv.Tested, rv.Method)
	}
	return s + "not asked"
}

// reverseBrief is the server-to-client path MTU, bracket and verdict:
// "path MTU 1400, bracket [1400, 1401], verdict pmtud-working", or
// "untested".
func reverseBrief(rv *probe.MTUReverse) string {
	if rv.Verdict == "" || rv.Verdict == mtu.VerdictUntested {
		return "untested"
	}
	pm := "unknown"
	if rv.PathMTU != nil {
		pm = fmt.Sprint(*rv.PathMTU)
	}
	br := "nothing failed"
	if rv.Bracket[1] != nil {
		lo := 0
		if rv.Bracket[0] != nil {
			lo = *rv.Bracket[0]
		}
		br = fmt.Sprintf("bracket [%d, %d]", lo, *rv.Bracket[1])
	}
	return fmt.Sprintf("path MTU %s, %s, verdict %s", pm, br, rv.Verdict)
}

// serverName is how text output names a recognised server's software.
func serverName(s *probe.Server) string {
	if !s.Known() {
		return "the server"
	}
	return mta.Name(s.Software)
}

// sameAtEach is the detail lines that every result of a host has, of the
// labels that describe the host rather than the address.
func sameAtEach(lines [][]string) map[string]bool {
	same := map[string]bool{}
	for _, l := range lines[0] {
		label, _, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok || !hostLabels[label] {
			continue
		}
		all := true
		for _, other := range lines[1:] {
			all = all && slices.Contains(other, l)
		}
		if all {
			same[l] = true
		}
	}
	return same
}

// hostLabels are the detail lines that may describe a host as a whole.
var hostLabels = map[string]bool{"server": true, "tls": true, "hello": true, "dane": true, "greeting delayed": true}
