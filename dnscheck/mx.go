// Package dnscheck resolves where mail for a domain goes: MX, A, AAAA and
// PTR lookups by RFC 5321 §5.1 (preference order, random order among equal
// preferences, the implicit MX) and RFC 7505 (null MX), with findings that
// explain what is wrong with the published records.
//
// Following the house style, a DNS failure is part of a report ([MXReport],
// [Reverse]), not an error; errors are for misuse (*[InputError]) and for a
// cancelled context.
package dnscheck

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Outcomes of an MXReport, named as probe's outcomes (probe.Outcome):
// null-mx is RFC 7505's "MX 0 .".
const (
	OutcomeOK       = "ok"
	OutcomeDNSError = "dns-error"
	OutcomeNullMX   = "null-mx"
)

// Family selects the address families to look up.
type Family int

const (
	AnyFamily Family = iota // A and AAAA
	IPv4Only                // A only
	IPv6Only                // AAAA only
)

func (f Family) types() []uint16 {
	switch f {
	case IPv4Only:
		return []uint16{dns.TypeA}
	case IPv6Only:
		return []uint16{dns.TypeAAAA}
	default:
		return []uint16{dns.TypeA, dns.TypeAAAA}
	}
}

func (f Family) allows(a netip.Addr) bool {
	switch f {
	case IPv4Only:
		return a.Unmap().Is4()
	case IPv6Only:
		return a.Is6() && !a.Is4In6()
	default:
		return true
	}
}

// Exchanger is one mail exchanger of a domain with its addresses.
type Exchanger struct {
	Host       string       `json:"host"` // normalised, no trailing dot
	Preference uint16       `json:"preference"`
	Implicit   bool         `json:"implicit,omitempty"` // RFC 5321 §5.1 implicit MX: the domain itself
	Addrs      []netip.Addr `json:"addresses"`          // every A then every AAAA, filtered by Family
}

// MXReport is the resolution of one mail domain.
type MXReport struct {
	Domain     string      `json:"domain"`
	Outcome    string      `json:"outcome"`         // "ok", "dns-error" or "null-mx"
	RCode      string      `json:"rcode,omitempty"` // for dns-error: "NXDOMAIN", "SERVFAIL", "REFUSED", "timeout", "NODATA", ...
	Server     string      `json:"resolver,omitempty"`
	Exchangers []Exchanger `json:"exchangers"` // sorted by preference; equal preferences in random order (Shuffle)
	Findings   []Finding   `json:"findings"`
}

// maxParallel bounds concurrent exchanger lookups.
const maxParallel = 8

// LookupMX resolves where mail for domain is delivered, by RFC 5321 §5.1:
// exchangers sorted by preference, those of equal preference in random
// order, and each with every A then every AAAA address allowed by fam. With
// no MX records the domain itself is the implicit MX. A null MX (RFC 7505
// §3) gives the outcome "null-mx".
//
// It returns an error only for misuse (an *[InputError] for a bad name, no
// usable resolver configuration) or when ctx is cancelled or its deadline
// passes; every DNS failure is part of the report.
func (r *Resolver) LookupMX(ctx context.Context, domain string, fam Family) (*MXReport, error) {
	name, err := NormalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	rep := &MXReport{Domain: name, Outcome: OutcomeOK, Exchangers: []Exchanger{}, Findings: []Finding{}}
	ans, err := r.resolve(ctx, dns.Fqdn(name), dns.TypeMX)
	rep.Server = ans.server
	var qe *QueryError
	switch {
	case errors.As(err, &qe):
		rep.fail(qe.RCode, failureFinding(qe, name, "MX", r))
		return rep, nil
	case err != nil:
		return nil, err
	}

	var mxs []*dns.MX
	for _, rr := range ans.rrs {
		mxs = append(mxs, rr.(*dns.MX))
	}
	if len(mxs) == 0 {
		return r.implicitMX(ctx, rep, fam)
	}

	// RFC 7505 §3: a null MX is a single MX record with preference 0 and
	// the root as exchange.
	var real []*dns.MX
	nulls := 0
	for _, mx := range mxs {
		if mx.Mx == "." {
			nulls++
			continue
		}
		real = append(real, mx)
	}
	if len(real) == 0 {
		rep.Outcome = OutcomeNullMX
		rep.Findings = append(rep.Findings, Finding{Severity: SeverityCritical, Code: CodeNullMX,
			Message: fmt.Sprintf("%s publishes a null MX (MX 0 .): the domain declares it accepts no mail (RFC 7505)", name)})
		if nulls > 1 || mxs[0].Preference != 0 {
			rep.Findings = append(rep.Findings, Finding{Severity: SeverityWarning, Code: CodeNullMXMalformed,
				Message: fmt.Sprintf("%s: a null MX must be a single record with preference 0 (RFC 7505 §3)", name)})
		}
		return rep, nil
	}
	if nulls > 0 {
		rep.Findings = append(rep.Findings, Finding{Severity: SeverityWarning, Code: CodeNullMXMixed,
			Message: fmt.Sprintf("%s publishes a null MX (MX 0 .) together with other MX records, a misconfiguration (RFC 7505 §3); using the other records", name)})
	}

	// An exchanger listed twice is listed once, at its lowest preference.
	var exs []Exchanger
	index := map[string]int{}
	for _, mx := range real {
		host := strings.ToLower(strings.TrimSuffix(mx.Mx, "."))
		if i, ok := index[host]; ok {
			rep.Findings = append(rep.Findings, Finding{Severity: SeverityInfo, Code: CodeMXDuplicate,
				Message: fmt.Sprintf("%s lists MX %s more than once; using preference %d", name, host, min(exs[i].Preference, mx.Preference))})
			exs[i].Preference = min(exs[i].Preference, mx.Preference)
			continue
		}
		index[host] = len(exs)
		exs = append(exs, Exchanger{Host: host, Preference: mx.Preference, Addrs: []netip.Addr{}})
	}
	// RFC 5321 §5.1: lowest preference first; equal preferences in random
	// order to spread the load.
	slices.SortStableFunc(exs, func(a, b Exchanger) int { return cmp.Compare(a.Preference, b.Preference) })
	for i := 0; i < len(exs); {
		j := i + 1
		for j < len(exs) && exs[j].Preference == exs[i].Preference {
			j++
		}
		if j-i > 1 {
			group := exs[i:j]
			r.shuffle(len(group), func(a, b int) { group[a], group[b] = group[b], group[a] })
		}
		i = j
	}

	findings := make([][]Finding, len(exs))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i := range exs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			exs[i].Addrs, findings[i] = r.resolveExchanger(ctx, name, exs[i].Host, fam)
		})
	}
	wg.Wait()
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	rep.Exchangers = exs
	for i := range exs {
		rep.Findings = append(rep.Findings, findings[i]...)
	}
	return rep, nil
}

