package probe

import "github.com/smtpprobe/smtpprobe/dnscheck"

// Outcome is the classification of one probe step, shared by text, JSON and
// metrics output. The names are a stable interface (see the package doc).
type Outcome string

// The outcome taxonomy.
const (
	OK             Outcome = "ok"              // the step completed
	DNSError       Outcome = "dns-error"       // resolution failed
	NullMX         Outcome = "null-mx"         // RFC 7505 "MX 0 ."
	ConnectTimeout Outcome = "connect-timeout" // SYN unanswered (4.4.1 "No answer from host")
	Refused        Outcome = "refused"         // RST to the SYN
	Unreachable    Outcome = "unreachable"     // ICMP host, net or admin unreachable
	ReplyTimeout   Outcome = "reply-timeout"   // connected, but no reply within the limit
	ServerTimeout  Outcome = "server-timeout"  // server closed an idle session (421 or bare FIN)
	Reset          Outcome = "reset"           // RST mid-session
	Closed         Outcome = "closed"          // FIN without a reply
	Rejected       Outcome = "rejected"        // a 4xx or 5xx reply to a command
	TLSError       Outcome = "tls-error"       // STARTTLS handshake failed
	ProtocolError  Outcome = "protocol-error"  // the peer's bytes are not SMTP
	PMTUBlackhole  Outcome = "pmtu-blackhole"  // segments above N bytes vanish, no ICMP
	TLSMiddlebox   Outcome = "tls-middlebox"   // a large ClientHello vanishes, full-size segments pass (tlshello.go)
)

// rank orders outcomes from best to worst, for the top-level "outcome" of a
// report. Failures the administrator can least work around rank highest:
// a domain that cannot be resolved or accepts no mail beats any per-address
// failure, and an address that cannot even be connected to beats one that
// talks but misbehaves.
var rank = map[Outcome]int{
	OK:             0,
	Rejected:       10,
	TLSError:       11,
	ProtocolError:  12,
	ServerTimeout:  20,
	Closed:         21,
	Reset:          22,
	ReplyTimeout:   23,
	TLSMiddlebox:   24,
	PMTUBlackhole:  30,
	Unreachable:    31,
	Refused:        32,
	ConnectTimeout: 33,
	DNSError:       40,
	NullMX:         41,
}

// Worst returns the worst of the given outcomes, or OK when there are none.
func Worst(outcomes ...Outcome) Outcome {
	w := OK
	for _, o := range outcomes {
		if rank[o] > rank[w] {
			w = o
		}
	}
	return w
}

// Status is a monitoring status with the Nagios plugin exit codes.
type Status int

// Nagios plugin statuses; the value is the process exit code (README,
// "Exit codes"; the package doc).
const (
	StatusOK       Status = 0
	StatusWarning  Status = 1
	StatusCritical Status = 2
	StatusUnknown  Status = 3
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusWarning:
		return "WARNING"
	case StatusCritical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// Finding is a human hint about a run, with a stable code. It is
// dnscheck's type, so that DNS findings join a report as they are.
type Finding = dnscheck.Finding

// Severity is how much a finding matters (dnscheck's type).
type Severity = dnscheck.Severity

// Finding severities.
const (
	SevInfo     = dnscheck.SeverityInfo
	SevWarning  = dnscheck.SeverityWarning
	SevCritical = dnscheck.SeverityCritical
)

// findingStatus is the monitoring status a finding raises a report to.
func findingStatus(f Finding) Status {
	switch f.Severity {
	case SevCritical:
		return StatusCritical
	case SevWarning:
		return StatusWarning
	}
	return StatusOK
}
