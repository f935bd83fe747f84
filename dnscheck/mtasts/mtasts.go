// Package mtasts implements the receiving side's view of SMTP MTA Strict
// Transport Security (RFC 8461): the _mta-sts TXT record (§3.1), the policy
// file and its fetch over HTTPS (§3.2, §3.3), and the matching of MX host
// names against the policy's patterns (§4.1).
//
// The package is a library without a network of its own: TXT records are
// looked up through a [dnscheck.Resolver], and the policy is fetched over
// connections that the caller's Dial opens, so that the caller decides
// which addresses may be contacted.
package mtasts

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"github.com/smtpprobe/smtpprobe/dnscheck"
)

// Mode is a policy's mode (RFC 8461 §5).
type Mode string

// Policy modes (RFC 8461 §3.2, §5).
const (
	ModeEnforce Mode = "enforce" // senders must not deliver to an MX that fails the policy
	ModeTesting Mode = "testing" // senders deliver anyway and report failures (RFC 8460)
	ModeNone    Mode = "none"    // the domain has withdrawn its policy
)

// MaxMaxAge is the largest max_age a policy may state: about one year
// (RFC 8461 §3.2).
const MaxMaxAge = 31557600

// Record is a parsed _mta-sts TXT record (RFC 8461 §3.1).
type Record struct {
	ID string `json:"id"` // 1 to 32 letters and digits; changes with each new policy
}

// SyntaxError is a TXT record or policy file that does not follow the
// grammar of RFC 8461 §3.1 or §3.2. Its Error is one line.
type SyntaxError struct {
	What   string // "TXT record", "policy"
	Line   int    // 1-based line of a policy file; 0 for a TXT record
	Reason string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", e.What, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.What, e.Reason)
}

// ErrNoRecord is returned by SelectRecord and LookupRecord when the
// domain publishes no _mta-sts record beginning with v=STSv1.
var ErrNoRecord = errors.New("no MTA-STS TXT record")

// ErrMultipleRecords: more than one v=STSv1 record, which RFC 8461 §3.1
// says senders treat as no policy at all.
var ErrMultipleRecords = errors.New("more than one v=STSv1 TXT record (RFC 8461 §3.1: senders then assume no policy)")

func recordError(format string, args ...any) error {
	return &SyntaxError{What: "TXT record", Reason: fmt.Sprintf(format, args...)}
}

// ParseRecord parses the text of one _mta-sts TXT record (its
// character-strings concatenated):
//
//	sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//	sts-field-delim = *WSP ";" *WSP
//	sts-version     = %s"v=STSv1"
//	sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//
// Unknown fields (sts-extension) are checked for syntax and ignored; of a
// repeated id the first counts, as for policy fields (RFC 8461 §3.2).
func ParseRecord(txt string) (Record, error) {
	fields := strings.Split(txt, ";")
	if strings.TrimRight(fields[0], " \t") != "v=STSv1" || strings.TrimLeft(fields[0], " \t") != fields[0] {
		return Record{}, recordError("does not begin with v=STSv1")
	}
	rest := fields[1:]
	if n := len(rest); n > 0 && strings.Trim(rest[n-1], " \t") == "" {
		rest = rest[:n-1] // the optional trailing delimiter
	}
	if len(rest) == 0 {
		return Record{}, recordError("has no id field")
	}
	var rec Record
	for i, f := range rest {
		f = strings.Trim(f, " \t")
		name, value, ok := strings.Cut(f, "=")
		if !ok || f == "" {
			return Record{}, recordError("field %d %q is not NAME=VALUE", i+2, clip(f))
		}
		if !dnscheck.ExtName(name) {
			return Record{}, recordError("field name %q is not 1 to 32 letters, digits, '_', '-' or '.'", clip(name))
		}
		if !dnscheck.ExtValue(value) {
			return Record{}, recordError("field %s has an empty value or one with '=', ';', space or control characters", clip(name))
		}
		if name == "id" && rec.ID == "" {
			if len(value) > 32 || !alnum(value) {
				return Record{}, recordError("id %q is not 1 to 32 letters and digits", clip(value))
			}
			rec.ID = value
		}
	}
	if rec.ID == "" {
		return Record{}, recordError("has no id field")
	}
	return rec, nil
}

// SelectRecord applies RFC 8461 §3.1 to the TXT records found at
// _mta-sts.DOMAIN: those that do not begin with "v=STSv1" and a field
// delimiter are discarded (dnscheck.SelectTXT), and exactly one must
// remain and parse.
func SelectRecord(txts []string) (Record, error) {
	switch rec, n := dnscheck.SelectTXT(txts, "v=STSv1"); n {
	case 0:
		return Record{}, ErrNoRecord
	case 1:
		return ParseRecord(rec)
	}
	return Record{}, ErrMultipleRecords
}

// Lookup is the answer for _mta-sts.DOMAIN.
type Lookup struct {
	Name    string   // the name asked, "_mta-sts.DOMAIN"
	TXT     []string // every TXT record, character-strings concatenated
	Record  Record   // the record SelectRecord chose
	Err     error    // ErrNoRecord, ErrMultipleRecords, a *SyntaxError or the DNS failure
	Secure  bool     // the resolver validated the answer (AD bit)
	DNSFail bool     // Err is a DNS failure (not an absent or bad record)
}

