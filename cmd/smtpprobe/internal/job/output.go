package job

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/assess"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/render/output"
)

// Output is how a command's report is printed, judged and kept: the
// settings as given, then (after Check) what they parse to.
type Output struct {
	Format       string // one of output.Formats, any case
	JSON         bool   // short for Format "json"
	Warning      string // thresholds, as ParseThresholds reads them
	Critical     string
	Baseline     string // a report saved by SaveReport, to compare with
	SaveBaseline string // where to save this run's report
	PromFile     string // where to write the metrics too
	Command      string // the command whose report this is

	Warn, Crit assess.Thresholds
	Base       *probe.Report
}

// Check normalises o.Format, parses the thresholds, checks that the
// directories of the files to write exist and reads the baseline, before
// any probe runs. Every problem is a *FieldError ("format", "warning",
// "critical", "prom_file", "save_baseline", "baseline").
func (o *Output) Check() error {
	o.Format = strings.ToLower(o.Format)
	if o.JSON {
		o.Format = output.FormatJSON
	}
	if !slices.Contains(output.Formats, o.Format) {
		return &FieldError{Field: "format", Value: fmt.Sprintf("%q", o.Format),
			Reason: "want " + output.FormatWords() + help.DidYouMean(o.Format, output.Formats)}
	}
	var err error
	if o.Warn, err = ParseThresholds("warning", o.Warning, o.Command); err != nil {
		return err
	}
	if o.Crit, err = ParseThresholds("critical", o.Critical, o.Command); err != nil {
		return err
	}
	for _, f := range []struct{ field, path string }{{"prom_file", o.PromFile}, {"save_baseline", o.SaveBaseline}} {
		if err := CheckWritable(f.field, f.path); err != nil {
			return err
		}
	}
	if o.Baseline != "" {
		o.Base, err = ReadBaseline(o.Baseline)
	}
	return err
}

// ThresholdHelp describes each threshold key.
var ThresholdHelp = map[string]string{"time": "time=DURATION (a phase slower)", "timeout": "timeout=DURATION (server idle timeout shorter)",
	"mtu": "mtu=N (path MTU lower)", "cert": "cert=DAYS (certificate expiring sooner; by default a warning within 14 days and critical once expired, 0 turns it off)", "transient": "transient=N (addresses rejecting with 4yz)"}

// ParseThresholds parses the thresholds s ("time=2s,cert=14") of field
// ("warning" or "critical") for command. A key the command does not
// measure is a *FieldError, as is a list that does not parse.
func ParseThresholds(field, s, command string) (assess.Thresholds, error) {
	t, err := assess.ParseThresholds(s)
	if err != nil {
		return t, &FieldError{Field: field, Reason: err.Error()}
	}
	keys := ThresholdKeys(command)
	set := map[string]bool{"time": t.Time > 0, "timeout": t.Timeout > 0, "mtu": t.MTU > 0, "cert": t.CertDays != 0, "transient": t.Transient > 0}
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
	b, err := ReadFile(path, BaselineLimit)
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
func Judge(rep *probe.Report, warn, crit assess.Thresholds, base *probe.Report) {
	assess.Apply(rep, warn, crit)
	if base != nil {
		rep.Findings = append(rep.Findings, assess.Compare(base, rep)...)
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
