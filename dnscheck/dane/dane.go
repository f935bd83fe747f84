// Package dane implements DANE for SMTP (RFC 7672) from the client's side:
// the TLSA lookup of an MX host and the matching of TLSA records (RFC 6698,
// with the updates of RFC 7671) against the certificate chain a server
// presented.
//
// Only what RFC 7672 lets an SMTP client use is matched: DANE-TA(2) and
// DANE-EE(3), selectors Cert(0) and SPKI(1), matching types Full(0),
// SHA2-256(1) and SHA2-512(2). PKIX-TA(0) and PKIX-EE(1) records are
// unusable for SMTP (RFC 7672 §3.1.3).
package dane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/smtpprobe/smtpprobe/dnscheck"
)

// Certificate usages (RFC 6698 §2.1.1, RFC 7218 §2.1 acronyms).
const (
	PKIXTA = 0
	PKIXEE = 1
	DANETA = 2
	DANEEE = 3
)

// Selectors (RFC 6698 §2.1.2).
const (
	SelectorCert = 0
	SelectorSPKI = 1
)

// Matching types (RFC 6698 §2.1.3).
const (
	MatchFull   = 0
	MatchSHA256 = 1
	MatchSHA512 = 2
)

// Record is one TLSA record (RFC 6698 §2.1).
type Record struct {
	Usage        uint8  `json:"usage"`
	Selector     uint8  `json:"selector"`
	MatchingType uint8  `json:"matching_type"`
	Data         string `json:"data"` // hex, lower case
}

// String is the record's presentation form, "3 1 1 abcd...".
func (r Record) String() string {
	return fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.MatchingType, r.Data)
}

// Unusable says why an SMTP client cannot use the record (RFC 7672
// §3.1.3 for PKIX-TA/EE; RFC 7671 §4 for unknown parameters), or "".
func (r Record) Unusable() string {
	switch r.Usage {
	case DANETA, DANEEE:
	case PKIXTA, PKIXEE:
		return fmt.Sprintf("usage %d (PKIX-%s) is not used for SMTP (RFC 7672 §3.1.3)", r.Usage, map[uint8]string{0: "TA", 1: "EE"}[r.Usage])
	default:
		return fmt.Sprintf("usage %d is unknown", r.Usage)
	}
	if r.Selector > SelectorSPKI {
		return fmt.Sprintf("selector %d is unknown", r.Selector)
	}
	data, err := hex.DecodeString(r.Data)
	if err != nil || len(data) == 0 {
		return "data is not hex"
	}
	switch r.MatchingType {
	case MatchFull:
	case MatchSHA256:
		if len(data) != sha256.Size {
			return fmt.Sprintf("SHA2-256 data is %d bytes, not %d", len(data), sha256.Size)
		}
	case MatchSHA512:
		if len(data) != sha512.Size {
			return fmt.Sprintf("SHA2-512 data is %d bytes, not %d", len(data), sha512.Size)
		}
	default:
		return fmt.Sprintf("matching type %d is unknown", r.MatchingType)
	}
	return ""
}

// FromRR converts a miekg/dns TLSA record.
func FromRR(t *dns.TLSA) Record {
	return Record{Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: strings.ToLower(t.Certificate)}
}

// ParseRecord parses the presentation form "USAGE SELECTOR MTYPE HEX"
// (RFC 6698 §2.2); the hex may be split by spaces.
func ParseRecord(s string) (Record, error) {
	f := strings.Fields(s)
	if len(f) < 4 {
		return Record{}, fmt.Errorf("TLSA %q: want USAGE SELECTOR MATCHING-TYPE HEX", clip(s))
	}
	var n [3]uint8
	for i := range 3 {
		var v int
		if _, err := fmt.Sscanf(f[i], "%d", &v); err != nil || v < 0 || v > 255 || fmt.Sprint(v) != f[i] {
			return Record{}, fmt.Errorf("TLSA %q: field %d is not a number from 0 to 255", clip(s), i+1)
		}
		n[i] = uint8(v)
	}
	data := strings.ToLower(strings.Join(f[3:], ""))
	if _, err := hex.DecodeString(data); err != nil || data == "" {
		return Record{}, fmt.Errorf("TLSA %q: data is not hex", clip(s))
	}
	return Record{Usage: n[0], Selector: n[1], MatchingType: n[2], Data: data}, nil
}

// selected is the data a selector picks from c (RFC 6698 §2.1.2).
func selected(sel uint8, c *x509.Certificate) []byte {
	if sel == SelectorSPKI {
		return c.RawSubjectPublicKeyInfo
	}
	return c.Raw
}

// Matches reports whether the record's data matches certificate c
// (RFC 6698 §2.1.2, §2.1.3). Usage is not looked at.
func (r Record) Matches(c *x509.Certificate) bool {
	if r.Selector > SelectorSPKI {
		return false
	}
	want, err := hex.DecodeString(r.Data)
	if err != nil {
		return false
	}
	data := selected(r.Selector, c)
	var got []byte
	switch r.MatchingType {
	case MatchFull:
		got = data
	case MatchSHA256:
		h := sha256.Sum256(data)
		got = h[:]
	case MatchSHA512:
		h := sha512.Sum512(data)
		got = h[:]
	default:
		return false
	}
	return bytes.Equal(got, want)
}

// Match is the outcome of matching a server's chain against TLSA records.
type Match struct {
	Record int    // index of the matching record, -1 when none matched
	Depth  int    // position in the chain of the matching certificate (0: the leaf)
	Reason string // why nothing matched, one line
}

