package dnscheck

// Finding is a human hint about a run, with a stable code: DNS findings
// here, and every probe's findings (probe.Finding is this type). Every
// code is a constant of codes.go, listed in Codes with the severities it
// is given.
type Finding struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`    // stable kebab-case id, e.g. "mx-cname" (CodeMXCNAME)
	Message  string   `json:"message"` // one line, names the record or address
	// Option, when set, is the run option the finding advises changing,
	// in neutral words ("to": the envelope recipient), for a front end to
	// render as its own spelling (a flag, a config key, a URL parameter).
	// The message reads on its own without it.
	Option string `json:"-"`
}

// Severity is how much a finding matters: it sets the run's status
// (WARNING, CRITICAL) with the outcome, and orders the findings.
type Severity string

// Finding severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Severities are the severities, most severe first.
var Severities = []Severity{SeverityCritical, SeverityWarning, SeverityInfo}

// Rank orders severities: 0 for critical, 1 for warning, 2 for info, 3
// for anything else.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 0
	case SeverityWarning:
		return 1
	case SeverityInfo:
		return 2
	}
	return 3
}
