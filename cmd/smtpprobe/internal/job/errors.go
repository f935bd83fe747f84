package job

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/smtpprobe/smtpprobe/dnscheck"
)

// FieldError is a problem with one option of a job. Field is a neutral
// key, spelled as the YAML configuration spells it ("timeout",
// "connect_timeout", "max_wait", "phase", "direction", "to", "ipv4");
// each front end renders it in its own words with Format.
type FieldError struct {
	Field  string // the option
	Value  string // the value as it reads in a message (quoted if text); "" if none
	Reason string // what is wrong and what is wanted
	// Other is set when the problem is a conflict with a second option;
	// Reason then holds one %s where that option goes.
	Other      string
	OtherValue string
}

// Format renders e with name spelling each field: "--timeout 0s: want
// a positive duration such as 60s" for name = flag spelling.
func (e *FieldError) Format(name func(field string) string) string {
	head := name(e.Field)
	if e.Value != "" {
		head += " " + e.Value
	}
	if e.Other != "" {
		other := name(e.Other)
		if e.OtherValue != "" {
			other += " " + e.OtherValue
		}
		return head + " " + fmt.Sprintf(e.Reason, other)
	}
	return head + ": " + e.Reason
}

// Error renders e with the neutral field keys.
func (e *FieldError) Error() string { return e.Format(func(f string) string { return f }) }

// InputError is a problem with the input that no one option names: an
// unknown command or a target that is not DOMAIN[:PORT]. (An option the
// servers showed to be unusable, a message above their SIZE, is a
// *FieldError.)
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputf(format string, args ...any) error {
	return &InputError{fmt.Sprintf(format, args...)}
}

// SplitTarget splits "DOMAIN[:PORT]" (or "[v6]:PORT") into host and port.
// Its error is an *InputError.
//
// A target that is not valid UTF-8 or holds control characters is
// refused here, before anything is parsed, and so is an IPv6 zone that
// could not name an interface ([dnscheck.CheckZone]): such input is never
// repaired into something else and never reaches the output.
func SplitTarget(s string, defPort uint16) (host string, port uint16, err error) {
	if s == "" {
		return "", 0, inputf("empty target: want DOMAIN[:PORT]")
	}
	if why := dnscheck.TextProblem(s); why != "" {
		return "", 0, inputf("target %s: %s; want DOMAIN[:PORT], a host name or an IP literal", dnscheck.QuoteInput(s), why)
	}
	defer func() {
		if err != nil {
			return
		}
		if a, perr := netip.ParseAddr(host); perr == nil {
			if zerr := dnscheck.CheckZone(a.Zone()); zerr != nil {
				host, port, err = "", 0, inputf("target %s: %v", dnscheck.QuoteInput(s), zerr)
			} else if why := LinkLocalProblem(a); why != "" { // target.go
				host, port, err = "", 0, inputf("target %s: %s", dnscheck.QuoteInput(s), why)
			}
		}
	}()
	host = s
	var ps string
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, inputf("target %s: missing ']'", dnscheck.QuoteInput(s))
		}
		host, ps = s[1:end], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return "", 0, inputf("target %s: want [ADDRESS]:PORT", dnscheck.QuoteInput(s))
		}
	case strings.Count(s, ":") == 1:
		host, ps, _ = strings.Cut(s, ":")
	case strings.Count(s, ":") > 1:
		if _, err := netip.ParseAddr(s); err != nil {
			return "", 0, inputf("target %s: want DOMAIN[:PORT] or [IPv6]:PORT", dnscheck.QuoteInput(s))
		}
	}
	port = defPort
	if ps != "" {
		n, err := strconv.ParseUint(ps, 10, 32)
		if err != nil || n < 1 || n > math.MaxUint16 {
			return "", 0, inputf("target %s: port %s out of range 1-65535", dnscheck.QuoteInput(s), dnscheck.QuoteInput(ps))
		}
		port = uint16(n)
	}
	if host == "" {
		return "", 0, inputf("target %s: empty host", dnscheck.QuoteInput(s))
	}
	if strings.ContainsAny(host, "[]") {
		return "", 0, inputf("target %s: want DOMAIN[:PORT] or [IPv6]:PORT", dnscheck.QuoteInput(s))
	}
	return host, port, nil
}

// CheckHelo validates an EHLO name (RFC 5321 §4.1.1.1): a domain in ASCII
// (§2.3.5; an internationalised name goes in its xn-- form) or an address
// literal in brackets (§4.1.3), such as [192.0.2.1] or
// [IPv6:2001:db8::1]. "" means the default. Anything else, invalid UTF-8
// and control characters in particular, would reach the peer as a
// different command, so it is refused with a *FieldError for "helo".
func CheckHelo(h string) error {
	if h == "" {
		return nil
	}
	const want = "want a domain such as mx.example.com or an address literal such as [192.0.2.1]"
	bad := func(reason string) error {
		return &FieldError{Field: "helo", Value: dnscheck.QuoteInput(h), Reason: reason}
	}
	if why := dnscheck.TextProblem(h); why != "" {
		return bad(why + "; " + want)
	}
	if strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return bad("contains spaces or characters outside ASCII; " + want + " (an internationalised name in its xn-- form)")
	}
	if lit, ok := strings.CutPrefix(h, "["); ok {
		lit, ok = strings.CutSuffix(lit, "]")
		v6, isV6 := strings.CutPrefix(lit, "IPv6:")
		a, err := netip.ParseAddr(v6)
		if !ok || err != nil || a.Zone() != "" || a.Is4() == isV6 {
			return bad("not an address literal (RFC 5321 §4.1.3); " + want + " or [IPv6:2001:db8::1]")
		}
		return nil
	}
	if a, err := netip.ParseAddr(h); err == nil {
		lit := "[" + a.String() + "]"
		if a.Is6() {
			lit = "[IPv6:" + a.String() + "]"
		}
		return bad("an address goes in brackets as an address literal (RFC 5321 §4.1.3): " + lit)
	}
	if _, err := dnscheck.NormalizeDomain(h); err != nil {
		return &FieldError{Field: "helo", Reason: err.Error()}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