// Matched reports whether a record matched.
func (m Match) Matched() bool { return m.Record >= 0 }

// MatchChain matches the chain a server sent (leaf first) against records
// by RFC 7672 §3.1:
//
//   - DANE-EE(3) matches the leaf only, and then neither names nor the
//     validity period are checked (RFC 7672 §3.1.1).
//   - DANE-TA(2) matches a certificate the server sent above the leaf; the
//     leaf must then chain up to it, be valid at now and carry one of the
//     reference names (RFC 7672 §3.1.2, §3.2.2): names lists the MX host
//     name and, where one applies, the TLSA base name.
//
// Unusable records (PKIX-TA/EE, unknown parameters) never match. The first
// record that matches is reported.
func MatchChain(records []Record, chain []*x509.Certificate, names []string, now time.Time) Match {
	if len(chain) == 0 {
		return Match{Record: -1, Reason: "the server sent no certificate"}
	}
	usable := 0
	var taErr error
	for i, r := range records {
		if r.Unusable() != "" {
			continue
		}
		usable++
		switch r.Usage {
		case DANEEE:
			if r.Matches(chain[0]) {
				return Match{Record: i, Depth: 0}
			}
		case DANETA:
			for d := 1; d < len(chain); d++ {
				if !r.Matches(chain[d]) {
					continue
				}
				if err := chainsTo(chain, d, names, now); err != nil {
					taErr = err
					continue
				}
				return Match{Record: i, Depth: d}
			}
		}
	}
	switch {
	case usable == 0:
		return Match{Record: -1, Reason: "no TLSA record is usable for SMTP"}
	case taErr != nil:
		return Match{Record: -1, Reason: "a DANE-TA record matches the chain, but " + taErr.Error()}
	}
	return Match{Record: -1, Reason: "no TLSA record matches the certificate chain"}
}

// chainsTo verifies chain[0] up to chain[d] as the trust anchor, for one
// of names, at now.
func chainsTo(chain []*x509.Certificate, d int, names []string, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(chain[d])
	inter := x509.NewCertPool()
	for _, c := range chain[1:d] {
		inter.AddCert(c)
	}
	var last error
	for _, n := range names {
		_, err := chain[0].Verify(x509.VerifyOptions{DNSName: strings.TrimSuffix(n, "."), Roots: roots,
			Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err == nil {
			return nil
		}
		last = err
	}
	if last == nil {
		last = errors.New("no reference name to check")
	}
	return fmt.Errorf("the leaf does not verify under it: %v", last)
}

// Lookup is the TLSA answer for one MX host.
type Lookup struct {
	Name    string   `json:"name"` // "_25._tcp.HOST"
	Records []Record `json:"records"`
	// Secure: the resolver validated the answer (AD bit). Only secure
	// TLSA records are used (RFC 7672 §2.2, RFC 6698 §4.1).
	Secure bool  `json:"secure"`
	Err    error `json:"-"` // a DNS failure other than NXDOMAIN or NODATA
}

// LookupTLSA looks up the TLSA records of host's SMTP service on port
// (RFC 7672 §2.2.3: "_25._tcp.HOST") through res, with DO and AD set. A
// cancelled ctx is the only error.
func LookupTLSA(ctx context.Context, res *dnscheck.Resolver, host string, port uint16) (Lookup, error) {
	l := Lookup{Name: fmt.Sprintf("_%d._tcp.%s", port, strings.TrimSuffix(host, "."))}
	ans, err := res.Lookup(ctx, l.Name, dns.TypeTLSA)
	if ctx.Err() != nil {
		return l, ctx.Err()
	}
	if err != nil {
		l.Err = err
		return l, nil
	}
	l.Secure = ans.Secure
	for _, rr := range ans.Records {
		l.Records = append(l.Records, FromRR(rr.(*dns.TLSA)))
	}
	return l, nil
}

// HostLookup is the TLSA answer for an MX host as a validating sender
// looks it up (RFC 7672 §2.2.3), with what decides whether it applies.
type HostLookup struct {
	Lookup
	// Expanded is the end of the host's CNAME chain, when the host is an
	// alias and the chain and its address records are validated; ""
	// otherwise.
	Expanded string
	// AddrSecure: the host's A and AAAA answers were both validated.
	AddrSecure bool
}

// LookupHost looks up host's address records, then its TLSA records on
// port: at the CNAME-expanded name first when the host is an alias whose
// chain and address records the resolver validated, and at the original
// name only when the expanded name has none (RFC 7672 §2.2.3); a failed
// lookup at the expanded name is not retried at the original, as a
// validating sender does not either. With an insecure chain only the
// original name is looked up.
func LookupHost(ctx context.Context, res *dnscheck.Resolver, host string, port uint16) HostLookup {
	h := HostLookup{AddrSecure: true}
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ans, err := res.Lookup(ctx, host, t)
		if err != nil || !ans.Secure {
			h.AddrSecure = false
			continue
		}
		if c := strings.TrimSuffix(ans.Canonical, "."); c != "" && !strings.EqualFold(c, strings.TrimSuffix(host, ".")) {
			h.Expanded = c
		}
	}
	if !h.AddrSecure {
		h.Expanded = ""
	}
	if h.Expanded != "" {
		h.Lookup, _ = LookupTLSA(ctx, res, h.Expanded, port)
	}
	if h.Expanded == "" || (h.Err == nil && len(h.Records) == 0 && ctx.Err() == nil) {
		h.Lookup, _ = LookupTLSA(ctx, res, host, port)
	}
	return h
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