// fail turns the report into a dns-error.
func (rep *MXReport) fail(rcode string, f Finding) {
	rep.Outcome = OutcomeDNSError
	rep.RCode = rcode
	rep.Exchangers = []Exchanger{}
	rep.Findings = append(rep.Findings, f)
}

// implicitMX applies RFC 5321 §5.1: with no MX records, the domain itself is
// the mail exchanger, with preference 0.
func (r *Resolver) implicitMX(ctx context.Context, rep *MXReport, fam Family) (*MXReport, error) {
	name := rep.Domain
	res, err := r.lookupAddrs(ctx, dns.Fqdn(name), fam)
	if err != nil {
		return nil, err
	}
	if res.server != "" {
		rep.Server = res.server
	}
	if len(res.addrs) == 0 {
		if qe := res.failure(); qe != nil {
			rep.fail(qe.RCode, failureFinding(qe, name, addrTypes(fam), r))
			return rep, nil
		}
		rep.fail(rcodeNoData, Finding{Severity: SeverityCritical, Code: CodeNoMXNoAddress,
			Message: fmt.Sprintf("%s has no MX and no %s record; it cannot receive mail (RFC 5321 §5.1)", name, addrTypes(fam))})
		return rep, nil
	}
	rep.Exchangers = []Exchanger{{Host: name, Preference: 0, Implicit: true, Addrs: res.addrs}}
	rep.Findings = append(rep.Findings, Finding{Severity: SeverityInfo, Code: CodeImplicitMX,
		Message: fmt.Sprintf("%s has no MX records; mail goes to its own %s records (implicit MX, RFC 5321 §5.1)", name, addrTypes(fam))})
	for _, qe := range res.errs {
		if !errors.Is(qe, ErrNXDOMAIN) {
			rep.Findings = append(rep.Findings, Finding{Severity: SeverityWarning, Code: CodeMXLookupFailed,
				Message: fmt.Sprintf("%s lookup for %s failed: %s", qe.Type, name, describe(qe))})
		}
	}
	return rep, nil
}

