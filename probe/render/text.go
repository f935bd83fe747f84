package render

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/probe"
)

// Options are the settings of the text and Nagios writers.
type Options struct {
	// Verbose adds each session's timeline (and each MTU probe) to the
	// text output.
	Verbose bool
	// Warn and Crit are the thresholds a single report was judged by;
	// Nagios shows them as perfdata ranges. A check's runs carry their own.
	Warn, Crit probe.Thresholds
}

// Run is one run of a combined check report: the target as written in the
// configuration, the module, the run's report (for a run that could not
// be made, one with a "check-failed" finding) and why it could not be
// made, and the thresholds it was judged by.
type Run struct {
	Target, Module string
	Report         *probe.Report
	Err            error
	Warn, Crit     probe.Thresholds
}

// Text writes the report as a table per exchanger and address, then the
// findings.
func Text(w io.Writer, rep *probe.Report, opt Options) error {
	var b bytes.Buffer
	text(&b, rep, opt.Verbose)
	_, err := w.Write(b.Bytes())
	return err
}

// CheckText writes a combined check report: a table of the checks, then
// each run's details and findings as its command would print them, headed
// by its module.
func CheckText(w io.Writer, combined *probe.Report, runs []Run, opt Options) error {
	var b bytes.Buffer
	printf(&b, "check %s: %s, outcome %s, %d checks: %s (%s)\n\n", combined.Target, combined.Status(),
		combined.Outcome, len(combined.Checks), StatusCounts(combined.Checks), fmtMS(float64(combined.DurationMS)))
	head := []string{"TARGET", "MODULE", "STATUS", "OUTCOME", "DURATION"}
	rows := [][]string{head}
	for _, c := range combined.Checks {
		out, dur := string(c.Outcome), fmtMS(float64(c.DurationMS))
		if c.Error != "" {
			out, dur = "-", "-"
		}
		rows = append(rows, []string{c.Target, c.Module, c.Status, out, dur})
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
	}
	for _, r := range runs {
		if r.Err != nil {
			continue
		}
		printf(&b, "\n[%s] ", r.Module)
		text(&b, r.Report, opt.Verbose)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// StatusCounts renders "4 OK, 1 WARNING, 2 CRITICAL" (statuses present).
func StatusCounts(checks []probe.CheckSummary) string {
	n := map[string]int{}
	for _, c := range checks {
		n[c.Status]++
	}
	var parts []string
	for _, s := range []probe.Status{probe.StatusOK, probe.StatusWarning, probe.StatusCritical, probe.StatusUnknown} {
		if n[s.String()] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s.String()], s))
		}
	}
	return strings.Join(parts, ", ")
}

func text(w *bytes.Buffer, rep *probe.Report, timeline bool) {
	ok := 0
	for _, r := range rep.Results {
		if r.Good() {
			ok++
		}
	}
	unit := "addresses"
	if len(rep.Results) > 0 && rep.Results[0].Phase != "" {
		unit = "measurements"
	}
	printf(w, "%s %s: %s, outcome %s, %d of %d %s ok (%s)\n",
		rep.Command, rep.Target, rep.Status(), rep.Outcome, ok, len(rep.Results), unit, fmtMS(float64(rep.DurationMS)))
	addrW, outW := 0, 0
	for _, r := range rep.Results {
		addrW = max(addrW, len(SafeText(label(r))))
		outW = max(outW, len(SafeText(string(r.Outcome))))
	}
	lastHost := ""
	for _, r := range rep.Results {
		if r.Host != lastHost {
			lastHost = r.Host
			if r.Preference != nil {
				printf(w, "\nMX %d %s\n", *r.Preference, r.Host)
			} else {
				printf(w, "\n%s\n", r.Host)
			}
		}
		printf(w, "  %-*s  %-*s  %s\n", addrW, label(r), outW, r.Outcome, phases(r))
		indent := strings.Repeat(" ", 6)
		if r.Error != "" && r.TimeoutMS == nil {
			printf(w, "%s%s\n", indent, r.Error)
		}
		if r.Phase != "" {
			if r.TimeoutMS != nil {
				printf(w, "%sidle at %s: server hung up after %s, closed by %s", indent, r.Phase, fmtMS(*r.TimeoutMS), r.ClosedBy)
				if r.ServerLog != "" {
					printf(w, "; Postfix logs %q", r.ServerLog)
				}
				w.WriteByte('\n')
			} else if r.Outcome == probe.OK {
				printf(w, "%sidle at %s: the server kept the session open for the whole --max-wait\n", indent, r.Phase)
			}
		}
		if m := r.MTUInfo; m != nil && m.Verdict != "" {
			mtuText(w, indent, m, timeline)
		}
		if r.MessageBytes > 0 {
			printf(w, "%smessage: %d bytes, %d written", indent, r.MessageBytes, r.BytesWritten)
			if r.Acked {
				printf(w, ", all acknowledged by the peer's TCP")
			}
			if r.QueueID != "" {
				printf(w, ", delivered: queued as %s", r.QueueID)
			} else if r.Outcome == probe.OK {
				printf(w, ", not delivered (no final dot)")
			}
			w.WriteByte('\n')
		}
		if r.Banner != "" {
			printf(w, "%sbanner: %s\n", indent, r.Banner)
		}
		if len(r.Capabilities) > 0 {
			printf(w, "%sesmtp:  %s\n", indent, strings.Join(r.Capabilities, ", "))
		}
		if t := r.TLS; t != nil && t.Version != "" {
			v := "verified"
			if !t.Verified {
				v = "not verified: " + t.VerifyError
			}
			printf(w, "%stls:    %s %s, cert %s, expires %s (%d days), %s\n", indent,
				t.Version, t.Cipher, strings.Join(t.Names, " "), t.NotAfter.Format(time.DateOnly), t.DaysLeft, v)
		}
		if r.FCrDNS != nil {
			switch {
			case len(r.PTR) == 0:
				printf(w, "%sptr:    none\n", indent)
			case *r.FCrDNS:
				printf(w, "%sptr:    %s (forward-confirmed)\n", indent, strings.Join(r.PTR, " "))
			default:
				printf(w, "%sptr:    %s (does not resolve back)\n", indent, strings.Join(r.PTR, " "))
			}
		}
		if timeline {
			for _, e := range r.Timeline {
				printf(w, "%s%10s  %s\n", indent, fmtMS(float64(e.At)/1e6), Describe(e))
			}
		}
	}
	if len(rep.Findings) > 0 {
		printf(w, "\nFindings\n")
		for _, f := range rep.Findings {
			printf(w, "  %-8s %s: %s\n", f.Severity, f.Code, f.Message)
		}
	}
}

