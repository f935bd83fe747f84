package assess

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// Thresholds mark measured figures as a problem, as a monitoring plugin's
// warning and critical thresholds do. Zero fields are not checked, except
// CertDays: certificate expiry is judged by default (see CertLimit).
type Thresholds struct {
	Time    time.Duration // a session phase slower than this
	Timeout time.Duration // a server idle timeout shorter than this
	MTU     int           // a path MTU below this
	// CertDays: a TLS certificate expiring in fewer days. 0 is the
	// default of the level (a warning within 14 days, a
	// critical once expired) and CertOff ("cert=0") checks nothing.
	CertDays int
	// Transient counts transient rejections (4yz replies, greylisting
	// among them): at least this many addresses rejecting transiently is
	// past the threshold. They make a report WARNING by themselves, so
	// a critical Transient of 1 is how a user makes them CRITICAL.
	Transient int
}

// defaultCertWarnDays is how close to expiry a certificate is a warning
// by default (blackbox_exporter's users alert at 14 days); an expired one
// is critical by default, whatever the TLS policy, because every sender
// that verifies refuses it and the rest are one renewal from it.
const defaultCertWarnDays = 14

// CertOff is the CertDays of "cert=0": certificate expiry not judged.
const CertOff = -1

// CertLimit returns the certificate threshold of a level (critical or
// not): a certificate with fewer than days whole days left
// (probe.Result.TLS.DaysLeft, negative once expired) is past it. ok is false
// when expiry is not judged at that level.
func (t Thresholds) CertLimit(critical bool) (days int, ok bool) {
	switch {
	case t.CertDays == CertOff:
		return 0, false
	case t.CertDays > 0:
		return t.CertDays, true
	case critical:
		return 0, true // expired
	}
	return defaultCertWarnDays, true
}

// IsZero reports whether no threshold is set.
func (t Thresholds) IsZero() bool { return t == Thresholds{} }

// ParseThresholds parses "time=2s,timeout=300s,mtu=1400,cert=14,transient=1":
//   - time: a session phase slower than this duration;
//   - timeout: a server idle timeout shorter than this duration;
//   - mtu: a path MTU below this many bytes;
//   - cert: a TLS certificate expiring in fewer days (0: not checked;
//     unset: a warning within 14 days, critical once expired);
//   - transient: this many or more addresses answering a transient (4yz)
//     rejection, such as greylisting (by default these are WARNING).
func ParseThresholds(s string) (Thresholds, error) {
	var t Thresholds
	if strings.TrimSpace(s) == "" {
		return t, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || v == "" {
			return t, fmt.Errorf("%q: want KEY=VALUE with KEY time, timeout, mtu, cert or transient", kv)
		}
		switch k {
		case "time", "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return t, fmt.Errorf("%s=%s: want a positive duration such as 2s", k, v)
			}
			if k == "time" {
				t.Time = d
			} else {
				t.Timeout = d
			}
		case "cert":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65535 {
				return t, fmt.Errorf("%s=%s: want a whole number of days, 0 to turn the check off", k, v)
			}
			t.CertDays = n
			if n == 0 {
				t.CertDays = CertOff
			}
		case "mtu", "transient":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 65535 {
				return t, fmt.Errorf("%s=%s: want a positive whole number", k, v)
			}
			switch k {
			case "mtu":
				t.MTU = n
			default:
				t.Transient = n
			}
		default:
			return t, fmt.Errorf("unknown threshold %q: want time, timeout, mtu, cert or transient", k)
		}
	}
	return t, nil
}

// String renders the thresholds as ParseThresholds reads them.
func (t Thresholds) String() string {
	var parts []string
	if t.Time > 0 {
		parts = append(parts, "time="+t.Time.String())
	}
	if t.Timeout > 0 {
		parts = append(parts, "timeout="+t.Timeout.String())
	}
	if t.MTU > 0 {
		parts = append(parts, fmt.Sprintf("mtu=%d", t.MTU))
	}
	if t.CertDays == CertOff {
		parts = append(parts, "cert=0")
	} else if t.CertDays > 0 {
		parts = append(parts, fmt.Sprintf("cert=%d", t.CertDays))
	}
	if t.Transient > 0 {
		parts = append(parts, fmt.Sprintf("transient=%d", t.Transient))
	}
	return strings.Join(parts, ",")
}

