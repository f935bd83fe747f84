package probe

import (
	"encoding/json"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// The model keeps every duration as a time.Duration; the JSON document
// (README, "JSON") gives them in milliseconds, under names ending in _ms:
// fractional milliseconds rounded to the microsecond for measured times
// (units.MS), whole milliseconds for a report's duration. The wire structs
// below are the JSON documents' layout, field for field and in the same
// order as the model's structs, so that the output's keys keep their
// order; TestWireFields checks that they stay in step.

// resultJSON is Result on the wire.
type resultJSON struct {
	Target        string             `json:"target,omitempty"`
	Module        string             `json:"module,omitempty"`
	Host          string             `json:"host"`
	Address       string             `json:"address"`
	Port          uint16             `json:"port"`
	Preference    *int               `json:"preference,omitempty"`
	Outcome       Outcome            `json:"outcome"`
	Error         string             `json:"error,omitempty"`
	FailedPhase   string             `json:"failed_phase,omitempty"`
	Phases        map[string]float64 `json:"phases"`
	PhaseOrder    []string           `json:"phase_order,omitempty"`
	Reply         *wire.Reply        `json:"reply,omitempty"`
	Banner        string             `json:"banner,omitempty"`
	Capabilities  []string           `json:"capabilities,omitempty"`
	TLS           *TLSInfo           `json:"tls,omitempty"`
	DANE          *policy.DANEReport `json:"dane,omitempty"`
	PTR           []string           `json:"ptr,omitempty"`
	FCrDNS        *bool              `json:"fcrdns,omitempty"`
	MessageBytes  int                `json:"message_bytes,omitempty"`
	BytesWritten  int                `json:"bytes_written,omitempty"`
	BodyTCP       *wire.BodyTCP      `json:"body_tcp,omitempty"`
	Acked         bool               `json:"acked,omitempty"`
	QueueID       string             `json:"queue_id,omitempty"`
	IdleTimeoutMS *float64           `json:"idle_timeout_ms,omitempty"`
	Phase         string             `json:"phase,omitempty"`
	TimeoutMS     *float64           `json:"timeout_ms,omitempty"`
	ClosedBy      ClosedBy           `json:"closed_by,omitempty"`
	ServerLog     string             `json:"server_log,omitempty"`
	Server        *Server            `json:"server,omitempty"`
	GreetingDelay *float64           `json:"greeting_delay_ms,omitempty"`
	Deferred      *Result            `json:"deferred_session,omitempty"`
	*MTUInfo
	TCP      *wire.TCPStats `json:"tcp,omitempty"`
	Timeline []wire.Event   `json:"timeline"`
	// The path sweep (path.go).
	Hops          []trace.HopReport    `json:"hops,omitempty"`
	PathEnd       *trace.PathEnd       `json:"path_end,omitempty"`
	BlackholeLink *trace.BlackholeLink `json:"blackhole_link,omitempty"`
}

// MarshalJSON writes the result with its durations in milliseconds.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{
		Target: r.Target, Module: r.Module, Host: r.Host, Address: r.Address, Port: r.Port,
		Preference: r.Preference, Outcome: r.Outcome, Error: r.Error, FailedPhase: r.FailedPhase,
		Phases: units.MSMap(r.Phases), PhaseOrder: r.PhaseOrder, Reply: r.Reply, Banner: r.Banner,
		Capabilities: r.Capabilities, TLS: r.TLS, DANE: r.DANE, PTR: r.PTR, FCrDNS: r.FCrDNS,
		MessageBytes: r.MessageBytes, BytesWritten: r.BytesWritten, BodyTCP: r.BodyTCP, Acked: r.Acked, QueueID: r.QueueID,
		IdleTimeoutMS: units.MSPtr(r.IdleTimeout), Phase: r.Phase, TimeoutMS: units.MSPtr(r.Timeout),
		ClosedBy: r.ClosedBy, ServerLog: r.ServerLog, Server: r.Server, GreetingDelay: units.MSPtr(r.GreetingDelay), Deferred: r.Deferred, MTUInfo: r.MTUInfo, TCP: r.TCP, Timeline: r.Timeline,
		Hops: r.Hops, PathEnd: r.PathEnd, BlackholeLink: r.BlackholeLink,
	})
}