// resolveExchanger finds the addresses of one MX target and the findings
// about it. ctx errors are left to the caller, which checks ctx after all
// exchangers are done.
func (r *Resolver) resolveExchanger(ctx context.Context, domain, host string, fam Family) ([]netip.Addr, []Finding) {
	var fs []Finding
	// RFC 5321 §5.1: the MX target must be a domain name, not an address
	// literal; some publish one anyway ("MX 10 192.0.2.1").
	if lit, looks := ipLiteral(host); looks {
		if !lit.IsValid() {
			fs = append(fs, Finding{Severity: SeverityWarning, Code: CodeMXIPLiteral,
				Message: fmt.Sprintf("MX %s of %s looks like an IP address, not a host name (RFC 5321 §5.1), and is not a valid address either; not used", host, domain)})
			return []netip.Addr{}, fs
		}
		fs = append(fs, Finding{Severity: SeverityWarning, Code: CodeMXIPLiteral,
			Message: fmt.Sprintf("MX %s of %s is an IP address, not a host name (RFC 5321 §5.1); using it as the address", host, domain)})
		if !fam.allows(lit) {
			fs = append(fs, Finding{Severity: SeverityWarning, Code: CodeMXNoAddress,
				Message: fmt.Sprintf("MX %s of %s has no%s address", host, domain, famSuffix(fam))})
			return []netip.Addr{}, fs
		}
		return []netip.Addr{lit}, fs
	}

	// RFC 5321 §2.3.5 and RFC 1123 §2.1: an exchanger is a host name of
	// letters, digits and hyphens. A hostile or broken server can return
	// any bytes (miekg/dns shows those outside printable ASCII as \DDD
	// escapes); such a name is reported, quoted, and not used, as Postfix
	// does ("malformed domain name in resource data").
	if _, err := NormalizeDomain(host); err != nil {
		reason := err.Error()
		var ie *InputError
		if errors.As(err, &ie) {
			reason = ie.Reason
		}
		fs = append(fs, Finding{Severity: SeverityWarning, Code: CodeMXInvalidName,
			Message: fmt.Sprintf("MX %q of %s is not a valid host name (%s); not used", host, domain, reason)})
		return []netip.Addr{}, fs
	}

	res, err := r.lookupAddrs(ctx, dns.Fqdn(host), fam)
	if err != nil {
		return []netip.Addr{}, fs
	}
	if res.alias {
		// RFC 2181 §10.3: an MX must point at a name with address records,
		// never at an alias. Mailers follow it anyway.
		fs = append(fs, Finding{Severity: SeverityWarning, Code: CodeMXCNAME,
			Message: fmt.Sprintf("MX %s of %s is a CNAME (to %s); RFC 2181 §10.3 requires the target to have its own A/AAAA records", host, domain, strings.TrimSuffix(res.canonical, "."))})
	}
	failed := false
	for _, qe := range res.errs {
		if errors.Is(qe, ErrNXDOMAIN) {
			continue
		}
		failed = true
		fs = append(fs, Finding{Severity: SeverityWarning, Code: CodeMXLookupFailed,
			Message: fmt.Sprintf("%s lookup for MX %s of %s failed: %s", qe.Type, host, domain, describe(qe))})
	}
	if len(res.addrs) == 0 && !failed {
		why := "NODATA"
		if qe := res.failure(); qe != nil {
			why = qe.RCode
		}
		fs = append(fs, Finding{Severity: SeverityWarning, Code: CodeMXNoAddress,
			Message: fmt.Sprintf("MX %s of %s has no %s record (%s)", host, domain, addrTypes(fam), why)})
	}
	return res.addrs, fs
}

// ipLiteral reports whether an MX target looks like an address literal
// (dotted decimal, IPv6, or RFC 5321 §4.1.3 "[...]" syntax) and, if it
// parses, the address.
func ipLiteral(host string) (netip.Addr, bool) {
	s := strings.TrimSuffix(host, ".")
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = strings.TrimPrefix(strings.TrimPrefix(s[1:len(s)-1], "IPv6:"), "ipv6:")
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, true
		}
		return a, true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	// RFC 1123 §2.1: a host name never has a numeric top-level label.
	labels := strings.Split(s, ".")
	if isDigits(labels[len(labels)-1]) {
		return netip.Addr{}, true
	}
	return netip.Addr{}, false
}

// addrResult is the outcome of the A and AAAA lookups of one name.
type addrResult struct {
	addrs     []netip.Addr  // every A then every AAAA, never nil
	alias     bool          // the name is a CNAME
	canonical string        // end of the alias chain
	errs      []*QueryError // failed families, A before AAAA
	server    string
}

// failure returns the failure to report when there are no addresses: the
// first that is not NXDOMAIN, else the first.
func (a addrResult) failure() *QueryError {
	for _, qe := range a.errs {
		if !errors.Is(qe, ErrNXDOMAIN) {
			return qe
		}
	}
	if len(a.errs) > 0 {
		return a.errs[0]
	}
	return nil
}

