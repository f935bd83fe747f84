package dnscheck

import (
	"context"
	"errors"
	"strings"

	"github.com/miekg/dns"
)

// Answer is the answer to one query made with [Resolver.Lookup].
type Answer struct {
	// Records are the records of the asked type at the end of the alias
	// chain in the answer section; empty for NXDOMAIN and NODATA.
	Records []dns.RR
	// Canonical is the name at the end of the alias chain, fully qualified.
	Canonical string
	// Secure is the AD bit of the response: the resolver validated the
	// answer, or the denial of its existence, with DNSSEC (RFC 4035 §3.2.3,
	// RFC 6840 §5.7). Only as good as the path to a trusted resolver.
	Secure bool
	// NXDomain is set when the name does not exist (RCODE 3, RFC 1035 §4.1.1).
	NXDomain bool
	Server   string // the server that answered
}

// Lookup asks the resolver for name and qtype with the DO and AD bits set
// (RFC 3225, RFC 6840 §5.7), so that Answer.Secure reports whether the
// resolver validated the answer. NXDOMAIN and NODATA are answers, not
// errors. Other DNS failures (SERVFAIL, REFUSED, no answer) are a
// *QueryError; a bad name is an *InputError; a cancelled ctx is returned
// as is. A CNAME chain is followed within the answer section (RFC 1034
// §3.6.2), as a recursive resolver sends it.
func (r *Resolver) Lookup(ctx context.Context, name string, qtype uint16) (Answer, error) {
	// The name is built from a normalised domain and service labels such
	// as _mta-sts and _25._tcp (RFC 8461 §3.1, RFC 7672 §2.2), which
	// NormalizeDomain, made for host names, would refuse.
	if _, ok := dns.IsDomainName(name); !ok || strings.Trim(name, ".") == "" || len(name) > maxNameLen+1 {
		return Answer{}, &InputError{Input: name, Reason: "not a valid DNS name", kind: "domain"}
	}
	fqdn := dns.Fqdn(strings.ToLower(strings.TrimSuffix(name, ".")))
	msg, server, err := r.exchangeDO(ctx, fqdn, qtype, true)
	ans := Answer{Canonical: fqdn, Server: server}
	if err != nil {
		return ans, err
	}
	ans.Canonical, _ = followCNAME(msg.Answer, fqdn)
	ans.Secure = msg.AuthenticatedData
	if qerr := rcodeError(msg, fqdn, qtype, server); qerr != nil {
		if errors.Is(qerr, ErrNXDOMAIN) {
			ans.NXDomain = true
			return ans, nil
		}
		return ans, qerr
	}
	for _, rr := range msg.Answer {
		if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, ans.Canonical) {
			ans.Records = append(ans.Records, rr)
		}
	}
	return ans, nil
}
