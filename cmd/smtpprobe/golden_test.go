package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/batch"
	"github.com/smtpprobe/smtpprobe/probe/config"
	promrender "github.com/smtpprobe/smtpprobe/probe/render/prom"
)

// goldenThresholds are the Nagios thresholds of the golden files.
var goldenWarn = probe.Thresholds{Time: 2 * time.Second, Timeout: 10 * time.Minute, MTU: 1450, CertDays: 14}
var goldenCrit = probe.Thresholds{Time: 5 * time.Second, Timeout: 5 * time.Minute, MTU: 1280, CertDays: 7}

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

// TestCommandGolden renders the pinned report of every command in every
// format.
func TestCommandGolden(t *testing.T) {
	reports := map[string]func() *probe.Report{
		"session": goldenSession,
		"timeout": goldenTimeout,
		"mtu":     goldenMTU,
	}
	for name, mk := range reports {
		for _, tc := range []struct {
			suffix string
			cf     outputFlags
		}{
			{"text", outputFlags{format: "text"}},
			{"verbose.text", outputFlags{format: "text", verbose: true}},
			{"json", outputFlags{format: "json"}},
			{"nagios", outputFlags{format: "nagios", warn: goldenWarn, crit: goldenCrit}},
			{"prom", outputFlags{format: "prom"}},
		} {
			var buf bytes.Buffer
			rep := mk()
			code, err := emit(rep, &tc.cf, &buf)
			if err != nil || code != int(rep.Status()) {
				t.Errorf("emit(%s %s) = %d, %v; want %d, nil", name, tc.suffix, code, err, rep.Status())
			}
			wantGolden(t, name+"."+tc.suffix+".golden", buf.Bytes())
		}
	}
}

// TestCheckGolden renders the pinned combined check report in every
// format.
func TestCheckGolden(t *testing.T) {
	for _, tc := range []struct {
		suffix string
		cf     outputFlags
	}{
		{"text", outputFlags{format: "text"}},
		{"verbose.text", outputFlags{format: "text", verbose: true}},
		{"json", outputFlags{format: "json"}},
		{"nagios", outputFlags{format: "nagios"}},
		{"prom", outputFlags{format: "prom"}},
	} {
		combined, runs := goldenCheck()
		var jobs []*batch.Check
		for _, r := range runs {
			jobs = append(jobs, &batch.Check{Target: r.Target, Module: &config.Module{Name: r.Module, Command: r.Command},
				Report: r.Report, Err: r.Err, Warn: r.Warn, Crit: r.Crit})
		}
		var buf bytes.Buffer
		code, err := emitCheck(combined, jobs, &tc.cf, &buf)
		if err != nil || code != int(probe.StatusUnknown) {
			t.Errorf("emitCheck(%s) = %d, %v; want 3 (UNKNOWN), nil", tc.suffix, code, err)
		}
		wantGolden(t, "check."+tc.suffix+".golden", buf.Bytes())
	}
}

// TestServeGolden renders what serve's /probe answers: a module's run,
// and a run that could not be made.
func TestServeGolden(t *testing.T) {
	b, err := promrender.Text(promrender.Reports{Reports: []*probe.Report{goldenTimeout()}, Modules: []string{"idle"}})
	if err != nil {
		t.Fatal(err)
	}
	wantGolden(t, "serve-probe.prom.golden", b)
	b, err = promrender.Text(promrender.FailedRun{Command: "session", Module: "submission", Target: "192.0.2.10:587", Took: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wantGolden(t, "serve-failed.prom.golden", b)
}
