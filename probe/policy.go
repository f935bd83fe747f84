package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/dnscheck/dane"
	"github.com/smtpprobe/smtpprobe/dnscheck/mtasts"
	"github.com/smtpprobe/smtpprobe/dnscheck/policy"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// The transport policies of a mail domain decide whether senders deliver
// to its MX over the TLS they find there:
//
//   - MTA-STS (RFC 8461): in enforce mode, senders that honour it do not
//     deliver to an MX that the policy does not list, that offers no
//     STARTTLS, or whose certificate does not verify for its name (§4.2,
//     §5). In testing mode they deliver and report (RFC 8460).
//   - DANE (RFC 7672): with DNSSEC-validated TLSA records for an MX host
//     reached through a validated MX RRset, validating senders defer the
//     mail when the host offers no STARTTLS or no record matches (§2.2).
//   - Neither: senders use opportunistic TLS (RFC 3207 §4.1, RFC 7435)
//     and deliver over any certificate, or in the clear.
//
// The policy host of MTA-STS is resolved through the run's resolver, and
// its addresses are checked with Prober.Allow on port 443 (mtasts.Port)
// exactly as SMTP addresses are on theirs: an allowlist that admits only
// port 25 refuses the fetch, and the report says that the policy was not
// checked, rather than guessing it.

// policyLookup is the domain-wide lookups in flight while sessions run.
type policyLookup struct {
	done chan struct{}
	rep  *policy.Report
	err  error // ctx
}

// startPolicy looks up domain's MTA-STS record and policy, its TLS-RPT
// record and the DNSSEC state of its MX RRset in the background. It
// returns nil for a target that is not a domain.
func (p *Prober) startPolicy(ctx context.Context, res *dnscheck.Resolver, target string, opt RunOptions) *policyLookup {
	if _, literal := parseIP(target); literal {
		return nil
	}
	domain, err := dnscheck.NormalizeDomain(target)
	if err != nil {
		return nil // Run reports the bad input
	}
	pl := &policyLookup{done: make(chan struct{})}
	f := &mtasts.Fetcher{Dial: p.policyDial(res, opt.Family), RootCAs: p.RootCAs, Timeout: mtasts.DefaultFetchTimeout}
	go func() {
		defer close(pl.done)
		pl.rep, pl.err = policy.Lookup(ctx, res, domain, f)
	}()
	return pl
}

// policyDial opens the connection of a policy fetch (wire.Dialer.DialHost):
// the name resolved through res, never the system resolver, each address
// checked with p.Allow.
func (p *Prober) policyDial(res *dnscheck.Resolver, fam dnscheck.Family) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := wire.Dialer{Timeout: p.ConnectTimeout, Control: p.Control, Allow: p.Allow}
	return d.DialHost(func(ctx context.Context, host string) ([]netip.Addr, error) { return res.LookupAddrs(ctx, host, fam) })
}

// finishPolicy waits for the domain's lookups, looks up the TLSA records
// of every MX host, and applies the policies to the results.
func (p *Prober) finishPolicy(ctx context.Context, res *dnscheck.Resolver, rep *Report, pl *policyLookup) {
	if pl != nil {
		<-pl.done
		if pl.err != nil {
			return // cancelled: the run reports it
		}
		rep.Policy = pl.rep
		p.lookupDANE(ctx, res, rep)
	}
	fs := applyPolicy(rep, p.NoStartTLS, p.now())
	rep.Findings = append(rep.Findings, fs...)
	SortFindings(rep.Findings)
}

// lookupDANE sets Result.DANE for every result of an MX host: the host's
// TLSA records as a validating sender looks them up (policy.LookupDANE),
// and whether they apply.
func (p *Prober) lookupDANE(ctx context.Context, res *dnscheck.Resolver, rep *Report) {
	var names []string
	for _, r := range rep.Results {
		if _, literal := parseIP(r.Host); !literal && r.Host != "" && !slices.Contains(names, r.Host) {
			names = append(names, r.Host)
		}
	}
	hosts := policy.LookupDANE(ctx, res, names)
	for i := range rep.Results {
		r := &rep.Results[i]
		if d := hosts[r.Host].For(rep.Policy.MXSecure, r.Preference != nil); d != nil {
			r.DANE = d
		}
	}
}

// sevFor is the severity of an MTA-STS failure in mode.
func sevFor(mode mtasts.Mode) Severity {
	switch mode {
	case mtasts.ModeEnforce:
		return SevCritical
	case mtasts.ModeTesting:
		return SevWarning
	}
	return SevInfo
}