// lookupAddrs looks up the families of fam for fqdn concurrently. Its error
// is only for ctx or configuration; DNS failures are in errs.
func (r *Resolver) lookupAddrs(ctx context.Context, fqdn string, fam Family) (addrResult, error) {
	types := fam.types()
	answers := make([]answer, len(types))
	errs := make([]error, len(types))
	var wg sync.WaitGroup
	for i, t := range types {
		wg.Go(func() { answers[i], errs[i] = r.resolve(ctx, fqdn, t) })
	}
	wg.Wait()
	res := addrResult{addrs: []netip.Addr{}, canonical: fqdn}
	seen := map[netip.Addr]bool{}
	for i := range types {
		ans := answers[i]
		if ans.server != "" {
			res.server = ans.server
		}
		res.alias = res.alias || ans.alias
		if ans.alias {
			res.canonical = ans.canonical
		}
		var qe *QueryError
		if errors.As(errs[i], &qe) {
			res.errs = append(res.errs, qe)
			continue
		} else if errs[i] != nil {
			return res, errs[i]
		}
		for _, rr := range ans.rrs {
			var a netip.Addr
			switch rr := rr.(type) {
			case *dns.A:
				a, _ = netip.AddrFromSlice(rr.A.To4())
			case *dns.AAAA:
				a, _ = netip.AddrFromSlice(rr.AAAA.To16())
			}
			if a.IsValid() && !seen[a] {
				seen[a] = true
				res.addrs = append(res.addrs, a)
			}
		}
	}
	return res, nil
}

// LookupAddrs returns every A and then every AAAA address of host, as
// allowed by fam. An IP literal is returned as is (if fam allows it). A
// failed lookup is a *[QueryError]; if one family fails while the other has
// addresses, those addresses are returned together with the error. NODATA
// for every family is an empty slice and a nil error. A bad host name is an
// *[InputError].
func (r *Resolver) LookupAddrs(ctx context.Context, host string, fam Family) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(host), "[]")); err == nil {
		if !fam.allows(a) {
			return []netip.Addr{}, nil
		}
		return []netip.Addr{a}, nil
	}
	name, err := NormalizeDomain(host)
	if err != nil {
		return nil, err
	}
	res, err := r.lookupAddrs(ctx, dns.Fqdn(name), fam)
	if err != nil {
		return nil, err
	}
	if qe := res.failure(); qe != nil {
		return res.addrs, qe
	}
	return res.addrs, nil
}

// failureFinding is the critical finding for a failed lookup of domain.
func failureFinding(qe *QueryError, domain, qtype string, r *Resolver) Finding {
	code := strings.ToLower(qe.RCode)
	var msg string
	switch {
	case errors.Is(qe, ErrNXDOMAIN):
		code = CodeNXDOMAIN
		msg = fmt.Sprintf("%s does not exist (NXDOMAIN for %s from resolver %s)", domain, qtype, qe.Server)
	case errors.Is(qe, ErrServFail):
		code = CodeServFail
		msg = fmt.Sprintf("resolver %s answered SERVFAIL for %s %s (often broken DNSSEC or unreachable name servers)", qe.Server, domain, qtype)
	case errors.Is(qe, ErrRefused):
		code = CodeRefused
		msg = fmt.Sprintf("resolver %s refused the %s query for %s (REFUSED)", qe.Server, qtype, domain)
	case errors.Is(qe, ErrTimeout):
		code = CodeResolverTimeout
		msg = fmt.Sprintf("no answer to the %s query for %s from %s", qtype, domain, r.describeServers())
	case errors.Is(qe, ErrMalformed), errors.Is(qe, ErrTruncated), errors.Is(qe, ErrUnreachable):
		code = map[string]string{rcodeMalformed: CodeResolverMalformed, rcodeTruncated: CodeResolverTruncated,
			rcodeUnreachable: CodeResolverUnreachable}[qe.RCode]
		msg = fmt.Sprintf("%s query for %s: %v", qtype, domain, qe.Err)
	default:
		msg = fmt.Sprintf("resolver %s answered %s for %s %s", qe.Server, qe.RCode, domain, qtype)
	}
	return Finding{Severity: SeverityCritical, Code: code, Message: msg}
}

// describe is a short account of a failed lookup for a finding.
func describe(qe *QueryError) string {
	var ee *ExchangeError
	if errors.As(qe, &ee) {
		if ee.Kind == ErrTimeout {
			return fmt.Sprintf("no answer from resolver %s", qe.Server)
		}
		return "resolver " + ee.Error()
	}
	return fmt.Sprintf("%s from resolver %s", qe.RCode, qe.Server)
}

func (r *Resolver) describeServers() string {
	servers, _ := r.servers()
	s := "resolver " + strings.Join(servers, ", ")
	if len(servers) > 1 {
		s = "resolvers " + strings.Join(servers, ", ")
	}
	return fmt.Sprintf("%s (%d attempts of %v each)", s, r.attempts(), r.timeout())
}

func addrTypes(fam Family) string {
	switch fam {
	case IPv4Only:
		return "A"
	case IPv6Only:
		return "AAAA"
	default:
		return "A or AAAA"
	}
}

func famSuffix(fam Family) string {
	switch fam {
	case IPv4Only:
		return " IPv4"
	case IPv6Only:
		return " IPv6"
	default:
		return ""
	}
}
