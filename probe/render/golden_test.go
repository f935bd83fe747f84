package render_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/assess"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/render/output"
	"github.com/smtpprobe/smtpprobe/probe/render/prom"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// goldenWarn and goldenCrit are the Nagios thresholds of the golden files.
var (
	goldenWarn = assess.Thresholds{Time: 2 * time.Second, Timeout: 10 * time.Minute, MTU: 1450, CertDays: 14}
	goldenCrit = assess.Thresholds{Time: 5 * time.Second, Timeout: 5 * time.Minute, MTU: 1280, CertDays: 7}
)

// wantGolden compares got with testdata/file, or rewrites it with -update.
func wantGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed:\n%s\nwant\n%s", file, got, want)
	}
}

// renderAs renders rep (combining runs, when there are any) in format
// through output.Write, as the command line does.
func renderAs(t testing.TB, rep *probe.Report, runs []render.Run, format string, opt render.Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := output.Write(&buf, rep, runs, output.Options{Format: format, Options: opt}); err != nil {
		t.Fatalf("render %s: %v", format, err)
	}
	return buf.Bytes()
}

// goldenFormats are the formats of the golden files, by file suffix.
var goldenFormats = []struct {
	suffix, format string
	opt            render.Options
}{
	{"text", "text", render.Options{}},
	{"verbose.text", "text", render.Options{Verbose: true}},
	{"json", "json", render.Options{}},
	{"nagios", "nagios", render.Options{Warn: goldenWarn, Crit: goldenCrit}},
	{"prom", "prom", render.Options{}},
}

// TestMXGolden renders the pinned mx report.
func TestMXGolden(t *testing.T) {
	for _, tc := range []struct {
		file, format string
		opt          render.Options
	}{
		{"mx.text.golden", "text", render.Options{}},
		{"mx-verbose.text.golden", "text", render.Options{Verbose: true}},
		{"mx.json.golden", "json", render.Options{}},
		{"mx.nagios.golden", "nagios", render.Options{Warn: assess.Thresholds{Time: 2 * time.Second, CertDays: 14}, Crit: assess.Thresholds{Time: 5 * time.Second, CertDays: 7}}},
		{"mx.prom.golden", "prom", render.Options{}},
	} {
		rep := pinnedReport()
		if st := rep.Status(); st != probe.StatusWarning {
			t.Errorf("pinned mx report status %s, want WARNING", st)
		}
		wantGolden(t, tc.file, renderAs(t, rep, nil, tc.format, tc.opt))
	}
}

// TestCommandGolden renders the pinned report of session, timeout and mtu
// in every format.
func TestCommandGolden(t *testing.T) {
	for name, mk := range map[string]func() *probe.Report{
		"session": goldenSession,
		"timeout": goldenTimeout,
		"mtu":     goldenMTU,
	} {
		for _, f := range goldenFormats {
			wantGolden(t, name+"."+f.suffix+".golden", renderAs(t, mk(), nil, f.format, f.opt))
		}
	}
}

// TestCheckGolden renders the pinned combined check report in every
// format; each run carries its own thresholds.
func TestCheckGolden(t *testing.T) {
	for _, f := range goldenFormats {
		combined, runs := goldenCheck()
		if st := combined.Status(); st != probe.StatusUnknown {
			t.Errorf("pinned check report status %s, want UNKNOWN (a run could not be made)", st)
		}
		wantGolden(t, "check."+f.suffix+".golden", renderAs(t, combined, runs, f.format, render.Options{Verbose: f.opt.Verbose}))
	}
}

// TestServeGolden renders what serve's /probe answers: a module's run,
// and a run that could not be made.
func TestServeGolden(t *testing.T) {
	b, err := prom.Text(prom.Reports{Reports: []*probe.Report{goldenTimeout()}, Modules: []string{"idle"}})
	if err != nil {
		t.Fatal(err)
	}
	wantGolden(t, "serve-probe.prom.golden", b)
	b, err = prom.Text(prom.FailedRun{Command: "session", Module: "submission", Target: "192.0.2.10:587", Took: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wantGolden(t, "serve-failed.prom.golden", b)
}
