package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smtpprobe/smtpprobe/probe"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// pinnedReport is a report with fixed times and documentation addresses.
func pinnedReport() *probe.Report {
	pref := func(n int) *int { return &n }
	yes, no := true, false
	ehlo := probe.Reply{Code: 250, Text: "mx1.example.com\nPIPELINING\nSIZE 10240000\nSTARTTLS", Lines: []string{"mx1.example.com", "PIPELINING", "SIZE 10240000", "STARTTLS"}}
	return &probe.Report{
		Command:    "mx",
		Target:     "example.com",
		Started:    time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC),
		DurationMS: 2031,
		Outcome:    probe.ConnectTimeout,
		Results: []probe.Result{{
			Host: "mx1.example.com", Address: "192.0.2.10", Port: 25, Preference: pref(10), Outcome: probe.OK,
			Phases:       map[string]float64{"connect": 0.41, "banner": 2.2, "ehlo": 0.52, "starttls": 8.1, "ehlo_tls": 0.6, "quit": 0.3},
			PhaseOrder:   []string{"connect", "banner", "ehlo", "starttls", "ehlo_tls", "quit"},
			Reply:        &probe.Reply{Code: 221, Enhanced: "2.0.0", Text: "Bye"},
			Banner:       "220 mx1.example.com ESMTP Postfix",
			Capabilities: []string{"PIPELINING", "SIZE 10240000", "8BITMIME"},
			TLS: &probe.TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Subject: "CN=mx1.example.com",
				Issuer: "CN=Example CA", Names: []string{"mx1.example.com"}, NotAfter: time.Date(2027, 2, 20, 0, 0, 0, 0, time.UTC),
				DaysLeft: 89, Verified: true},
			PTR: []string{"mx1.example.com"}, FCrDNS: &yes,
			Timeline: []probe.Event{
				{At: 410 * time.Microsecond, Kind: probe.EvConnect, Text: "192.0.2.1:40000 -> 192.0.2.10:25"},
				{At: 2610 * time.Microsecond, Kind: probe.EvReply, Reply: &probe.Reply{Code: 220, Text: "mx1.example.com ESMTP Postfix"}},
				{At: 2620 * time.Microsecond, Kind: probe.EvSend, Text: "EHLO probe.example.com"},
				{At: 3140 * time.Microsecond, Kind: probe.EvReply, Reply: &ehlo},
			},
		}, {
			Host: "mx2.example.com", Address: "2001:db8::25", Port: 25, Preference: pref(20), Outcome: probe.ConnectTimeout,
			Error:  "no answer to SYN within 2s (4.4.1 No answer from host)",
			Phases: map[string]float64{"connect": 2000}, PhaseOrder: []string{"connect"},
			PTR: []string{}, FCrDNS: &no, Timeline: []probe.Event{},
		}},
		Findings: []probe.Finding{
			{Severity: "warning", Code: "mx-cname", Message: "MX target mx2.example.com is a CNAME (RFC 2181 §10.3)"},
			{Severity: "info", Code: "no-ptr", Message: "2001:db8::25 has no PTR record"},
		},
	}
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		cf   outputFlags
	}{
		{"mx.text.golden", outputFlags{format: "text"}},
		{"mx-verbose.text.golden", outputFlags{format: "text", verbose: true}},
		{"mx.json.golden", outputFlags{format: "json"}},
		{"mx.nagios.golden", outputFlags{format: "nagios", warn: probe.Thresholds{Time: 2 * time.Second, CertDays: 14}, crit: probe.Thresholds{Time: 5 * time.Second, CertDays: 7}}},
		{"mx.prom.golden", outputFlags{format: "prom"}},
	} {
		var buf bytes.Buffer
		code, err := emit(pinnedReport(), &tc.cf, &buf)
		if err != nil || code != 1 {
			t.Errorf("emit(%s) = %d, %v; want 1 (WARNING), nil", tc.file, code, err)
		}
		path := filepath.Join("testdata", tc.file)
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("emit(%s) =\n%s\nwant\n%s", tc.file, buf.Bytes(), want)
		}
	}
}

func TestEmitQuiet(t *testing.T) {
	rep := pinnedReport()
	rep.Results = rep.Results[:1]
	rep.Findings = nil
	rep.Outcome = probe.OK
	var buf bytes.Buffer
	code, err := emit(rep, &outputFlags{format: "json", quiet: true}, &buf)
	if code != 0 || err != nil || buf.Len() != 0 {
		t.Errorf("emit(OK, quiet) = %d, %v, %q; want 0, nil, nothing", code, err, buf.String())
	}
}

// The prom output must parse with Prometheus's own text parser, and the
// nagios perfdata must follow the plugin guidelines' syntax.
func TestMachineFormatsParse(t *testing.T) {
	var buf bytes.Buffer
	if _, err := emit(pinnedReport(), &outputFlags{format: "prom"}, &buf); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(&buf)
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

	buf.Reset()
	if _, err := emit(pinnedReport(), &outputFlags{format: "nagios", warn: probe.Thresholds{Time: 2 * time.Second}}, &buf); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(buf.String(), "\n")
	status, perf, ok := strings.Cut(first, " | ")
	if !ok || !strings.HasPrefix(status, "SMTPPROBE WARNING - ") {
		t.Fatalf("nagios first line = %q, want SMTPPROBE WARNING - text | perfdata", first)
	}
	item := regexp.MustCompile(`^'[^'=]+'=-?[0-9.]+(s|B|%|KB|MB|TB|c)?(;[0-9.:~@]*){0,4}$`)
	items := regexp.MustCompile(`'[^']*'=\S*`).FindAllString(perf, -1)
	if len(items) == 0 || len(strings.Join(items, " ")) != len(perf) {
		t.Errorf("nagios perfdata %q is not a space-separated list of 'label'=value items", perf)
	}
	for _, it := range items {
		if !item.MatchString(it) {
			t.Errorf("nagios perfdata item %q does not follow 'label'=value[UOM];warn;crit;min;max", it)
		}
	}
}

func TestDescribeCoalescedData(t *testing.T) {
	e := probe.Event{Kind: probe.EvData, Bytes: 2048, Count: 2048, Text: "2048 chunks of 1 B, 1ms apart"}
	if got, want := describe(e), "C: 2048 bytes of message data (2048 chunks of 1 B, 1ms apart)"; got != want {
		t.Errorf("describe(coalesced) = %q, want %q", got, want)
	}
	if got, want := describe(probe.Event{Kind: probe.EvData, Bytes: 10}), "C: 10 bytes of message data"; got != want {
		t.Errorf("describe(one write) = %q, want %q", got, want)
	}
}
