package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
	promrender "github.com/smtpprobe/smtpprobe/probe/render/prom"
)

// emit renders rep in the chosen format and returns the exit code. The
// output is built completely before anything is written, so a failure
// never leaves half a document.
func emit(rep *probe.Report, cf *outputFlags, stdout io.Writer) (int, error) {
	escapeInvalidUTF8(rep)
	st := rep.Status()
	var prom []byte
	if cf.format == "prom" || cf.promFile != "" {
		var err error
		if prom, err = promrender.Text(promrender.Reports{Reports: []*probe.Report{rep}}); err != nil {
			return 0, err
		}
	}
	if cf.promFile != "" {
		if err := writeFileAtomic(cf.promFile, prom); err != nil {
			return 0, fmt.Errorf("--prom-file: %w", err)
		}
	}
	var buf bytes.Buffer
	switch cf.format {
	case "prom":
		buf.Write(prom)
	case "nagios":
		renderNagios(&buf, rep, cf.warn, cf.crit)
	case "json":
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return 0, fmt.Errorf("encoding JSON: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	default:
		renderText(&buf, rep, cf.verbose)
	}
	if cf.quiet && st == probe.StatusOK {
		return int(st), nil
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	return int(st), nil
}

// renderText writes the report as a table per exchanger and address, then
// the findings.
func renderText(w *bytes.Buffer, rep *probe.Report, timeline bool) {
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
	tprintf(w, "%s %s: %s, outcome %s, %d of %d %s ok (%s)\n",
		rep.Command, rep.Target, rep.Status(), rep.Outcome, ok, len(rep.Results), unit, fmtMS(float64(rep.DurationMS)))
	addrW, outW := 0, 0
	for _, r := range rep.Results {
		addrW = max(addrW, len(safeText(label(r))))
		outW = max(outW, len(safeText(string(r.Outcome))))
	}
	lastHost := ""
	for _, r := range rep.Results {
		if r.Host != lastHost {
			lastHost = r.Host
			if r.Preference != nil {
				tprintf(w, "\nMX %d %s\n", *r.Preference, r.Host)
			} else {
				tprintf(w, "\n%s\n", r.Host)
			}
		}
		tprintf(w, "  %-*s  %-*s  %s\n", addrW, label(r), outW, r.Outcome, phases(r))
		indent := strings.Repeat(" ", 6)
		if r.Error != "" && r.TimeoutMS == nil {
			tprintf(w, "%s%s\n", indent, r.Error)
		}
		if r.Phase != "" {
			if r.TimeoutMS != nil {
				tprintf(w, "%sidle at %s: server hung up after %s, closed by %s", indent, r.Phase, fmtMS(*r.TimeoutMS), r.ClosedBy)
				if r.ServerLog != "" {
					tprintf(w, "; Postfix logs %q", r.ServerLog)
				}
				w.WriteByte('\n')
			} else if r.Outcome == probe.OK {
				tprintf(w, "%sidle at %s: the server kept the session open for the whole --max-wait\n", indent, r.Phase)
			}
		}
		if m := r.MTUInfo; m != nil && m.Verdict != "" {
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
			tprintf(w, "%spath MTU %s, %s, verdict %s\n", indent, pm, br, m.Verdict)
			icmp := "no ICMP arrived"
			if m.ICMPSeen {
				icmp = "ICMP arrived (the kernel's path MTU dropped)"
			}
			tprintf(w, "%s%d sessions in %d rounds, %d retransmits, %s; interface MTU %d, range %d-%d", indent,
				m.Sessions, m.Rounds, m.Retransmits, icmp, m.InterfaceMTU, m.Range[0], m.Range[1])
			if m.CachedPMTU > 0 {
				tprintf(w, ", cached path MTU %d before the probe", m.CachedPMTU)
			}
			if m.MTUProbing != nil {
				tprintf(w, ", tcp_mtu_probing=%d", *m.MTUProbing)
			}
			w.WriteByte('\n')
			if timeline {
				for _, pr := range m.Probes {
					tprintf(w, "%s  round %d  size %5d  sent %5d  %-14s retransmits %d  path MTU %d\n", indent,
						pr.Round, pr.Size, pr.Sent, pr.Result, pr.Retransmits, pr.PMTU)
				}
			}
			renderMTUMore(w, indent, m, timeline)
		}
		render.HopTable(w, indent, r) // path sweeps (probe/render/path.go)
		if r.MessageBytes > 0 {
			tprintf(w, "%smessage: %d bytes, %d written", indent, r.MessageBytes, r.BytesWritten)
			if r.Acked {
				tprintf(w, ", all acknowledged by the peer's TCP")
			}
			if r.QueueID != "" {
				tprintf(w, ", delivered: queued as %s", r.QueueID)
			} else if r.Outcome == probe.OK {
				tprintf(w, ", not delivered (no final dot)")
			}
			w.WriteByte('\n')
		}
		if r.Banner != "" {
			tprintf(w, "%sbanner: %s\n", indent, r.Banner)
		}
		if len(r.Capabilities) > 0 {
			tprintf(w, "%sesmtp:  %s\n", indent, strings.Join(r.Capabilities, ", "))
		}
		if t := r.TLS; t != nil && t.Version != "" {
			v := "verified"
			if !t.Verified {
				v = "not verified: " + t.VerifyError
			}
			tprintf(w, "%stls:    %s %s, cert %s, expires %s (%d days), %s\n", indent,
				t.Version, t.Cipher, strings.Join(t.Names, " "), t.NotAfter.Format(time.DateOnly), t.DaysLeft, v)
		}
		if r.FCrDNS != nil {
			switch {
			case len(r.PTR) == 0:
				tprintf(w, "%sptr:    none\n", indent)
			case *r.FCrDNS:
				tprintf(w, "%sptr:    %s (forward-confirmed)\n", indent, strings.Join(r.PTR, " "))
			default:
				tprintf(w, "%sptr:    %s (does not resolve back)\n", indent, strings.Join(r.PTR, " "))
			}
		}
		if timeline {
			for _, e := range r.Timeline {
				tprintf(w, "%s%10s  %s\n", indent, fmtMS(float64(e.At)/1e6), describe(e))
			}
		}
	}
	if len(rep.Findings) > 0 {
		tprintf(w, "\nFindings\n")
		for _, f := range rep.Findings {
			tprintf(w, "  %-8s %s: %s\n", f.Severity, f.Code, f.Message)
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

// describe renders a timeline event like a line of an annotated capture.
func describe(e probe.Event) string {
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

// renderMTUMore prints the loss evidence of an mtu result and its
// server-to-client direction (probe.MTUReverse).
func renderMTUMore(w io.Writer, indent string, m *probe.MTUInfo, timeline bool) {
	if m.Verdict != probe.VerdictUntested {
		loss := "no loss on passing probes"
		if m.LossPct != nil && *m.LossPct > 0 {
			loss = fmt.Sprintf("%.1f%% of the passing probes' segments retransmitted", *m.LossPct)
		}
		fmt.Fprintf(w, "%s%d re-tests, %s, %d MAIL transactions\n", indent, m.Retests, loss, m.Transactions)
	}
	rv := m.Reverse
	if rv == nil {
		return
	}
	if rv.Verdict == "" || rv.Verdict == probe.VerdictUntested {
		fmt.Fprintf(w, "%sserver to client: untested\n", indent)
		return
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
	fmt.Fprintf(w, "%sserver to client: path MTU %s, %s, verdict %s\n", indent, pm, br, rv.Verdict)
	fmt.Fprintf(w, "%s%d sessions in %d rounds, %d re-tests; STARTTLS flight %d bytes, tested up to %d\n", indent,
		rv.Sessions, rv.Rounds, rv.Retests, rv.FlightBytes, rv.TestedUpTo)
	if timeline {
		for _, pr := range rv.Probes {
			fmt.Fprintf(w, "%s  round %d  size %5d  got %5d  %-14s flight %d\n", indent, pr.Round, pr.Size, pr.Sent, pr.Result, pr.Flight)
		}
	}
}

// Output safety. Text from the network (replies, banners, DNS and TLS
// names, error texts) and from the user ends up in every output format.
// None of it may break a line, a perfdata item or a metric label, so:
//
//   - safeText is the one escaper for text, Nagios and Prometheus label
//     values: control characters, line and paragraph separators, other
//     unprintable runes and bytes that are not UTF-8 are shown as Go-style
//     escapes (\x0a, \u2028, \xff), visibly rather than dropped;
//   - tprintf formats a line of text output with every argument passed
//     through safeText, so that only the format (ours) places newlines;
//   - escapeInvalidUTF8 rewrites, once per report, the bytes that are not
//     UTF-8 in every string of the report as \xNN, before any format is
//     rendered; JSON (which would turn them into U+FFFD silently) and a
//     saved baseline then show the same text as the other formats. JSON
//     keeps control characters, escaped by encoding/json.
//
// A backslash in the input is kept as it is: "\x0a" in a reply reads the
// same as a newline byte did, which is the point of showing it.

// safeText escapes s for one line of output (render.SafeText).
func safeText(s string) string { return render.SafeText(s) }

// tprintf is fmt.Fprintf for text output: string arguments, named string
// types, errors and Stringers are passed through safeText first.
func tprintf(w io.Writer, format string, args ...any) {
	safe := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			safe[i] = safeText(v)
		case error:
			safe[i] = safeText(v.Error())
		case fmt.Stringer:
			safe[i] = safeText(v.String())
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				safe[i] = safeText(rv.String())
			} else {
				safe[i] = a
			}
		}
	}
	fmt.Fprintf(w, format, safe...)
}

// escapeInvalidUTF8 replaces, in place, every byte that is not UTF-8 in
// the strings of v (a pointer to a report, walked through its exported
// fields, slices, maps and pointers) with its \xNN escape.
func escapeInvalidUTF8(v any) {
	fixValue(reflect.ValueOf(v), 0)
}

func fixValue(v reflect.Value, depth int) {
	if depth > 32 || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			fixValue(v.Elem(), depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fixValue(v.Field(i), depth+1)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			fixValue(v.Index(i), depth+1)
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			val := v.MapIndex(k)
			nk, nv := reflect.New(k.Type()).Elem(), reflect.New(val.Type()).Elem()
			nk.Set(k)
			nv.Set(val)
			fixValue(nk, depth+1)
			fixValue(nv, depth+1)
			if !nk.Equal(k) {
				v.SetMapIndex(k, reflect.Value{})
			}
			v.SetMapIndex(nk, nv)
		}
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) && v.CanSet() {
			v.SetString(escapeBytes(s))
		}
	}
}

// escapeBytes escapes only the bytes of s that are not UTF-8.
func escapeBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