// tlsReached is what the session tells about STARTTLS: offered is false
// when EHLO did not list it; ok when the handshake completed. known is
// false when the session ended before EHLO answered (the failure is the
// result's outcome) or STARTTLS was not tried.
func tlsReached(r *Result, noStartTLS bool) (offered, ok, known bool) {
	if _, reachedEHLO := r.Phases["ehlo"]; !reachedEHLO {
		if _, helo := r.Phases["helo"]; !helo {
			return false, false, false
		}
	}
	if r.FailedPhase == "ehlo" || r.FailedPhase == "helo" || r.FailedPhase == "banner" || r.FailedPhase == "connect" {
		return false, false, false
	}
	if r.TLS != nil {
		// A handshake completed on a retry after a stalled hello
		// (tlshello.go) counts: the MX's TLS was evaluated over it.
		return true, r.FailedPhase != "starttls" || r.TLS.Version != "", true
	}
	if noStartTLS {
		return false, false, false
	}
	return hasCap(r.Capabilities, "STARTTLS"), false, true
}

// applyPolicy matches every result against the domain's policies and
// returns the findings (see the comment at the top of this file). It also
// records DANE matches in Result.DANE. rep.Policy is nil when the
// lookups were skipped: then every MX is judged by opportunistic TLS.
func applyPolicy(rep *Report, noStartTLS bool, now time.Time) []Finding {
	var fs []Finding
	add := func(sev Severity, code, format string, args ...any) {
		fs = append(fs, Finding{Severity: sev, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	pol := rep.Policy
	var sts *mtasts.Policy
	mode := mtasts.Mode("")
	if pol != nil {
		sts = pol.STS
		if sts != nil {
			mode = sts.Mode
		}
		switch {
		case pol.MTASTS.RecordError != "" && pol.TXTFound:
			add(SevWarning, dnscheck.CodeMTASTSRecordInvalid, "%s: the _mta-sts TXT record is not usable (%s); senders treat the domain as having no MTA-STS policy (RFC 8461 §3.1)",
				pol.Domain, pol.MTASTS.RecordError)
		case pol.MTASTS.RecordError != "":
			add(SevWarning, dnscheck.CodeMTASTSLookupFailed, "%s: the _mta-sts TXT lookup failed (%s); senders cannot discover an MTA-STS policy", pol.Domain, pol.MTASTS.RecordError)
		case pol.FetchErr != nil && errors.As(pol.FetchErr, new(*wire.PolicyError)):
			add(SevInfo, dnscheck.CodeMTASTSFetchNotAllowed, "%s publishes an MTA-STS record (id %s), but the policy host's address is not allowed for this prober (%s); the policy was not checked",
				pol.Domain, pol.MTASTS.ID, pol.MTASTS.FetchError)
		case pol.FetchErr != nil:
			add(SevWarning, dnscheck.CodeMTASTSPolicyUnavailable, "%s publishes an MTA-STS record (id %s), but its policy cannot be fetched: %s; senders that cached the policy keep applying it until its max_age ends, others treat the domain as having none (RFC 8461 §3.3, §5.1)",
				pol.Domain, pol.MTASTS.ID, pol.MTASTS.FetchError)
		case sts != nil:
			add(SevInfo, dnscheck.CodeMTASTSPolicy, "%s has an MTA-STS policy in %s mode (id %s, max_age %s, mx %s)",
				pol.Domain, sts.Mode, pol.MTASTS.ID, units.Setting(time.Duration(sts.MaxAge)*time.Second), strings.Join(sts.MX, ", "))
		}
		switch {
		case pol.TLSRPT.Error != "" && pol.TLSRPT.DNSFail:
			add(SevInfo, dnscheck.CodeTLSRPTLookupFailed, "%s: the _smtp._tls lookup failed (%s); whether senders send TLS reports is unknown", pol.Domain, pol.TLSRPT.Error)
		case pol.TLSRPT.Error != "":
			add(SevWarning, dnscheck.CodeTLSRPTInvalid, "%s: the _smtp._tls record is not usable (%s); senders send no TLS reports (RFC 8460 §3)", pol.Domain, pol.TLSRPT.Error)
		case len(pol.TLSRPT.RUA) > 0:
			add(SevInfo, dnscheck.CodeTLSRPT, "%s: senders report TLS failures to %s (RFC 8460)", pol.Domain, strings.Join(pol.TLSRPT.RUA, ", "))
		}
	}
	stsApplies := mode == mtasts.ModeEnforce || mode == mtasts.ModeTesting
	consequence := map[mtasts.Mode]string{
		mtasts.ModeEnforce: "senders honouring MTA-STS will not deliver to it",
		mtasts.ModeTesting: "in testing mode senders still deliver, and report the failure",
		mtasts.ModeNone:    "the policy is in none mode, so senders do not enforce it",
	}[mode]
	unlisted := map[string]bool{}
	for i := range rep.Results {
		r := &rep.Results[i]
		from := len(fs)
		w := fmt.Sprintf("%s [%s]", r.Host, r.Address)
		policyTLS := false // a policy finding covers this result's TLS
		if sts != nil && sts.Mode != mtasts.ModeNone && r.Preference != nil {
			if _, ok := sts.Match(r.Host); !ok && !unlisted[r.Host] {
				unlisted[r.Host] = true
				add(sevFor(mode), dnscheck.CodeMTASTSMXNotListed, "%s: MX %s is not matched by the MTA-STS policy's mx patterns (%s); %s",
					pol.Domain, r.Host, strings.Join(sts.MX, ", "), consequence)
			}
		}
		offered, ok, known := tlsReached(r, noStartTLS)
		d := r.DANE
		if d != nil && d.Enforced && r.TLS != nil && len(r.TLS.Chain) > 0 {
			m := dane.MatchChain(d.Records, r.TLS.Chain, d.ReferenceNames(r.Host), now)
			if m.Matched() {
				idx, depth := m.Record, m.Depth
				d.Matched, d.MatchDepth, d.MatchedRecord = &idx, &depth, d.Records[idx].String()
			} else {
				d.MatchError = m.Reason
			}
		}
		switch {
		case d == nil:
		case d.Enforced && d.LookupError != "":
			policyTLS = true
			add(SevCritical, dnscheck.CodeDANELookupFailed, "%s: the TLSA lookup failed in a DNSSEC-signed zone (%s); validating senders defer mail to it (RFC 7672 §2.2)", w, d.LookupError)
		case d.Enforced && known && !offered:
			policyTLS = true
			add(SevCritical, dnscheck.CodeDANENoStartTLS, "%s offers no STARTTLS, but has DNSSEC-validated TLSA records; validating senders defer mail to it (RFC 7672 §2.2)", w)
		case d.Enforced && known && !ok:
			policyTLS = true
			add(SevCritical, dnscheck.CodeDANETLSFailed, "%s: the TLS handshake failed (%s), and the host has DNSSEC-validated TLSA records; validating senders defer mail to it (RFC 7672 §2.2)", w, r.Error)
		case d.Enforced && d.Matched != nil:
			policyTLS = true
			add(SevInfo, dnscheck.CodeDANEMatch, "%s: TLSA record %s matches the certificate chain (DANE, RFC 7672 §3)", w, d.MatchedRecord)
		case d.Enforced && d.MatchError != "" && hasUsable(d.Records):
			policyTLS = true
			add(SevCritical, dnscheck.CodeDANEMismatch, "%s: %s; validating senders defer mail to it (RFC 7672 §2.2)", w, d.MatchError)
		case d.Enforced && d.MatchError != "":
			// RFC 7672 §2.2: no usable record: mandatory TLS, unauthenticated.
			add(SevWarning, dnscheck.CodeDANEUnusable, "%s: none of the DNSSEC-validated TLSA records is usable for SMTP (%s); senders require TLS but do not authenticate it (RFC 7672 §2.2)",
				w, unusableReasons(d.Records))
		case d.NotEnforced != "" && len(d.Records) > 0:
			add(SevInfo, dnscheck.CodeDANENotValidated, "%s has TLSA records that senders do not use: %s", w, d.NotEnforced)
		}
		if stsApplies && r.Preference != nil && known {
			switch {
			case !offered:
				policyTLS = true
				add(sevFor(mode), dnscheck.CodeMTASTSNoStartTLS, "%s offers no STARTTLS, but the domain's MTA-STS policy is in %s mode; %s", w, mode, consequence)
			case !ok:
				policyTLS = true
				add(sevFor(mode), dnscheck.CodeMTASTSTLSFailed, "%s: the TLS handshake failed, and the domain's MTA-STS policy is in %s mode; %s", w, mode, consequence)
			case !r.TLS.Verified:
				policyTLS = true
				add(sevFor(mode), dnscheck.CodeMTASTSCertInvalid, "%s: the certificate does not verify for %s (%s), and the domain's MTA-STS policy is in %s mode; %s",
					w, r.Host, r.TLS.VerifyError, mode, consequence)
			}
		}
		if !policyTLS && known && !offered {
			add(SevWarning, dnscheck.CodeStartTLSNotOffered, "%s does not offer STARTTLS; mail to it travels in the clear", w)
		}
		// They are this result's findings too, so that a renderer can
		// tell which address each one is about (JSON lists them once).
		r.Findings = append(r.Findings, fs[from:len(fs):len(fs)]...)
	}
	return fs
}

func hasUsable(rs []dane.Record) bool {
	return slices.ContainsFunc(rs, func(r dane.Record) bool { return r.Unusable() == "" })
}

func unusableReasons(rs []dane.Record) string {
	var why []string
	for _, r := range rs {
		why = append(why, r.Unusable())
	}
	return strings.Join(slices.Compact(why), "; ")
}
