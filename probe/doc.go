// Package probe runs SMTP sessions that see the wire: every command and
// reply is timestamped from connect, a reply, FIN or RST that arrives while
// the probe is idle is noticed when it happens, and every outcome falls into
// one fixed taxonomy (see Outcome).
//
// The connection is package probe/wire (wire.Conn, deliberately not
// go-smtp's Client); this package drives it step by step in the probe kinds
// (mx checks, scripted transactions, timeout discovery, MTU bracketing,
// the path sweep) and judges what it saw.
//
// Failed probes are fields of a Result, not errors; errors returned by this
// package are for misuse, cancellation and local failures (*wire.LocalError:
// this host's socket layer, not the network).
//
// # Reports and statuses
//
// A Report is one run of a command over every address of a target: its
// Outcome is the worst of its results' outcomes, and Status maps it to a
// monitoring status whose value is the Nagios plugin exit code: OK (0)
// when every address did what the probe wanted, WARNING (1) when some
// did not or only transiently (a 4yz reply), CRITICAL (2) when none did,
// and the findings' severities on top. UNKNOWN (3) is for what says
// nothing about the servers: bad input, a cancelled run, a wire.LocalError.
// The outcome names (Outcome) and the JSON keys of Report and Result are
// a stable interface for scripts and monitoring (README, "JSON").
//
// # Where things are
//
// One file per layer, and one per probe kind:
//
//   - probe/wire: the connection (Dialer, Conn, replies read byte by
//     byte, the timeline, the limits, the TCP_INFO sampling).
//   - dialogue.go: the dialogue every probe kind shares (connect, greet,
//     timed steps, the envelope, QUIT).
//   - mx.go, session.go, timeout.go, mtu.go and mtu_reverse.go, path.go:
//     one probe kind each, a Prober method with one signature,
//     func (p *Prober) K(ctx context.Context, t Target, opt KOptions) (Result, error).
//     A new probe kind is a new file of this kind, a row of the command's
//     registry (cmd/smtpprobe/internal/job, kinds.go) and a flags file.
//   - evidence.go: the verdicts and findings of stalls and black holes
//     from the connection's TCP_INFO evidence, for every kind.
//   - prober.go, result.go, report.go (Run over a target's addresses),
//     outcome.go, json.go (the JSON layout, durations in milliseconds).
//   - probe/assess: judging a finished report against limits
//     (thresholds) and against a saved run (a baseline).
//
// Output formats live in probe/render, options in cmd/smtpprobe/internal/job (the command's run layer).
//
// # Words, not flags
//
// The engine speaks no front end's language: its errors and findings
// name an option in neutral words or in a typed field (Finding.Option,
// RangeError.Field, CapabilityError.Field), which the command line, the
// YAML configuration and the exporter each render in their own spelling.
package probe
