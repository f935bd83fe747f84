package job

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
)

// ThresholdKeys are the threshold keys that apply to each command: mx
// and session measure no idle timeout and no path MTU, timeout no
// certificate.
var ThresholdKeys = map[string][]string{
	"mx": {"time", "cert", "transient"}, "session": {"time", "cert", "transient"},
	"timeout": {"time", "timeout", "transient"}, "mtu": {"time", "mtu"},
	"check": {"time", "timeout", "mtu", "cert", "transient"},
}

// ThresholdHelp describes each threshold key.
var ThresholdHelp = map[string]string{"time": "time=DURATION (a phase slower)", "timeout": "timeout=DURATION (server idle timeout shorter)",
	"mtu": "mtu=N (path MTU lower)", "cert": "cert=DAYS (certificate expiring sooner)", "transient": "transient=N (addresses rejecting with 4yz)"}

// ParseThresholds parses the thresholds s ("time=2s,cert=14") of field
// ("warning" or "critical") for command. A key the command does not
// measure is a *FieldError, as is a list that does not parse.
func ParseThresholds(field, s, command string) (probe.Thresholds, error) {
	t, err := probe.ParseThresholds(s)
	if err != nil {
		return t, &FieldError{Field: field, Reason: err.Error()}
	}
	keys := ThresholdKeys[command]
	set := map[string]bool{"time": t.Time > 0, "timeout": t.Timeout > 0, "mtu": t.MTU > 0, "cert": t.CertDays > 0, "transient": t.Transient > 0}
	for _, k := range []string{"time", "timeout", "mtu", "cert", "transient"} {
		if set[k] && keys != nil && !slices.Contains(keys, k) {
			return t, &FieldError{Field: field, Value: k + "=...",
				Reason: fmt.Sprintf("%s does not measure that; its keys are %s", command, strings.Join(keys, ", "))}
		}
	}
	return t, nil
}

// ReadBaseline reads a report saved by SaveReport (or printed as JSON) to
// compare a run with. Its error is a *FieldError for "baseline".
func ReadBaseline(path string) (*probe.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &FieldError{Field: "baseline", Reason: err.Error()}
	}
	var rep probe.Report
	if err := json.Unmarshal(b, &rep); err != nil || rep.Command == "" {
		return nil, &FieldError{Field: "baseline", Value: path, Reason: fmt.Sprintf("not a saved report (%v)", err)}
	}
	return &rep, nil
}

// Judge applies the thresholds to rep and, with a baseline, adds the
// regressions since it.
func Judge(rep *probe.Report, warn, crit probe.Thresholds, base *probe.Report) {
	rep.ApplyThresholds(warn, crit)
	if base != nil {
		rep.Findings = append(rep.Findings, probe.Compare(base, rep)...)
		probe.SortFindings(rep.Findings)
	}
}

// SaveReport writes rep to path as indented JSON, atomically, to be read
// back by ReadBaseline.
func SaveReport(path string, rep *probe.Report) error {
	var b strings.Builder
	if err := render.JSON(&b, rep); err != nil {
		return err
	}
	return render.WriteFile(path, []byte(b.String()))
}
