package dnscheck

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors carried in [QueryError.Err]. Match them with errors.Is.
var (
	ErrNXDOMAIN = errors.New("NXDOMAIN")
	ErrServFail = errors.New("SERVFAIL")
	ErrRefused  = errors.New("REFUSED")
	ErrTimeout  = errors.New("resolver timeout")
)

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
	return fmt.Sprintf("invalid %s %q: %s", kind, e.Input, e.Reason)
}

// QueryError describes a failed lookup. Err is one of the sentinels
// ([ErrNXDOMAIN], [ErrServFail], [ErrRefused], [ErrTimeout]) or, for other
// response codes, an error naming the code. When no server answered, Err
// matches [ErrTimeout] and also wraps the last network error.
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
	rcodeTimeout = "timeout" // no server answered
	rcodeNoData  = "NODATA"  // NOERROR with an empty answer (RFC 2308 §2.2)
)
