package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// Result is the outcome of probing one address. A failed probe is a field
// of the result, never an error.
type Result struct {
	Target     string  `json:"target,omitempty"` // in a combined check report
	Module     string  `json:"module,omitempty"` // in a combined check report
	Host       string  `json:"host"`
	Address    string  `json:"address"`
	Port       uint16  `json:"port"`
	Preference *int    `json:"preference,omitempty"`
	Outcome    Outcome `json:"outcome"`
	Error      string  `json:"error,omitempty"` // what went wrong, one line
	// FailedPhase is the phase (a key of Phases: "connect", "banner",
	// "ehlo", "rcpt", "body"...) whose step recorded the failure, when
	// the failure belongs to one; Error then reads "phase: ...", except
	// for "connect", whose Error is the dial error itself. A failure told
	// as the server's own close of an idle or busy session (closed,
	// server-timeout) belongs to no step.
	FailedPhase string `json:"failed_phase,omitempty"`
	// Phases times each phase (JSON "phases", in milliseconds), in the
	// order of PhaseOrder (JSON "phase_order").
	Phases       map[string]time.Duration `json:"-"`
	PhaseOrder   []string                 `json:"-"`
	Reply        *wire.Reply              `json:"reply,omitempty"` // the last reply
	Banner       string                   `json:"banner,omitempty"`
	Capabilities []string                 `json:"capabilities,omitempty"`
	TLS          *TLSInfo                 `json:"tls,omitempty"`
	DANE         *policy.DANEReport       `json:"dane,omitempty"` // the MX host's TLSA records (policy.go)
	PTR          []string                 `json:"ptr,omitempty"`
	FCrDNS       *bool                    `json:"fcrdns,omitempty"`
	// Transactions (session).
	MessageBytes int `json:"message_bytes,omitempty"`
	BytesWritten int `json:"bytes_written,omitempty"`
	// BodyTCP is what TCP did with the message body (TCP_INFO before and
	// after it), where the system tells: the count of bytes the probe
	// handed over (BytesWritten) stays 0 for a write a black hole held.
	BodyTCP *wire.BodyTCP `json:"body_tcp,omitempty"`
	Acked   bool          `json:"acked,omitempty"` // every byte acknowledged by the peer's TCP
	QueueID string        `json:"queue_id,omitempty"`
	// IdleTimeout is how long the server waited before it ended the
	// session (JSON "idle_timeout_ms").
	IdleTimeout *time.Duration `json:"-"`
	// Idle-timeout discovery (timeout).
	Phase string `json:"phase,omitempty"`
	// Timeout is the server's measured idle timeout (JSON "timeout_ms").
	Timeout   *time.Duration `json:"-"`
	ClosedBy  ClosedBy       `json:"closed_by,omitempty"`
	ServerLog string         `json:"server_log,omitempty"` // what the server logs for it, in its words (advice.go)
	// Server is the server's software as recognised from the session
	// (server.go).
	Server *Server `json:"server,omitempty"`
	// GreetingDelay is how long the greeting took from connect (JSON
	// "greeting_delay_ms"), set when it came late (a tarpit).
	GreetingDelay *time.Duration `json:"-"`
	// Deferred is the first session when postscreen deferred it and the
	// probe retried (RetryDeferral); this result is the second session's.
	Deferred *Result `json:"deferred_session,omitempty"`
	// Path MTU (mtu): path_mtu, verdict, bracket... inline.
	*MTUInfo
	TCP      *wire.TCPStats `json:"tcp,omitempty"` // TCP_INFO when the session ended (evidence.go)
	Timeline []wire.Event   `json:"timeline"`
	Findings []Finding      `json:"-"`

	local *wire.LocalError // this host's socket layer failed (LocalFailure)

	// Path sweep (path; a connect-timeout or unreachable elsewhere): path.go.
	Hops    []trace.HopReport `json:"hops,omitempty"`
	PathEnd *trace.PathEnd    `json:"path_end,omitempty"`
	// BlackholeLink is where a forward pmtu-blackhole lies (mtu).
	BlackholeLink *trace.BlackholeLink `json:"blackhole_link,omitempty"`
}

// LocalFailure is the *wire.LocalError that ended the probe, if this host's
// own socket layer failed rather than the network or the peer; the
// result's Outcome then says nothing about the server, and Run returns
// the error.
func (r *Result) LocalFailure() *wire.LocalError { return r.local }

// err is the error a probe kind returns beside r: this host's local
// failure unless ctx ended, else ctx's error (nil while it lasts).
func (r *Result) err(ctx context.Context) error {
	if r.local != nil && ctx.Err() == nil {
		return r.local
	}
	return ctx.Err()
}

func newResult(t Target) Result {
	r := Result{Host: t.Host, Address: t.Addr.Addr().String(), Port: t.Addr.Port(),
		Outcome: OK, Phases: map[string]time.Duration{}, Timeline: []wire.Event{}}
	if t.Preference >= 0 {
		pref := t.Preference
		r.Preference = &pref
	}
	return r
}

// Classify maps an error from Dial or a Conn method to an outcome.
//
// It names only what the wire showed: closed needs a FIN (ErrClosed),
// reset an RST (ErrReset, with its errno). Other socket errors of an
// established connection are classified by their errno: ECONNABORTED is
// a reset, EHOSTUNREACH and ENETUNREACH (an ICMP error for a connection
// in progress) are unreachable, and ETIMEDOUT (the kernel gave up
// retransmitting) is a reply timeout. TLS record errors after STARTTLS
// are tls-error.
//
// context.Canceled and context.DeadlineExceeded are not the peer's doing:
// the run was stopped while the step waited for the peer. The step is
// recorded reply-timeout (it got no answer in the time the run allowed,
// as the exporter reports sessions its scrape deadline cut), and the
// caller tells a cancellation apart by the ctx.Err() that Run, Session
// and the commands return, which they report as UNKNOWN, not as a
// verdict on the server.
//
// An error Classify does not know is not passed off as a FIN or RST that
// nobody saw: it is reported as reply-timeout too, since the step ended
// without its reply, and the error's own text goes into Result.Error. A
// local failure (ENOBUFS, a refused socket option: *LocalError) is also
// kept as the result's LocalFailure, which Run returns as its error, so
// that no front end reports it as a verdict on the server.
func Classify(err error) Outcome {
	var (
		de *wire.DialError
		pv *wire.ProtocolViolation
		he *wire.HandshakeError
		se *wire.StallError
		ae tls.AlertError
		re tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return OK
	case errors.As(err, &se) && se.Blackhole():
		return PMTUBlackhole
	case errors.As(err, &de):
		return dialOutcome(de.Kind)
	case errors.Is(err, wire.ErrReset), errors.Is(err, syscall.ECONNABORTED):
		return Reset
	case errors.Is(err, wire.ErrClosed):
		return Closed
	case errors.As(err, &pv):
		return ProtocolError
	case errors.As(err, &he), errors.As(err, &ae), errors.As(err, &re):
		return TLSError
	case errors.As(err, new(*wire.LostError)):
		return ReplyTimeout
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Unreachable
	case errors.Is(err, wire.ErrReplyTimeout), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return ReplyTimeout
	case errors.Is(err, context.Canceled):
		return ReplyTimeout
	}
	return ReplyTimeout
}

// dialOutcome is the outcome of a connect that failed the way k says.
func dialOutcome(k wire.DialKind) Outcome {
	switch k {
	case wire.DialTimeout:
		return ConnectTimeout
	case wire.DialRefused:
		return Refused
	case wire.DialReset:
		return Reset
	}
	return Unreachable
}