// UnmarshalJSON reads a result as MarshalJSON writes it (a saved
// baseline). Findings are the report's, so a result read back has none.
func (r *Result) UnmarshalJSON(b []byte) error {
	var w resultJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Result{
		Target: w.Target, Module: w.Module, Host: w.Host, Address: w.Address, Port: w.Port,
		Preference: w.Preference, Outcome: w.Outcome, Error: w.Error, FailedPhase: w.FailedPhase,
		Phases: units.FromMSMap(w.Phases), PhaseOrder: w.PhaseOrder, Reply: w.Reply, Banner: w.Banner,
		Capabilities: w.Capabilities, TLS: w.TLS, DANE: w.DANE, PTR: w.PTR, FCrDNS: w.FCrDNS,
		MessageBytes: w.MessageBytes, BytesWritten: w.BytesWritten, BodyTCP: w.BodyTCP, Acked: w.Acked, QueueID: w.QueueID,
		IdleTimeout: units.FromMSPtr(w.IdleTimeoutMS), Phase: w.Phase, Timeout: units.FromMSPtr(w.TimeoutMS),
		ClosedBy: w.ClosedBy, ServerLog: w.ServerLog, Server: w.Server, GreetingDelay: units.FromMSPtr(w.GreetingDelay), Deferred: w.Deferred, MTUInfo: w.MTUInfo, TCP: w.TCP, Timeline: w.Timeline,
		Hops: w.Hops, PathEnd: w.PathEnd, BlackholeLink: w.BlackholeLink,
	}
	return nil
}

// reportJSON is Report on the wire.
type reportJSON struct {
	Command    string         `json:"command"`
	Target     string         `json:"target"`
	Started    time.Time      `json:"started"`
	DurationMS int64          `json:"duration_ms"`
	Outcome    Outcome        `json:"outcome"`
	Results    []Result       `json:"results"`
	Findings   []Finding      `json:"findings"`
	Policy     *policy.Report `json:"policy,omitempty"`
	Checks     []CheckSummary `json:"checks,omitempty"`
}

// MarshalJSON writes the report with its duration in whole milliseconds.
func (r Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(reportJSON{Command: r.Command, Target: r.Target, Started: r.Started,
		DurationMS: r.Duration.Milliseconds(), Outcome: r.Outcome, Results: r.Results, Findings: r.Findings, Policy: r.Policy, Checks: r.Checks})
}

// UnmarshalJSON reads a report as MarshalJSON writes it.
func (r *Report) UnmarshalJSON(b []byte) error {
	var w reportJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Report{Command: w.Command, Target: w.Target, Started: w.Started,
		Duration: time.Duration(w.DurationMS) * time.Millisecond, Outcome: w.Outcome, Results: w.Results, Findings: w.Findings, Policy: w.Policy, Checks: w.Checks}
	return nil
}

// checkSummaryJSON is CheckSummary on the wire.
type checkSummaryJSON struct {
	Target     string  `json:"target"`
	Module     string  `json:"module"`
	Command    string  `json:"command"`
	Status     Status  `json:"status"`
	Outcome    Outcome `json:"outcome"`
	DurationMS int64   `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`

	Policy *policy.Report `json:"policy,omitempty"` // mx
}

// MarshalJSON writes the summary with its duration in whole milliseconds.
func (c CheckSummary) MarshalJSON() ([]byte, error) {
	return json.Marshal(checkSummaryJSON{Target: c.Target, Module: c.Module, Command: c.Command,
		Status: c.Status, Outcome: c.Outcome, DurationMS: c.Duration.Milliseconds(), Error: c.Error, Policy: c.Policy})
}

// UnmarshalJSON reads a summary as MarshalJSON writes it.
func (c *CheckSummary) UnmarshalJSON(b []byte) error {
	var w checkSummaryJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = CheckSummary{Target: w.Target, Module: w.Module, Command: w.Command,
		Status: w.Status, Outcome: w.Outcome, Duration: time.Duration(w.DurationMS) * time.Millisecond, Error: w.Error, Policy: w.Policy}
	return nil
}
