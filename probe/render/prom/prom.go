// Package prom renders probe reports as Prometheus metrics: the
// smtpprobe_* series of a run (Reports, a prometheus.Collector), a run
// that could not be made (FailedRun), and the text exposition format
// (Text) that `--format prom`, --prom-file and the exporter's /probe all
// use. A new metric goes here, as a Desc and a line of Collect.
package prom

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
)

// Metric descriptions. Names follow Prometheus conventions: the
// smtpprobe_ prefix and base units (seconds, bytes).
var (
	runLabels    = []string{"command", "module", "target"}
	resultLabels = []string{"command", "module", "target", "host", "address", "port", "idle_phase"}

	descSuccess  = prometheus.NewDesc("smtpprobe_success", "Whether the run's status was OK (1) or not (0).", runLabels, nil)
	descStatus   = prometheus.NewDesc("smtpprobe_status", "Monitoring status of the run: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.", runLabels, nil)
	descDuration = prometheus.NewDesc("smtpprobe_duration_seconds", "Wall time of the run.", runLabels, nil)
	descFindings = prometheus.NewDesc("smtpprobe_findings", "Findings of the run by severity.", append(runLabels[:3:3], "severity"), nil)

	descResultSuccess = prometheus.NewDesc("smtpprobe_result_success", "Whether the probe of one address did what it should (1) or not (0).", resultLabels, nil)
	descOutcome       = prometheus.NewDesc("smtpprobe_result_outcome", "The outcome of the probe of one address (always 1; the outcome is the label).", append(resultLabels[:7:7], "outcome"), nil)
	descPhase         = prometheus.NewDesc("smtpprobe_phase_duration_seconds", "Duration of one phase of a session, from the command to the reply.", append(resultLabels[:7:7], "phase"), nil)
	descIdle          = prometheus.NewDesc("smtpprobe_server_timeout_seconds", "How long the server waited on an idle session before it hung up.", append(resultLabels[:7:7], "closed_by"), nil)
	descPathMTU       = prometheus.NewDesc("smtpprobe_path_mtu_bytes", "Largest IP packet that crossed the path with DF set, per direction (out: client to server, in: server to client).", append(resultLabels[:7:7], "direction"), nil)
	descVerdict       = prometheus.NewDesc("smtpprobe_pmtu_verdict", "Path MTU verdict per direction (always 1; the verdict is the label).", append(resultLabels[:7:7], "direction", "verdict"), nil)
	descMTUSessions   = prometheus.NewDesc("smtpprobe_pmtu_sessions", "Probe sessions the path MTU bracketing used, per direction.", append(resultLabels[:7:7], "direction"), nil)
	descCertExpiry    = prometheus.NewDesc("smtpprobe_tls_cert_not_after_timestamp_seconds", "Expiry of the server certificate, Unix time.", resultLabels, nil)
	descCertVerified  = prometheus.NewDesc("smtpprobe_tls_cert_verified", "Whether the certificate verified for the MX name (1) or not (0).", resultLabels, nil)
	// Transport policies (issue 12, probe/policy.go).
	descMTASTSMode = prometheus.NewDesc("smtpprobe_mta_sts_mode", "The mode of the domain's MTA-STS policy (always 1; the mode is the label), when one was fetched.", append(runLabels[:3:3], "mode"), nil)
	descDANEMatch  = prometheus.NewDesc("smtpprobe_dane_match", "Whether a DNSSEC-validated TLSA record matched the certificate chain (1) or not (0), for hosts whose TLSA records senders use.", resultLabels, nil)
)

// Reports exposes reports as constant metrics: a prometheus.Collector
// of the runs' smtpprobe_* series. Modules[i] is the module of
// Reports[i], "" outside check. Targets[i], when set, is the target label
// of Reports[i] instead of its Target: the target as the user wrote it,
// port included, so that two runs against one host on different ports
// (two --prom-file files of one textfile collector) stay apart.
type Reports struct {
	Reports []*probe.Report
	Modules []string
	Targets []string
}

func (c Reports) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSuccess, descStatus, descDuration, descFindings, descResultSuccess,
		descOutcome, descPhase, descIdle, descPathMTU, descVerdict, descMTUSessions, descCertExpiry, descCertVerified, descMTASTSMode, descDANEMatch} {
		ch <- d
	}
}

