// Package tlsrpt parses the SMTP TLS Reporting record of a domain (RFC
// 8460 §3): the TXT record at _smtp._tls.DOMAIN that says where senders
// send their reports on failed TLS sessions.
package tlsrpt

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"github.com/smtpprobe/smtpprobe/dnscheck"
)

// Record is a parsed TLS-RPT record.
type Record struct {
	RUA []string `json:"rua"` // report destinations: mailto: and https: URIs
}

// SyntaxError is a record that does not follow RFC 8460 §3.
type SyntaxError struct{ Reason string }

func (e *SyntaxError) Error() string { return "TLS-RPT record: " + e.Reason }

func syntax(format string, args ...any) error {
	return &SyntaxError{fmt.Sprintf(format, args...)}
}

// ErrNoRecord: no _smtp._tls record beginning with v=TLSRPTv1.
var ErrNoRecord = errors.New("no TLS-RPT record")

// ErrMultipleRecords: RFC 8460 §3 has senders then assume no TLS-RPT.
var ErrMultipleRecords = errors.New("more than one v=TLSRPTv1 record (RFC 8460 §3: senders then assume no TLS reporting)")

// ParseRecord parses one record (RFC 8460 §3):
//
//	tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//	field-delim   = *WSP ";" *WSP
//	tlsrpt-rua    = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//
// rua is required; its URIs must be mailto: (with an address) or
// https: (with a host). Extensions are checked for syntax and ignored; of
// a repeated rua the first counts.
func ParseRecord(txt string) (Record, error) {
	fields := strings.Split(txt, ";")
	if strings.TrimRight(fields[0], " \t") != "v=TLSRPTv1" {
		return Record{}, syntax("does not begin with v=TLSRPTv1")
	}
	rest := fields[1:]
	if n := len(rest); n > 0 && strings.Trim(rest[n-1], " \t") == "" {
		rest = rest[:n-1]
	}
	var rec Record
	seen := false
	for i, f := range rest {
		f = strings.Trim(f, " \t")
		name, value, ok := strings.Cut(f, "=")
		if !ok || !dnscheck.ExtName(name) {
			return Record{}, syntax("field %d %s is not NAME=VALUE", i+2, strconv.Quote(clip(f)))
		}
		if name != "rua" {
			if !dnscheck.ExtValue(value) {
				return Record{}, syntax("field %s has an empty value or one with '=', ';', space or control characters", name)
			}
			continue
		}
		if seen {
			continue
		}
		seen = true
		for _, u := range strings.Split(value, ",") {
			u = strings.Trim(u, " \t")
			if err := checkURI(u); err != nil {
				return Record{}, err
			}
			rec.RUA = append(rec.RUA, u)
		}
	}
	if !seen {
		return Record{}, syntax("has no rua field")
	}
	return rec, nil
}

func checkURI(s string) error {
	u, err := url.Parse(s)
	if s == "" || err != nil {
		return syntax("rua %s is not a URI", strconv.Quote(clip(s)))
	}
	switch strings.ToLower(u.Scheme) {
	case "mailto":
		addr, err := url.PathUnescape(u.Opaque)
		if err != nil || addr == "" {
			return syntax("rua %s has no address", strconv.Quote(clip(s)))
		}
		if _, err := mail.ParseAddress(addr); err != nil {
			return syntax("rua %s: address %s is not an email address", strconv.Quote(clip(s)), strconv.Quote(clip(addr)))
		}
	case "https":
		if u.Host == "" {
			return syntax("rua %s has no host", strconv.Quote(clip(s)))
		}
	default:
		return syntax("rua %s: scheme is not mailto or https", strconv.Quote(clip(s)))
	}
	return nil
}

// SelectRecord applies RFC 8460 §3 to the TXT records at _smtp._tls.DOMAIN:
// records that do not begin with "v=TLSRPTv1" and a field delimiter are
// discarded (dnscheck.SelectTXT; "v=TLSRPTv10" is another version), and
// exactly one must remain and parse.
func SelectRecord(txts []string) (Record, error) {
	switch rec, n := dnscheck.SelectTXT(txts, "v=TLSRPTv1"); n {
	case 0:
		return Record{}, ErrNoRecord
	case 1:
		return ParseRecord(rec)
	}
	return Record{}, ErrMultipleRecords
}

// Lookup is the answer for _smtp._tls.DOMAIN.
type Lookup struct {
	Name    string
	TXT     []string
	Record  Record
	Err     error // ErrNoRecord, ErrMultipleRecords, *SyntaxError or the DNS failure
	DNSFail bool
}

// LookupRecord looks up and selects domain's TLS-RPT record through res.
// A cancelled ctx is the only error.
func LookupRecord(ctx context.Context, res *dnscheck.Resolver, domain string) (Lookup, error) {
	l := Lookup{Name: "_smtp._tls." + strings.TrimSuffix(domain, ".")}
	ans, err := res.Lookup(ctx, l.Name, dns.TypeTXT)
	if ctx.Err() != nil {
		return l, ctx.Err()
	}
	if err != nil {
		l.Err, l.DNSFail = err, true
		return l, nil
	}
	for _, rr := range ans.Records {
		l.TXT = append(l.TXT, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	l.Record, l.Err = SelectRecord(l.TXT)
	return l, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
