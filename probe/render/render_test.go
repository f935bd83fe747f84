package render_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// The prom output must parse with Prometheus's own text parser, and the
// nagios perfdata must follow the plugin guidelines' syntax.
func TestMachineFormatsParse(t *testing.T) {
	out := renderAs(t, pinnedReport(), nil, "prom", render.Options{})
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("prom output does not parse: %v", err)
	}
	for _, name := range []string{"smtpprobe_success", "smtpprobe_status", "smtpprobe_duration_seconds", "smtpprobe_result_outcome",
		"smtpprobe_phase_duration_seconds", "smtpprobe_tls_cert_not_after_timestamp_seconds"} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("prom output lacks %s", name)
		}
	}
	if v := mfs["smtpprobe_status"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("smtpprobe_status = %v, want 1 (WARNING)", v)
	}

	for name, rep := range map[string]*probe.Report{"mx": pinnedReport(), "session": goldenSession(), "timeout": goldenTimeout(), "mtu": goldenMTU()} {
		out := renderAs(t, rep, nil, "nagios", render.Options{Warn: goldenWarn, Crit: goldenCrit})
		first, _, _ := strings.Cut(string(out), "\n")
		status, perf, ok := strings.Cut(first, " | ")
		if !ok || !strings.HasPrefix(status, "SMTPPROBE "+rep.Status().String()+" - ") {
			t.Fatalf("%s: nagios first line = %q, want SMTPPROBE %s - text | perfdata", name, first, rep.Status())
		}
		wantPerfdata(t, perf)
	}
	combined, runs := goldenCheck()
	first, _, _ := strings.Cut(string(renderAs(t, combined, runs, "nagios", render.Options{})), "\n")
	_, perf, _ := strings.Cut(first, " | ")
	wantPerfdata(t, perf)
}

// wantPerfdata checks the plugin guidelines' perfdata syntax:
// 'label'=value[UOM];[warn];[crit];[min];[max], space-separated, unique labels.
func wantPerfdata(t testing.TB, perf string) {
	t.Helper()
	item := regexp.MustCompile(`^'([^'=]+)'=-?[0-9.]+(s|B|%|KB|MB|TB|c)?(;[0-9.:~@]*){0,4}$`)
	items := regexp.MustCompile(`'[^']*'=\S*`).FindAllString(perf, -1)
	if len(items) == 0 || len(strings.Join(items, " ")) != len(perf) {
		t.Errorf("nagios perfdata %q is not a space-separated list of 'label'=value items", perf)
	}
	seen := map[string]bool{}
	for _, it := range items {
		m := item.FindStringSubmatch(it)
		if m == nil {
			t.Errorf("nagios perfdata item %q does not follow 'label'=value[UOM];warn;crit;min;max", it)
			continue
		}
		if seen[m[1]] {
			t.Errorf("nagios perfdata label %q appears twice", m[1])
		}
		seen[m[1]] = true
	}
}

// lineSafe reports the first line of out that holds a control character,
// a line or paragraph separator or invalid UTF-8.
func lineSafe(out string) (bad string, ok bool) {
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !utf8.ValidString(line) || strings.ContainsFunc(line, func(r rune) bool {
			return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
		}) {
			return line, false
		}
	}
	return "", true
}

func TestDescribeCoalescedData(t *testing.T) {
	e := wire.Event{Kind: wire.EvData, Bytes: 2048, Count: 2048, Text: "2048 chunks of 1 B, 1ms apart"}
	if got, want := render.Describe(e), "C: 2048 bytes of message data (2048 chunks of 1 B, 1ms apart)"; got != want {
		t.Errorf("Describe(coalesced) = %q, want %q", got, want)
	}
	if got, want := render.Describe(wire.Event{Kind: wire.EvData, Bytes: 10}), "C: 10 bytes of message data"; got != want {
		t.Errorf("Describe(one write) = %q, want %q", got, want)
	}
	// Issue 20: a data event of no bytes is what TCP showed, not a
	// write; it never reads "C: 0 bytes of message data".
	for _, tc := range []struct {
		e    wire.Event
		want string
	}{
		{wire.Event{Kind: wire.EvData, Text: "all bytes acknowledged (TCP_INFO: 2100 bytes acked, 0 retransmits)"}, "data: all bytes acknowledged (TCP_INFO: 2100 bytes acked, 0 retransmits)"},
		{wire.Event{Kind: wire.EvData}, ""},
	} {
		if got := render.Describe(tc.e); got != tc.want {
			t.Errorf("Describe(%+v) = %q, want %q", tc.e, got, tc.want)
		}
	}
	rep := &probe.Report{Command: "session", Target: "192.0.2.10", Outcome: probe.OK, Results: []probe.Result{{
		Host: "192.0.2.10", Address: "192.0.2.10", Port: 25, Outcome: probe.OK,
		Timeline: []wire.Event{{Kind: wire.EvData, Bytes: 2048}, {Kind: wire.EvData}, {Kind: wire.EvData, Text: "all bytes acknowledged"}},
	}}}
	var b strings.Builder
	if err := render.Text(&b, rep, render.Options{Verbose: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "C: 0 bytes") || !strings.Contains(b.String(), "data: all bytes acknowledged") || strings.Count(b.String(), "\n") != 6 {
		t.Errorf("Text(-v) = \n%s\nwant the write, the acknowledgement, and no line for the empty event", b.String())
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

var errWrite = errGolden("disk full")

// A writer's error comes back from every writer.
func TestWriteError(t *testing.T) {
	combined, runs := goldenCheck()
	for name, err := range map[string]error{
		"Text":        render.Text(failingWriter{}, pinnedReport(), render.Options{}),
		"Nagios":      render.Nagios(failingWriter{}, pinnedReport(), render.Options{}),
		"JSON":        render.JSON(failingWriter{}, pinnedReport()),
		"CheckText":   render.CheckText(failingWriter{}, combined, runs, render.Options{}),
		"CheckNagios": render.CheckNagios(failingWriter{}, combined, runs),
	} {
		if err != errWrite {
			t.Errorf("%s(failing writer) = %v, want %v", name, err, errWrite)
		}
	}
}

// A finding's Option is named in the front end's words, when it gives them.
func TestFindingOption(t *testing.T) {
	rep := goldenSession()
	rep.Findings = append(rep.Findings, probe.Finding{Severity: probe.SevWarning, Code: dnscheck.CodeRcptRefused, Option: "to",
		Message: "192.0.2.11 refused the recipient <postmaster>; give a recipient the server accepts"})
	flag := func(k string) string { return "--" + k }
	for _, format := range []string{"text", "nagios"} {
		out := string(renderAs(t, rep, nil, format, render.Options{Option: flag}))
		if !strings.Contains(out, "give a recipient the server accepts (set with --to)") {
			t.Errorf("%s =\n%s\nwant the option as a flag", format, out)
		}
		if out := string(renderAs(t, goldenSession(), nil, format, render.Options{Option: flag})); strings.Contains(out, "set with") {
			t.Errorf("%s names an option for findings without one:\n%s", format, out)
		}
	}
}