// LookupRecord looks up and selects the _mta-sts TXT record of domain (a
// normalised domain name) through res. A cancelled ctx is the only error;
// everything else is in Lookup.Err.
func LookupRecord(ctx context.Context, res *dnscheck.Resolver, domain string) (Lookup, error) {
	l := Lookup{Name: "_mta-sts." + strings.TrimSuffix(domain, ".")}
	ans, err := res.Lookup(ctx, l.Name, dns.TypeTXT)
	if ctx.Err() != nil {
		return l, ctx.Err()
	}
	if err != nil {
		l.Err, l.DNSFail = err, true
		return l, nil
	}
	l.Secure = ans.Secure
	for _, rr := range ans.Records {
		l.TXT = append(l.TXT, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	l.Record, l.Err = SelectRecord(l.TXT)
	return l, nil
}

// Policy is a parsed policy file (RFC 8461 §3.2).
type Policy struct {
	Version string   `json:"version"`
	Mode    Mode     `json:"mode"`
	MX      []string `json:"mx"`      // patterns, as written (lower-cased)
	MaxAge  int64    `json:"max_age"` // seconds
}

func policyError(line int, format string, args ...any) error {
	return &SyntaxError{What: "policy", Line: line, Reason: fmt.Sprintf(format, args...)}
}

// ParsePolicy parses a policy file (RFC 8461 §3.2): lines of
// "key: value" separated by LF or CRLF. version (STSv1), mode and
// max_age are required, and at least one mx pattern unless the mode is
// none. Of a repeated field other than mx the first occurrence counts;
// unknown fields are checked for syntax and ignored. Empty lines are
// tolerated.
func ParsePolicy(text string) (*Policy, error) {
	p := &Policy{}
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if strings.Trim(line, " \t") == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, policyError(n, "%q is not KEY: VALUE", clip(line))
		}
		value = strings.Trim(value, " \t")
		if !dnscheck.ExtName(key) {
			return nil, policyError(n, "key %q is not 1 to 32 letters, digits, '_', '-' or '.'", clip(key))
		}
		if value == "" || !vchars(value) {
			return nil, policyError(n, "%s has an empty value or control characters", clip(key))
		}
		if key != "mx" && seen[key] {
			continue // RFC 8461 §3.2: the first occurrence counts
		}
		seen[key] = true
		switch key {
		case "version":
			if value != "STSv1" {
				return nil, policyError(n, "version %q, want STSv1", clip(value))
			}
			p.Version = value
		case "mode":
			switch m := Mode(value); m {
			case ModeEnforce, ModeTesting, ModeNone:
				p.Mode = m
			default:
				return nil, policyError(n, "mode %q, want enforce, testing or none", clip(value))
			}
		case "max_age":
			if len(value) > 10 || !digits(value) {
				return nil, policyError(n, "max_age %q is not 1 to 10 digits", clip(value))
			}
			v, _ := strconv.ParseInt(value, 10, 64)
			if v > MaxMaxAge {
				return nil, policyError(n, "max_age %d is above the maximum %d (about a year)", v, MaxMaxAge)
			}
			p.MaxAge = v
		case "mx":
			pat := strings.ToLower(strings.TrimSuffix(value, "."))
			if !validPattern(pat) {
				return nil, policyError(n, "mx %q is not a host name, optionally with a leading \"*.\"", clip(value))
			}
			p.MX = append(p.MX, pat)
		}
	}
	switch {
	case p.Version == "":
		return nil, policyError(0, "no version field")
	case p.Mode == "":
		return nil, policyError(0, "no mode field")
	case !seen["max_age"]:
		return nil, policyError(0, "no max_age field")
	case len(p.MX) == 0 && p.Mode != ModeNone:
		return nil, policyError(0, "no mx pattern in %s mode", p.Mode)
	}
	return p, nil
}

// Match returns the first of the policy's patterns that host matches.
func (p *Policy) Match(host string) (string, bool) {
	for _, pat := range p.MX {
		if MatchPattern(pat, host) {
			return pat, true
		}
	}
	return "", false
}

// MatchPattern reports whether the MX host name host matches pattern
// (RFC 8461 §4.1): names compare case-insensitively and without a trailing
// dot, and a pattern "*.example.com" matches a name with exactly one more
// label on the left, such as "mx1.example.com", but neither
// "example.com" nor "a.b.example.com".
func MatchPattern(pattern, host string) bool {
	pattern = strings.ToLower(strings.TrimSuffix(pattern, "."))
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if pattern == "" || host == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, parent, ok := strings.Cut(host, ".")
		return ok && label != "" && parent == rest
	}
	return pattern == host
}

// validPattern: ["*."] Domain, where Domain is LDH labels (RFC 5321 §4.1.2).
func validPattern(p string) bool {
	p = strings.TrimPrefix(p, "*.")
	if p == "" || len(p) > 253 {
		return false
	}
	for _, l := range strings.Split(p, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !isAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

// vchars: a policy value, visible characters and inner spaces (RFC 8461
// §3.2 sts-policy-vchar and sts-policy-wsp), plus UTF-8 (RFC 6532).
func vchars(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func alnum(s string) bool {
	for _, c := range []byte(s) {
		if !isAlnum(c) {
			return false
		}
	}
	return s != ""
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// clip quotes at most 64 bytes of s safely for an error message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.Trim(strconv.Quote(s), `"`)
}
