package render_test

// What hostile peers and users put in a report (replies, banners, DNS
// names, error texts) never breaks a line of text or Nagios output or a
// Prometheus label, and JSON shows bad bytes as the other formats do.

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// hostileReport is the pinned report with hostile text in every string
// field a peer or the user can influence.
func hostileReport() *probe.Report {
	const bad = "a\nb\r\x00\x1b[31m\xff\xc3\u2028|'=\"\\ ok"
	rep := pinnedReport()
	rep.Target = "t" + bad
	r := &rep.Results[0]
	r.Host, r.Address, r.Banner, r.Error = "h"+bad, "fe80::1%"+bad, "220 "+bad, "err "+bad
	r.Capabilities = []string{"C" + bad}
	r.PTR = []string{"p" + bad}
	r.TLS.Names, r.TLS.Cipher, r.TLS.Version = []string{"n" + bad}, "c"+bad, "v"+bad
	r.Phase, r.ClosedBy, r.ServerLog = "banner", "421"+bad, "log"+bad
	to := 12500 * time.Microsecond
	r.Timeout = &to
	r.Timeline = append(r.Timeline, wire.Event{Kind: wire.EvReply, Reply: &wire.Reply{Code: 250, Text: bad + "\n" + bad}},
		wire.Event{Kind: wire.EvRST, Text: bad})
	rep.Results[1].Host = "h2" + bad
	rep.Findings = append(rep.Findings, probe.Finding{Severity: probe.SevWarning, Code: "x" + bad, Message: "m" + bad})
	return rep
}

func TestRenderHostileReport(t *testing.T) {
	for _, format := range []string{"text", "nagios", "prom", "json"} {
		var buf bytes.Buffer
		buf.Write(renderAs(t, hostileReport(), nil, format, render.Options{Verbose: true}))
		out := buf.String()
		switch format {
		case "text", "nagios":
			if line, ok := lineSafe(out); !ok {
				t.Errorf("render(hostile, %s) line %q is not line-safe\n%s", format, line, out)
			}
			if !strings.Contains(out, `a\x0ab\x0d\x00\x1b[31m\xff\xc3\u2028`) {
				t.Errorf("render(hostile, %s) =\n%s\nwant the bad bytes escaped visibly", format, out)
			}
			if format == "nagios" {
				first, _, _ := strings.Cut(out, "\n")
				if strings.Count(first, " | ") != 1 {
					t.Errorf("render(hostile, nagios) first line %q, want one perfdata separator", first)
				}
				_, perf, _ := strings.Cut(first, " | ")
				wantPerfdata(t, perf)
			}
		case "prom":
			p := expfmt.NewTextParser(model.LegacyValidation)
			if _, err := p.TextToMetricFamilies(strings.NewReader(out)); err != nil {
				t.Errorf("render(hostile, prom) does not parse: %v\n%s", err, out)
			}
			if line, ok := lineSafe(out); !ok {
				t.Errorf("render(hostile, prom) line %q is not line-safe", line)
			}
		case "json":
			var rep probe.Report
			if err := json.Unmarshal(buf.Bytes(), &rep); err != nil {
				t.Fatalf("render(hostile, json) does not decode: %v", err)
			}
			if want := "ta\nb\r\x00\x1b[31m\\xff\\xc3\u2028|'=\"\\ ok"; rep.Target != want {
				t.Errorf("render(hostile, json) target = %q, want %q", rep.Target, want)
			}
		}
	}
}

func TestSafeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"mx.example.com ESMTP", "mx.example.com ESMTP"},
		{"bücher ✓", "bücher ✓"},
		{"a\nb", `a\x0ab`},
		{"a\tb\r\x00\x7f", `a\x09b\x0d\x00\x7f`},
		{"\xff\xc3", `\xff\xc3`},
		{"\u0085\u2028\u2029\u200b\ufeff", `\u0085\u2028\u2029\u200b\ufeff`},
		{"\U000e0001", `\U000e0001`},
		{"\ufffd", `\ufffd`},
		{`back\slash`, `back\slash`},
	}
	for _, tt := range tests {
		if got := render.SafeText(tt.in); got != tt.want {
			t.Errorf("render.SafeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := render.SafeText(render.SafeText(tt.in)); got != render.SafeText(tt.in) {
			t.Errorf("render.SafeText(render.SafeText(%q)) = %q, want it idempotent", tt.in, got)
		}
	}
}
