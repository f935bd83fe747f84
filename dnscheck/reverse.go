package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// maxPTRChecked bounds the forward lookups of one address's PTR names.
const maxPTRChecked = 8

// Reverse is the reverse DNS of one address.
type Reverse struct {
	PTR       []string  `json:"ptr"`    // names, no trailing dot
	Confirmed bool      `json:"fcrdns"` // forward-confirmed: some PTR name resolves back to the address
	Findings  []Finding `json:"-"`
}

// CheckReverse looks up the PTR records of addr in in-addr.arpa or ip6.arpa
// (RFC 1035 §3.5, RFC 3596 §2.5) and forward-confirms them: the address is
// confirmed when some PTR name has an A or AAAA record equal to it
// (forward-confirmed reverse DNS, as receiving MTAs check; RFC 8601 §2.7.3
// calls it "iprev"). Failures are info findings, since reverse DNS of a
// receiving server is advisory.
func (r *Resolver) CheckReverse(ctx context.Context, addr netip.Addr) Reverse {
	rev := Reverse{PTR: []string{}, Findings: []Finding{}}
	note := func(code, format string, args ...any) {
		rev.Findings = append(rev.Findings, Finding{Severity: SeverityInfo, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if !addr.IsValid() {
		note(CodePTRLookupFailed, "no reverse DNS lookup for an invalid address")
		return rev
	}
	a := addr.Unmap().WithZone("")
	arpa, err := dns.ReverseAddr(a.String())
	if err != nil {
		note(CodePTRLookupFailed, "no reverse DNS name for %s: %v", a, err)
		return rev
	}
	ans, err := r.resolve(ctx, arpa, dns.TypePTR)
	var qe *QueryError
	switch {
	case errors.Is(err, ErrNXDOMAIN):
		note(CodeNoPTR, "%s has no PTR record (NXDOMAIN for %s)", a, strings.TrimSuffix(arpa, "."))
		return rev
	case errors.As(err, &qe):
		note(CodePTRLookupFailed, "PTR lookup for %s failed: %s", a, describe(qe))
		return rev
	case err != nil:
		note(CodePTRLookupFailed, "PTR lookup for %s failed: %v", a, err)
		return rev
	}
	for _, rr := range ans.rrs {
		name := strings.ToLower(strings.TrimSuffix(rr.(*dns.PTR).Ptr, "."))
		if name != "" && !slices.Contains(rev.PTR, name) {
			rev.PTR = append(rev.PTR, name)
		}
	}
	if len(rev.PTR) == 0 {
		note(CodeNoPTR, "%s has no PTR record", a)
		return rev
	}

	fam := IPv6Only
	if a.Is4() {
		fam = IPv4Only
	}
	var failures []string
	var others []string
	for _, name := range rev.PTR[:min(len(rev.PTR), maxPTRChecked)] {
		res, err := r.lookupAddrs(ctx, dns.Fqdn(name), fam)
		if err != nil {
			note(CodePTRLookupFailed, "forward lookup of PTR %s failed: %v", name, err)
			return rev
		}
		if slices.Contains(res.addrs, a) {
			rev.Confirmed = true
			return rev
		}
		for _, x := range res.addrs {
			others = append(others, x.String())
		}
		for _, qe := range res.errs {
			if !errors.Is(qe, ErrNXDOMAIN) {
				failures = append(failures, fmt.Sprintf("%s %s: %s", name, qe.Type, describe(qe)))
			}
		}
	}
	if len(failures) > 0 {
		note(CodePTRLookupFailed, "could not forward-confirm PTR of %s: %s", a, strings.Join(failures, "; "))
		return rev
	}
	resolves := "resolves to no " + addrTypes(fam) + " record"
	if len(others) > 0 {
		resolves = "resolves to " + strings.Join(others, ", ")
	}
	note(CodeFCrDNSMismatch, "PTR %s of %s %s, not back to %s (no forward-confirmed reverse DNS)",
		strings.Join(rev.PTR, ", "), a, resolves, a)
	return rev
}