// mtuText writes the path MTU lines of an mtu result: the client-to-server
// bracket and verdict, its evidence, and the server-to-client direction
// (probe.MTUReverse).
func mtuText(w *bytes.Buffer, indent string, m *probe.MTUInfo, timeline bool) {
	pm := "unknown"
	if m.PathMTU != nil {
		pm = fmt.Sprint(*m.PathMTU)
	}
	br := "nothing failed up to the interface MTU"
	if m.Bracket[1] != nil {
		lo := 0
		if m.Bracket[0] != nil {
			lo = *m.Bracket[0]
		}
		br = fmt.Sprintf("bracket [%d, %d]", lo, *m.Bracket[1])
	}
	printf(w, "%spath MTU %s, %s, verdict %s\n", indent, pm, br, m.Verdict)
	icmp := "no ICMP arrived"
	if m.ICMPSeen {
		icmp = "ICMP arrived (the kernel's path MTU dropped)"
	}
	printf(w, "%s%d sessions in %d rounds, %d retransmits, %s; interface MTU %d, range %d-%d", indent,
		m.Sessions, m.Rounds, m.Retransmits, icmp, m.InterfaceMTU, m.Range[0], m.Range[1])
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
	if m.Verdict != probe.VerdictUntested {
		loss := "no loss on passing probes"
		if m.LossPct != nil && *m.LossPct > 0 {
			loss = fmt.Sprintf("%.1f%% of the passing probes' segments retransmitted", *m.LossPct)
		}
		printf(w, "%s%d re-tests, %s, %d MAIL transactions\n", indent, m.Retests, loss, m.Transactions)
	}
	rv := m.Reverse
	if rv == nil {
		return
	}
	if rv.Verdict == "" || rv.Verdict == probe.VerdictUntested {
		printf(w, "%sserver to client: untested\n", indent)
		return
	}
	pm = "unknown"
	if rv.PathMTU != nil {
		pm = fmt.Sprint(*rv.PathMTU)
	}
	br = "nothing failed"
	if rv.Bracket[1] != nil {
		lo := 0
		if rv.Bracket[0] != nil {
			lo = *rv.Bracket[0]
		}
		br = fmt.Sprintf("bracket [%d, %d]", lo, *rv.Bracket[1])
	}
	printf(w, "%sserver to client: path MTU %s, %s, verdict %s\n", indent, pm, br, rv.Verdict)
	printf(w, "%s%d sessions in %d rounds, %d re-tests; STARTTLS flight %d bytes, tested up to %d\n", indent,
		rv.Sessions, rv.Rounds, rv.Retests, rv.FlightBytes, rv.TestedUpTo)
	if timeline {
		for _, pr := range rv.Probes {
			printf(w, "%s  round %d  size %5d  got %5d  %-14s flight %d\n", indent, pr.Round, pr.Size, pr.Sent, pr.Result, pr.Flight)
		}
	}
}

// label names a result's row: its address, and the phase it measured.
func label(r probe.Result) string {
	if r.Phase != "" {
		return r.Address + " " + r.Phase
	}
	return r.Address
}

// phases renders "connect 0.4 ms, banner 2.1 ms, ...".
func phases(r probe.Result) string {
	parts := make([]string, 0, len(r.PhaseOrder))
	for _, p := range r.PhaseOrder {
		parts = append(parts, p+" "+fmtMS(r.Phases[p]))
	}
	return strings.Join(parts, ", ")
}

// fmtMS renders milliseconds readably: "0.42 ms", "12 ms", "1.50 s".
func fmtMS(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// Describe renders a timeline event like a line of an annotated capture.
func Describe(e probe.Event) string {
	switch e.Kind {
	case probe.EvSend:
		return "C: " + e.Text
	case probe.EvReply:
		return "S: " + replyText(e.Reply)
	case probe.EvUnsolicited:
		return "S: " + replyText(e.Reply) + "   (unsolicited)"
	case probe.EvData:
		if e.Count > 1 && e.Text != "" {
			// A coalesced run of writes: "2048 chunks of 1 B, 1ms apart".
			return fmt.Sprintf("C: %d bytes of message data (%s)", e.Bytes, e.Text)
		}
		return fmt.Sprintf("C: %d bytes of message data", e.Bytes)
	case probe.EvFIN:
		return "FIN from peer"
	case probe.EvRST:
		return "RST: " + e.Text
	}
	if e.Text == "" {
		return string(e.Kind)
	}
	return string(e.Kind) + ": " + e.Text
}

func replyText(r *probe.Reply) string {
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