// Apply adds to r a finding for every figure past a threshold: critical
// ones first, and a warning only where the critical threshold was not
// also passed.
func Apply(r *probe.Report, warn, crit Thresholds) {
	var fs []probe.Finding
	for i := range r.Results {
		res := &r.Results[i]
		for _, lvl := range []struct {
			sev probe.Severity
			t   Thresholds
		}{{probe.SevCritical, crit}, {probe.SevWarning, warn}} {
			if f, ok := pastThreshold(res, lvl.t, lvl.sev); ok {
				fs = append(fs, f...)
				// The result's own too, so that a renderer can tell
				// which address a finding is about.
				res.Findings = append(res.Findings, f...)
				break
			}
		}
	}
	if f, ok := pastTransient(r, warn, crit); ok {
		fs = append(fs, f)
	}
	r.Findings = append(r.Findings, fs...)
	probe.SortFindings(r.Findings)
}

// pastTransient returns the finding for the transient rejections of the
// report, at the highest level whose threshold they reach.
func pastTransient(r *probe.Report, warn, crit Thresholds) (probe.Finding, bool) {
	var who []string
	for _, res := range r.Results {
		if res.TransientRejection() {
			who = append(who, fmt.Sprintf("%s (%s)", res.Address, res.Reply.String()))
		}
	}
	for _, lvl := range []struct {
		sev probe.Severity
		n   int
	}{{probe.SevCritical, crit.Transient}, {probe.SevWarning, warn.Transient}} {
		if lvl.n > 0 && len(who) >= lvl.n {
			return probe.Finding{Severity: lvl.sev, Code: dnscheck.CodeThresholdTransient, Message: fmt.Sprintf("%d address(es) rejected transiently, at least %d: %s",
				len(who), lvl.n, strings.Join(who, ", "))}, true
		}
	}
	return probe.Finding{}, false
}

// pastThreshold returns the findings for one result at one level.
func pastThreshold(res *probe.Result, t Thresholds, sev probe.Severity) ([]probe.Finding, bool) {
	var fs []probe.Finding
	who := res.Address
	if res.Host != "" && res.Host != res.Address {
		who = fmt.Sprintf("%s [%s]", res.Host, res.Address)
	}
	if t.Time > 0 {
		for _, ph := range res.PhaseOrder {
			if d := res.Phases[ph]; d > t.Time && ph != "mtu" {
				fs = append(fs, probe.Finding{Severity: sev, Code: dnscheck.CodeThresholdTime, Message: fmt.Sprintf("%s: %s took %s, above %s", who, ph, units.Duration(d), units.Setting(t.Time))})
			}
		}
	}
	if t.Timeout > 0 && res.Timeout != nil {
		if d := *res.Timeout; d < t.Timeout {
			fs = append(fs, probe.Finding{Severity: sev, Code: dnscheck.CodeThresholdTimeout, Message: fmt.Sprintf("%s: server idle timeout at %s is %s, below %s", who, res.Phase, units.Duration(d), units.Setting(t.Timeout))})
		}
	}
	if t.MTU > 0 && res.MTUInfo != nil && res.MTUInfo.PathMTU != nil && *res.MTUInfo.PathMTU < t.MTU {
		fs = append(fs, probe.Finding{Severity: sev, Code: dnscheck.CodeThresholdMTU, Message: fmt.Sprintf("%s: path MTU %d, below %d", who, *res.MTUInfo.PathMTU, t.MTU)})
	}
	if f, ok := certPast(res, t, sev, who); ok {
		fs = append(fs, f)
	}
	return fs, len(fs) > 0
}

// certPast returns the finding for a certificate past the cert threshold
// of one level: tls-cert-expired once it has expired, tls-cert-expiring
// before. The TLS policy does not matter (a verification failure under
// opportunistic TLS stays info; expiry does not).
func certPast(res *probe.Result, t Thresholds, sev probe.Severity, who string) (probe.Finding, bool) {
	days, ok := t.CertLimit(sev == probe.SevCritical)
	if !ok || res.TLS == nil || res.TLS.NotAfter.IsZero() || res.TLS.DaysLeft >= days {
		return probe.Finding{}, false
	}
	if res.TLS.DaysLeft < 0 {
		return probe.Finding{Severity: sev, Code: dnscheck.CodeTLSCertExpired, Message: fmt.Sprintf("%s: certificate expired on %s",
			who, res.TLS.NotAfter.Format(time.DateOnly))}, true
	}
	return probe.Finding{Severity: sev, Code: dnscheck.CodeTLSCertExpiring, Message: fmt.Sprintf("%s: certificate expires on %s, in %s, fewer than %d",
		who, res.TLS.NotAfter.Format(time.DateOnly), units.Count(res.TLS.DaysLeft, "day"), days)}, true
}
