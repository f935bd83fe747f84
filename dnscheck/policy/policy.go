// Package policy looks up what a mail domain publishes about the transport
// security of its mail: its MTA-STS record and policy (RFC 8461), its
// TLS-RPT record (RFC 8460), whether its MX RRset is DNSSEC-validated, and
// the DANE TLSA records of its MX hosts as a validating sender looks them
// up (RFC 7672 §2.2). Report and DANEReport are the JSON "policy" and
// "dane" objects of an mx report.
//
// Package probe runs these lookups beside its sessions and judges the
// sessions against them (whether a sender that honours each policy would
// deliver); this package only looks up and records.
package policy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/dnscheck/dane"
	"github.com/smtpprobe/smtpprobe/dnscheck/mtasts"
	"github.com/smtpprobe/smtpprobe/dnscheck/tlsrpt"
)

// Report is what a mail domain publishes about its transport
// security (JSON "policy").
type Report struct {
	Domain string `json:"domain"`
	// MXSecure is whether the resolver validated the MX RRset (or its
	// absence, for an implicit MX) with DNSSEC: DANE needs it (RFC 7672
	// §2.2.1).
	MXSecure bool         `json:"mx_secure"`
	MTASTS   MTASTSReport `json:"mta_sts"`
	TLSRPT   TLSRPTReport `json:"tls_rpt"`

	// STS is the fetched MTA-STS policy; nil without one.
	STS *mtasts.Policy `json:"-"`
	// FetchErr is why a published policy could not be fetched.
	FetchErr error `json:"-"`
	// TXTFound: the domain has an _mta-sts TXT record, usable or not
	// (RecordError says why not).
	TXTFound bool `json:"-"`
}

// MTASTSReport is the MTA-STS part of a Report (RFC 8461).
type MTASTSReport struct {
	TXT         []string `json:"txt,omitempty"`          // the _mta-sts TXT records
	ID          string   `json:"id,omitempty"`           // of the selected record
	RecordError string   `json:"record_error,omitempty"` // why no record was selected
	URL         string   `json:"url,omitempty"`          // fetched when a record was selected
	Mode        string   `json:"mode,omitempty"`         // enforce, testing, none; empty without a policy
	MX          []string `json:"mx,omitempty"`           // the policy's patterns
	MaxAge      *int64   `json:"max_age,omitempty"`      // seconds
	FetchError  string   `json:"fetch_error,omitempty"`
}

// TLSRPTReport is the TLS-RPT record of the domain (RFC 8460 §3).
type TLSRPTReport struct {
	TXT   []string `json:"txt,omitempty"`
	RUA   []string `json:"rua,omitempty"`
	Error string   `json:"error,omitempty"` // why no record was used; empty when there is none at all

	DNSFail bool `json:"-"` // Error is the lookup's failure, not the record's
}

// DANEReport is the DANE state of one result's MX host (JSON "dane").
type DANEReport struct {
	// Name is where the TLSA records were looked up: _25._tcp. and the
	// TLSA base domain, the MX host or its CNAME expansion (RFC 7672
	// §2.2.3).
	Name string `json:"name"`
	// Expanded is the end of the MX host's CNAME chain, when the host is
	// an alias and the chain and its address records are validated (RFC
	// 7672 §2.2.3); empty otherwise.
	Expanded string        `json:"expanded,omitempty"`
	Records  []dane.Record `json:"records"`
	Secure   bool          `json:"secure"` // the TLSA answer was validated (AD)
	// Enforced: validating senders require a matching TLSA record (RFC
	// 7672 §2.2): the MX RRset, the host's addresses and the TLSA
	// records are all validated, and the host has TLSA records.
	Enforced    bool   `json:"enforced"`
	NotEnforced string `json:"not_enforced,omitempty"` // why not, when there are records
	// Matched is the index in Records of the record that matched the
	// chain the server sent; absent when none did or TLS was not reached.
	Matched       *int   `json:"matched,omitempty"`
	MatchedRecord string `json:"matched_record,omitempty"`
	MatchDepth    *int   `json:"match_depth,omitempty"` // 0: the leaf
	MatchError    string `json:"match_error,omitempty"`
	LookupError   string `json:"lookup_error,omitempty"`
}

