package render_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// FuzzRender puts arbitrary text where peers and users put text (target,
// host, address, banner, error, reply, TLS name, finding) and renders the
// report in every format: nothing panics, the Prometheus output parses
// with expfmt and its label values are printable UTF-8, text and Nagios
// output are line-safe with one perfdata separator, and JSON is valid.
func FuzzRender(f *testing.F) {
	f.Add("example.com", "mx1.example.com", "192.0.2.10", "220 mx1.example.com ESMTP", string(probe.Refused), "mx1.example.com", "a finding")
	f.Add("t\xff", "h\n", "fe80::1%\xff", "220 \x1b[2J\u2028", "e\r\n|x", "n\x00", "m'=\"\\")
	f.Add("", "", "", "", "", "", "")
	f.Add("\xc3", "\u0085", "\u202e", "\U000e0001", "\ufffd", "a\tb", "\x7f")
	f.Fuzz(func(t *testing.T, target, host, addr, banner, errText, tlsName, msg string) {
		rep := pinnedReport()
		rep.Target = target
		r := &rep.Results[0]
		r.Host, r.Address, r.Banner, r.Error = host, addr, banner, errText
		r.TLS.Names = []string{tlsName}
		r.Reply = &wire.Reply{Code: 250, Text: banner + "\n" + errText}
		r.Timeline = append(r.Timeline, wire.Event{Kind: wire.EvReply, Reply: r.Reply}, wire.Event{Kind: wire.EvRST, Text: errText})
		rep.Results[1].Host = tlsName
		rep.Findings = append(rep.Findings, probe.Finding{Severity: probe.SevWarning, Code: "fuzz", Message: msg})

		var buf bytes.Buffer
		buf.Write(renderAs(t, rep, nil, "prom", render.Options{}))
		p := expfmt.NewTextParser(model.LegacyValidation)
		mfs, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("prom output does not parse: %v\n%s", err, buf.Bytes())
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if _, ok := lineSafe(l.GetValue()); !ok || strings.Contains(l.GetValue(), "\n") {
						t.Errorf("%s label %s = %q, want printable UTF-8", mf.GetName(), l.GetName(), l.GetValue())
					}
				}
			}
		}
		if got := len(mfs["smtpprobe_result_success"].GetMetric()); got != 2 {
			t.Errorf("smtpprobe_result_success has %d series, want 2", got)
		}
		for _, format := range []string{"text", "nagios"} {
			buf.Reset()
			rep := pinnedReport()
			rep.Target, rep.Results[0].Host, rep.Results[0].Error = target, host, errText
			rep.Findings = append(rep.Findings, probe.Finding{Severity: probe.SevCritical, Code: "fuzz", Message: msg})
			buf.Write(renderAs(t, rep, nil, format, render.Options{Verbose: true}))
			if line, ok := lineSafe(buf.String()); !ok {
				t.Errorf("render(%s) line %q is not line-safe", format, line)
			}
			if first, _, _ := strings.Cut(buf.String(), "\n"); format == "nagios" && strings.Count(first, "|") != 1 {
				t.Errorf("render(nagios) first line %q, want one perfdata separator", first)
			}
		}
		buf.Reset()
		buf.Write(renderAs(t, rep, nil, "json", render.Options{}))
		if !json.Valid(buf.Bytes()) || !utf8.Valid(buf.Bytes()) {
			t.Errorf("render(json) is not valid UTF-8 JSON:\n%s", buf.Bytes())
		}
	})
}
