package dnscheck

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
)

// Sentinel errors carried in [QueryError.Err]. Match them with errors.Is.
var (
	ErrNXDOMAIN = errors.New("NXDOMAIN")
	ErrServFail = errors.New("SERVFAIL")
	ErrRefused  = errors.New("REFUSED")
	ErrTimeout  = errors.New("resolver timeout")

	// ErrMalformed: a server answered with bytes that are not a DNS
	// message (RFC 1035 §4.1), or one that does not answer the query.
	ErrMalformed = errors.New("malformed answer")
	// ErrTruncated: the UDP answer had TC set and the query over TCP
	// failed (RFC 7766 §5: TCP is the fallback for truncation).
	ErrTruncated = errors.New("truncated UDP answer and TCP failed")
	// ErrUnreachable: the server could not be reached at all, typically
	// an ICMP port unreachable ("connection refused" on UDP): nothing
	// listens there.
	ErrUnreachable = errors.New("resolver unreachable")
)

// ExchangeError is why one server gave no usable answer to a query. Kind is
// [ErrTimeout], [ErrMalformed], [ErrTruncated] or [ErrUnreachable]; Err is
// the underlying network or parse error. Both match with errors.Is and
// errors.As.
type ExchangeError struct {
	Server string // "host:port"
	Kind   error
	Err    error
}

func (e *ExchangeError) Error() string {
	switch e.Kind {
	case ErrMalformed:
		return fmt.Sprintf("malformed answer from %s: %s", e.Server, e.detail())
	case ErrTruncated:
		return fmt.Sprintf("truncated UDP answer from %s and TCP failed: %s", e.Server, e.detail())
	case ErrUnreachable:
		return fmt.Sprintf("%s unreachable: %s", e.Server, e.detail())
	}
	return fmt.Sprintf("no answer from %s: %s", e.Server, e.detail())
}

// detail is Err, shortened to the errno where there is one ("connection
// refused" rather than "read udp 127.0.0.1:41000->127.0.0.1:53: ...").
func (e *ExchangeError) detail() string {
	if e.Err == nil {
		return e.Kind.Error()
	}
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		s := errno.Error()
		if errno == syscall.ECONNREFUSED && e.Kind == ErrUnreachable {
			s += " (ICMP port unreachable: no DNS server listens there)"
		}
		return s
	}
	var ne net.Error
	if errors.As(e.Err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return e.Err.Error()
}

func (e *ExchangeError) Unwrap() []error { return []error{e.Kind, e.Err} }

// InputError is bad user input: a malformed domain or resolver address.
// Its Error is one line naming the input and what was expected, for example
//
//	invalid domain "ex ample.com": label contains a space
type InputError struct {
	Input, Reason string

	kind string // "domain", "resolver", ...; the word after "invalid"
}

func (e *InputError) Error() string {
	kind := e.kind
	if kind == "" {
		kind = "input"
	}
	return fmt.Sprintf("invalid %s %s: %s", kind, QuoteInput(e.Input), e.Reason)
}

// maxQuoted bounds how much of an input an error message repeats.
const maxQuoted = 128

// QuoteInput is the input Go-quoted (so that no byte of it can break the
// line) and cut to maxQuoted bytes on a character boundary.
func QuoteInput(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// QueryError describes a failed lookup. Err is one of the sentinels
// ([ErrNXDOMAIN], [ErrServFail], [ErrRefused]) or, for other response
// codes, an error naming the code. When no server gave a usable answer,
// Err is the last server's *[ExchangeError]: it matches [ErrTimeout],
// [ErrMalformed], [ErrTruncated] or [ErrUnreachable], and RCode is
// "timeout", "malformed", "truncated" or "unreachable".
type QueryError struct {
	Name, Type string // e.g. "example.com.", "MX"
	Server     string // last server tried
	RCode      string // "NXDOMAIN", "SERVFAIL", "REFUSED", "timeout", ...
	Err        error  // one of the sentinels, or the network error
}

func (e *QueryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lookup %s %s", e.Name, e.Type)
	if e.Server != "" {
		fmt.Fprintf(&b, " at %s", e.Server)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	} else {
		fmt.Fprintf(&b, ": %s", e.RCode)
	}
	return b.String()
}

func (e *QueryError) Unwrap() error { return e.Err }

// RCode values that are not DNS response codes.
const (
	rcodeTimeout     = "timeout"     // no server answered
	rcodeMalformed   = "malformed"   // ErrMalformed
	rcodeTruncated   = "truncated"   // ErrTruncated
	rcodeUnreachable = "unreachable" // ErrUnreachable
	rcodeNoData      = "NODATA"      // NOERROR with an empty answer (RFC 2308 §2.2)
)
