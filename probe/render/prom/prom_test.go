package prom_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render/prom"
)

// series is one sample: name, labels and value.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

func parse(t *testing.T, b []byte) []series {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, b)
	}
	var out []series
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := series{name: name, labels: map[string]string{}, value: m.GetGauge().GetValue()}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			out = append(out, s)
		}
	}
	return out
}

func find(ss []series, name string, want map[string]string) []series {
	var out []series
next:
	for _, s := range ss {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// report is a run of one command against two ports of one address.
func report(command string, ports ...uint16) *probe.Report {
	rep := &probe.Report{Command: command, Target: "192.0.2.10", Started: time.Unix(0, 0), Duration: 1500 * time.Millisecond, Outcome: probe.OK}
	for _, p := range ports {
		rep.Results = append(rep.Results, probe.Result{Host: "192.0.2.10", Address: "192.0.2.10", Port: p, Outcome: probe.OK,
			Phases: map[string]time.Duration{"connect": 456789 * time.Nanosecond}, PhaseOrder: []string{"connect"}})
	}
	return rep
}

func TestReports(t *testing.T) {
	timeout := report("timeout", 25)
	to := 300004200 * time.Microsecond
	timeout.Results[0].Phase, timeout.Results[0].Timeout, timeout.Results[0].ClosedBy = "ehlo", &to, probe.ClosedBy421
	timeout.Findings = []probe.Finding{{Severity: probe.SevWarning, Code: "x", Message: "y"}}
	b, err := prom.Text(prom.Reports{Reports: []*probe.Report{report("session", 25, 587), timeout}, Modules: []string{"sub", "idle"}})
	if err != nil {
		t.Fatal(err)
	}
	ss := parse(t, b)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"smtpprobe_success", map[string]string{"command": "session", "module": "sub", "target": "192.0.2.10"}, 1},
		{"smtpprobe_status", map[string]string{"command": "timeout", "module": "idle"}, 1},
		{"smtpprobe_duration_seconds", map[string]string{"command": "session"}, 1.5},
		{"smtpprobe_findings", map[string]string{"command": "timeout", "severity": "warning"}, 1},
		{"smtpprobe_findings", map[string]string{"command": "timeout", "severity": "critical"}, 0},
		{"smtpprobe_result_success", map[string]string{"command": "session", "port": "25"}, 1},
		{"smtpprobe_result_success", map[string]string{"command": "session", "port": "587"}, 1},
		{"smtpprobe_phase_duration_seconds", map[string]string{"command": "session", "port": "587", "phase": "connect"}, 0.000457},
		{"smtpprobe_server_timeout_seconds", map[string]string{"module": "idle", "idle_phase": "ehlo", "closed_by": "421"}, 300.0042},
	} {
		got := find(ss, tc.name, tc.labels)
		if len(got) != 1 || got[0].value != tc.value {
			t.Errorf("%s%v = %+v, want one sample of %v", tc.name, tc.labels, got, tc.value)
		}
	}
}

// Two targets on one address but different ports are two series, not a
// duplicate the registry refuses.
func TestReportsPortsApart(t *testing.T) {
	b, err := prom.Text(prom.Reports{Reports: []*probe.Report{report("mx", 25, 2525)}})
	if err != nil {
		t.Fatalf("Text(two ports) = %v", err)
	}
	if n := len(find(parse(t, b), "smtpprobe_result_outcome", nil)); n != 2 {
		t.Errorf("smtpprobe_result_outcome has %d series, want 2 (one per port)", n)
	}
}

// Label values from the network are escaped as in the text output.
func TestReportsLabelsSafe(t *testing.T) {
	rep := report("mx", 25)
	rep.Results[0].Host = "mx\n\xff.example"
	b, err := prom.Text(prom.Reports{Reports: []*probe.Report{rep}})
	if err != nil {
		t.Fatal(err)
	}
	if got := find(parse(t, b), "smtpprobe_result_success", nil); len(got) != 1 || got[0].labels["host"] != `mx\x0a\xff.example` {
		t.Errorf("host label = %+v, want the escaped name", got)
	}
}

func TestFailedRun(t *testing.T) {
	b, err := prom.Text(prom.FailedRun{Command: "session", Module: "sub", Target: "192.0.2.10:587", Took: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ss := parse(t, b)
	l := map[string]string{"command": "session", "module": "sub", "target": "192.0.2.10:587"}
	if s := find(ss, "smtpprobe_success", l); len(s) != 1 || s[0].value != 0 {
		t.Errorf("success = %+v, want 0", s)
	}
	if s := find(ss, "smtpprobe_status", l); len(s) != 1 || s[0].value != 3 {
		t.Errorf("status = %+v, want 3 (UNKNOWN)", s)
	}
	if s := find(ss, "smtpprobe_duration_seconds", l); len(s) != 1 || s[0].value != 0.25 {
		t.Errorf("duration = %+v, want 0.25", s)
	}
	if strings.Contains(string(b), "smtpprobe_result_") {
		t.Errorf("a failed run has result series:\n%s", b)
	}
}

// Targets names the runs as written, ports included: two runs against one
// address on different ports are two series.
func TestReportsTargets(t *testing.T) {
	b, err := prom.Text(prom.Reports{Reports: []*probe.Report{report("session", 25), report("session", 587)},
		Modules: []string{"", ""}, Targets: []string{"192.0.2.10", "192.0.2.10:587"}})
	if err != nil {
		t.Fatalf("Text(two targets) = %v", err)
	}
	ss := parse(t, b)
	for _, target := range []string{"192.0.2.10", "192.0.2.10:587"} {
		if got := find(ss, "smtpprobe_success", map[string]string{"target": target}); len(got) != 1 {
			t.Errorf("smtpprobe_success{target=%q} = %+v, want one", target, got)
		}
		if got := find(ss, "smtpprobe_result_success", map[string]string{"target": target}); len(got) != 1 {
			t.Errorf("smtpprobe_result_success{target=%q} = %+v, want one", target, got)
		}
	}
}