func (c Reports) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- constGauge(d, v, labels...)
	}
	for i, rep := range c.Reports {
		module := ""
		if i < len(c.Modules) {
			module = c.Modules[i]
		}
		target := rep.Target
		if i < len(c.Targets) && c.Targets[i] != "" {
			target = c.Targets[i]
		}
		rl := []string{rep.Command, module, target}
		st := rep.Status()
		gauge(descSuccess, b2f(st == probe.StatusOK), rl...)
		gauge(descStatus, float64(st), rl...)
		gauge(descDuration, micro(rep.Duration.Seconds()), rl...)
		bySev := map[probe.Severity]int{probe.SevCritical: 0, probe.SevWarning: 0, probe.SevInfo: 0}
		for _, f := range rep.Findings {
			bySev[f.Severity]++
		}
		for _, sev := range slices.Sorted(maps.Keys(bySev)) {
			gauge(descFindings, float64(bySev[sev]), append(rl, string(sev))...)
		}
		if rep.Policy != nil && rep.Policy.MTASTS.Mode != "" {
			gauge(descMTASTSMode, 1, append(rl, rep.Policy.MTASTS.Mode)...)
		}
		for _, r := range rep.Results {
			l := []string{rep.Command, module, target, r.Host, r.Address, strconv.Itoa(int(r.Port)), r.Phase}
			if d := r.DANE; d != nil && d.Enforced {
				gauge(descDANEMatch, b2f(d.Matched != nil), l...)
			}
			gauge(descResultSuccess, b2f(r.Good()), l...)
			gauge(descOutcome, 1, append(l, string(r.Outcome))...)
			for _, ph := range r.PhaseOrder {
				gauge(descPhase, micro(r.Phases[ph].Seconds()), append(l, ph)...)
			}
			if r.Timeout != nil {
				gauge(descIdle, micro(r.Timeout.Seconds()), append(l, string(r.ClosedBy))...)
			}
			if m := r.MTUInfo; m != nil {
				for _, d := range mtuDirections(m) {
					dl := append(l[:len(l):len(l)], d.name)
					if d.pathMTU != nil {
						gauge(descPathMTU, float64(*d.pathMTU), dl...)
					}
					gauge(descVerdict, 1, append(dl, string(d.verdict))...)
					gauge(descMTUSessions, float64(d.sessions), dl...)
				}
			}
			if t := r.TLS; t != nil && !t.NotAfter.IsZero() {
				gauge(descCertExpiry, float64(t.NotAfter.Unix()), l...)
				gauge(descCertVerified, b2f(t.Verified), l...)
			}
		}
	}
}

// constGauge is the one constructor of the metrics of a run. Every label value goes through promLabel, so that a
// value from the network (a host name from DNS, an IPv6 zone, a TLS name)
// can neither panic prometheus.MustNewConstMetric, which does for values
// that are not UTF-8, nor make a label unreadable.
func constGauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	safe := make([]string, len(labels))
	for i, l := range labels {
		safe[i] = promLabel(l)
	}
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, safe...)
	if err != nil {
		// Only a wrong label count is left, a bug of this file.
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

// promLabel is a label value as the renderers show it: control
// characters and bytes that are not UTF-8 are escaped as in text output
// (render.SafeText), so that the same value reads the same in every format.
func promLabel(s string) string { return render.SafeText(s) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Text renders c (Reports, or any collector) in the Prometheus text
// exposition format, through a pedantic registry.
func Text(c prometheus.Collector) ([]byte, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// mtuDirection is one measured direction of an mtu result.
type mtuDirection struct {
	name     string // out or in
	verdict  probe.Verdict
	pathMTU  *int
	sessions int
}

// mtuDirections lists the directions of m that reached a verdict.
func mtuDirections(m *probe.MTUInfo) []mtuDirection {
	var ds []mtuDirection
	if m.Verdict != "" && m.Verdict != mtu.VerdictUntested {
		ds = append(ds, mtuDirection{probe.DirectionOut, m.Verdict, m.PathMTU, m.Sessions})
	}
	if rv := m.Reverse; rv != nil && rv.Verdict != "" {
		ds = append(ds, mtuDirection{probe.DirectionIn, rv.Verdict, rv.PathMTU, rv.Sessions})
	}
	return ds
}

// micro rounds seconds to the microsecond, as the Nagios perfdata does.
var micro = render.Micro

// FailedRun exposes a run that could not be made: not successful, status
// UNKNOWN, and how long it took.
type FailedRun struct {
	Command, Module, Target string
	Took                    time.Duration
}

func (f FailedRun) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSuccess
	ch <- descStatus
	ch <- descDuration
}

func (f FailedRun) Collect(ch chan<- prometheus.Metric) {
	l := []string{f.Command, f.Module, f.Target}
	ch <- constGauge(descSuccess, 0, l...)
	ch <- constGauge(descStatus, float64(probe.StatusUnknown), l...)
	ch <- constGauge(descDuration, f.Took.Seconds(), l...)
}