// Lookup looks up domain's MTA-STS record and, when it selects one,
// fetches its policy with f; its TLS-RPT record; and whether the resolver
// validates its MX RRset, concurrently. Only a cancelled ctx is an error.
func Lookup(ctx context.Context, res *dnscheck.Resolver, domain string, f *mtasts.Fetcher) (*Report, error) {
	rep := &Report{Domain: domain}
	var wg sync.WaitGroup
	var mxErr, rptErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		ans, err := res.Lookup(ctx, rep.Domain, dns.TypeMX)
		rep.MXSecure = err == nil && ans.Secure
		mxErr = ctx.Err()
	}()
	go func() {
		defer wg.Done()
		l, err := tlsrpt.LookupRecord(ctx, res, rep.Domain)
		if rptErr = err; err != nil {
			return
		}
		rep.TLSRPT.TXT = l.TXT
		switch {
		case l.Err == nil:
			rep.TLSRPT.RUA = l.Record.RUA
		case errors.Is(l.Err, tlsrpt.ErrNoRecord) && !l.DNSFail:
		default:
			rep.TLSRPT.Error, rep.TLSRPT.DNSFail = l.Err.Error(), l.DNSFail
		}
	}()
	l, err := mtasts.LookupRecord(ctx, res, rep.Domain)
	if err == nil {
		rep.MTASTS.TXT = l.TXT
		switch {
		case l.Err == nil:
			rep.TXTFound = true
			rep.MTASTS.ID = l.Record.ID
		case errors.Is(l.Err, mtasts.ErrNoRecord) && !l.DNSFail:
		default:
			rep.TXTFound = !l.DNSFail
			rep.MTASTS.RecordError = l.Err.Error()
		}
		if l.Err == nil {
			rep.MTASTS.URL = mtasts.PolicyURL(rep.Domain)
			pol, ferr := f.Fetch(ctx, rep.Domain)
			switch {
			case ferr != nil && ctx.Err() != nil:
				err = ctx.Err()
			case ferr != nil:
				rep.FetchErr = ferr
				rep.MTASTS.FetchError = ferr.Error()
			default:
				rep.STS = pol
				rep.MTASTS.Mode = string(pol.Mode)
				rep.MTASTS.MX = pol.MX
				rep.MTASTS.MaxAge = &pol.MaxAge
			}
		}
	}
	wg.Wait()
	return rep, errors.Join(err, mxErr, rptErr)
}

// ReferenceNames are the names a DANE-TA(2) match checks the leaf against
// (RFC 7672 §3.2.2): the MX host and, when it is a validated alias, its
// CNAME expansion.
func (d *DANEReport) ReferenceNames(host string) []string {
	names := []string{host}
	if d.Expanded != "" && !strings.EqualFold(d.Expanded, host) {
		names = append(names, d.Expanded)
	}
	return names
}

// HostDANE is the DANE lookup of one MX host (LookupDANE).
type HostDANE struct {
	DANE       DANEReport
	AddrSecure bool // the host's address records are DNSSEC-validated
}

// LookupDANE looks up the TLSA records of every host as a validating
// sender does (dane.LookupHost, RFC 7672 §2.2.3), at most 4 at once.
func LookupDANE(ctx context.Context, res *dnscheck.Resolver, names []string) map[string]*HostDANE {
	hosts := map[string]*HostDANE{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, h := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			l := dane.LookupHost(ctx, res, h, 25)
			hd := &HostDANE{AddrSecure: l.AddrSecure, DANE: DANEReport{Name: l.Name, Expanded: l.Expanded, Records: l.Records, Secure: l.Secure}}
			if l.Err != nil {
				hd.DANE.LookupError = l.Err.Error()
			}
			mu.Lock()
			hosts[h] = hd
			mu.Unlock()
		}()
	}
	wg.Wait()
	return hosts
}

// For is the DANE state of the host for one session, and whether it
// applies: mxSecure is Report.MXSecure, viaMX whether the host was reached
// through the domain's MX records rather than as an implicit MX. It is nil
// when the host has no TLSA records and their lookup did not fail.
func (hd *HostDANE) For(mxSecure, viaMX bool) *DANEReport {
	if hd == nil || (len(hd.DANE.Records) == 0 && hd.DANE.LookupError == "") {
		return nil
	}
	d := hd.DANE
	d.Records = slices.Clone(d.Records)
	switch {
	case d.LookupError != "" && mxSecure && hd.AddrSecure:
		// RFC 7672 §2.2: a failed TLSA lookup for a host in a signed
		// zone makes validating senders defer, as a mismatch does.
		d.Enforced = true
	case d.LookupError != "":
	case len(d.Records) == 0:
	case !d.Secure:
		d.NotEnforced = "the TLSA records are not DNSSEC-validated (an unsigned zone, or a resolver that does not validate)"
	case !mxSecure && viaMX:
		d.NotEnforced = "the MX records are not DNSSEC-validated, so senders do not look for TLSA records (RFC 7672 §2.2.1)"
	case !hd.AddrSecure:
		d.NotEnforced = "the host's address records are not DNSSEC-validated (RFC 7672 §2.2)"
	default:
		d.Enforced = true
	}
	return &d
}
