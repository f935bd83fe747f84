package dnscheck

// The finding codes: every code a Finding carries, as a constant, and
// Codes, the table of each code with the severities it is given and when.
// A new finding adds its code here (and to the README's table, which
// TestCodesREADME holds to this one); TestNoCodeLiterals fails on a code
// written as a string literal anywhere else.

import (
	"regexp"
	"strings"

	"github.com/miekg/dns"
)

// Finding codes.
const (
	CodeNullMX                         = "null-mx"
	CodeNullMXMalformed                = "null-mx-malformed"
	CodeNullMXMixed                    = "null-mx-mixed"
	CodeMXDuplicate                    = "mx-duplicate"
	CodeNoMXNoAddress                  = "no-mx-no-address"
	CodeImplicitMX                     = "implicit-mx"
	CodeMXAddress                      = "mx-address"
	CodeMXLookupFailed                 = "mx-lookup-failed"
	CodeMXIPLiteral                    = "mx-ip-literal"
	CodeMXNoAddress                    = "mx-no-address"
	CodeMXInvalidName                  = "mx-invalid-name"
	CodeMXCNAME                        = "mx-cname"
	CodeNXDOMAIN                       = "nxdomain"
	CodeServFail                       = "servfail"
	CodeRefused                        = "refused"
	CodeResolverTimeout                = "resolver-timeout"
	CodeResolverMalformed              = "resolver-malformed"
	CodeResolverTruncated              = "resolver-truncated"
	CodeResolverUnreachable            = "resolver-unreachable"
	CodeNoPTR                          = "no-ptr"
	CodePTRLookupFailed                = "ptr-lookup-failed"
	CodeFCrDNSMismatch                 = "fcrdns-mismatch"
	CodeNoAddresses                    = "no-addresses"
	CodeAddressPrefix                  = "address-"
	CodeGreylisted                     = "greylisted"
	CodeRcptRefused                    = "rcpt-refused"
	CodeEHLORejected                   = "ehlo-rejected"
	CodeStartTLSNotOffered             = "starttls-not-offered"
	CodePipeliningNotOffered           = "pipelining-not-offered"
	CodeTLSVerifyFailed                = "tls-verify-failed"
	CodeTLSCertExpiring                = "tls-cert-expiring"
	CodeTLSCertExpired                 = "tls-cert-expired"
	CodeTLSOldVersion                  = "tls-old-version"
	CodeUnsolicitedReply               = "unsolicited-reply"
	CodeAckUnverified                  = "ack-unverified"
	CodeBodySegmentsLost               = "body-segments-lost"
	CodeSegmentsLost                   = "segments-lost"
	CodeServerFlightStalled            = "server-flight-stalled"
	CodePMTUBlackhole                  = "pmtu-blackhole"
	CodeReversePMTUBlackhole           = "reverse-pmtu-blackhole"
	CodeTLSMiddlebox                   = "tls-middlebox"
	CodeTLSHelloStalled                = "tls-hello-stalled"
	CodeTLSEvaluatedOnRetry            = "tls-evaluated-on-retry"
	CodePMTUBottleneck                 = "pmtu-bottleneck"
	CodePMTUCached                     = "pmtu-cached"
	CodePMTUUntestedCached             = "pmtu-untested-cached"
	CodeReverseUntestedCached          = "reverse-untested-cached"
	CodePMTUCacheCleared               = "pmtu-cache-cleared"
	CodePMTUTestedByUDP                = "pmtu-tested-by-udp"
	CodeRegressionUnverified           = "regression-unverified"
	CodePMTUStopgap                    = "pmtu-stopgap"
	CodeMSSClamped                     = "mss-clamped"
	CodeClampMSS                       = "clamp-mss"
	CodePathLoss                       = "path-loss"
	CodeMTUInconclusive                = "mtu-inconclusive"
	CodeICMPRateLimited                = "icmp-rate-limited"
	CodeReverseUntested                = "reverse-untested"
	CodeReverseTestedUpTo              = "reverse-tested-up-to"
	CodeReversePMTUBottleneck          = "reverse-pmtu-bottleneck"
	CodeReverseMSSClamped              = "reverse-mss-clamped"
	CodeReverseInconsistent            = "reverse-inconsistent"
	CodeServerTimeoutBelowRFC          = "server-timeout-below-rfc"
	CodePauseExceedsServerTimeout      = "pause-exceeds-server-timeout"
	CodeNoTimeoutWithinMaxWait         = "no-timeout-within-max-wait"
	CodeGreetingDelayed                = "greeting-delayed"
	CodeGreetingTimeout                = "greeting-timeout"
	CodePostscreenPregreet             = "postscreen-pregreet"
	CodePostscreenDeferral             = "postscreen-deferral"
	CodePostscreenDeferralRetried      = "postscreen-deferral-retried"
	CodeSYNDroppedAfterHop             = "syn-dropped-after-hop"
	CodePort25FilteredAtHop            = "port25-filtered-at-hop"
	CodeNoLocalRoute                   = "no-local-route"
	CodeICMPAdminProhibited            = "icmp-admin-prohibited"
	CodeICMPHostUnreachable            = "icmp-host-unreachable"
	CodeICMPNetUnreachable             = "icmp-net-unreachable"
	CodeICMPPrefix                     = "icmp-"
	CodeBlackholeLink                  = "blackhole-link"
	CodeBlackholeLinkNotLocated        = "blackhole-link-not-located"
	CodeMTASTSPolicy                   = "mta-sts-policy"
	CodeMTASTSMXNotListed              = "mta-sts-mx-not-listed"
	CodeMTASTSNoStartTLS               = "mta-sts-no-starttls"
	CodeMTASTSTLSFailed                = "mta-sts-tls-failed"
	CodeMTASTSCertInvalid              = "mta-sts-cert-invalid"
	CodeMTASTSPolicyUnavailable        = "mta-sts-policy-unavailable"
	CodeMTASTSRecordInvalid            = "mta-sts-record-invalid"
	CodeMTASTSLookupFailed             = "mta-sts-lookup-failed"
	CodeMTASTSFetchNotAllowed          = "mta-sts-fetch-not-allowed"
	CodeTLSRPT                         = "tls-rpt"
	CodeTLSRPTInvalid                  = "tls-rpt-invalid"
	CodeTLSRPTLookupFailed             = "tls-rpt-lookup-failed"
	CodeDANEMatch                      = "dane-match"
	CodeDANEMismatch                   = "dane-mismatch"
	CodeDANENoStartTLS                 = "dane-no-starttls"
	CodeDANETLSFailed                  = "dane-tls-failed"
	CodeDANELookupFailed               = "dane-lookup-failed"
	CodeDANEUnusable                   = "dane-unusable"
	CodeDANENotValidated               = "dane-not-validated"
	CodeThresholdTime                  = "threshold-time"
	CodeThresholdTimeout               = "threshold-timeout"
	CodeThresholdMTU                   = "threshold-mtu"
	CodeThresholdTransient             = "threshold-transient"
	CodeRegressionDNS                  = "regression-dns"
	CodeRegressionOutcome              = "regression-outcome"
	CodeRegressionPMTUBlackhole        = "regression-pmtu-blackhole"
	CodeRegressionPathMTU              = "regression-path-mtu"
	CodeRegressionReversePMTUBlackhole = "regression-reverse-pmtu-blackhole"
	CodeRegressionReversePathMTU       = "regression-reverse-path-mtu"
	CodeRegressionServerTimeout        = "regression-server-timeout"
	CodeRegressionTLS                  = "regression-tls"
	CodeRegressionMTASTSPolicy         = "regression-mta-sts-policy"
	CodeRegressionDANEMatch            = "regression-dane-match"
	CodeBaselineMissing                = "baseline-missing"
	CodeBaselineNew                    = "baseline-new"
	CodeCheckFailed                    = "check-failed"
)

// CodeInfo is one finding code, or one family of codes: a family's Code
// ends in an upper-case placeholder ("icmp-CLASS": CodeICMPPrefix and an
// ICMP class; "RCODE": a DNS RCODE in lower case).
type CodeInfo struct {
	Code       string
	Severities []Severity // the severities it is given, most severe first
	About      string     // when it is given
}

// Family reports whether c names a family of codes.
func (c CodeInfo) Family() bool { return strings.ToLower(c.Code) != c.Code }

var (
	kebab  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	rcodeN = regexp.MustCompile(`^rcode[0-9]+$`)
)

// Matches reports whether code is c's code or one of c's family.
func (c CodeInfo) Matches(code string) bool {
	switch {
	case !c.Family():
		return code == c.Code
	case c.Code == "RCODE":
		_, ok := dns.StringToRcode[strings.ToUpper(code)]
		return ok && code != "noerror" || rcodeN.MatchString(code)
	}
	prefix := strings.TrimRightFunc(c.Code, func(r rune) bool { return r >= 'A' && r <= 'Z' })
	rest, ok := strings.CutPrefix(code, prefix)
	return ok && kebab.MatchString(rest)
}

// CodeOf returns the entry of Codes for code: its own, or else its
// family's.
func CodeOf(code string) (CodeInfo, bool) {
	var fam *CodeInfo
	for i, c := range Codes {
		if c.Code == code {
			return c, true
		}
		if fam == nil && c.Family() && c.Matches(code) {
			fam = &Codes[i]
		}
	}
	if fam != nil {
		return *fam, true
	}
	return CodeInfo{}, false
}

var (
	info     = []Severity{SeverityInfo}
	warning  = []Severity{SeverityWarning}
	critical = []Severity{SeverityCritical}
	either   = []Severity{SeverityCritical, SeverityWarning}
)

// Codes lists every finding code with its severities, in the README's
// order: DNS, the session, the path MTU and the path, policies,
// thresholds and baselines.
var Codes = []CodeInfo{
	{CodeNullMX, critical, "the domain publishes `MX 0 .`: it accepts no mail (RFC 7505)"},
	{CodeNullMXMalformed, warning, "a null MX with a preference other than 0 (RFC 7505 §3)"},
	{CodeNullMXMixed, warning, "a null MX beside other MX records (RFC 7505 §3)"},
	{CodeMXDuplicate, info, "the same exchanger listed twice"},
	{CodeNoMXNoAddress, critical, "no MX and no A/AAAA record: mail cannot be delivered (RFC 5321 §5.1)"},
	{CodeImplicitMX, info, "no MX record: mail goes to the domain's own address (RFC 5321 §5.1)"},
	{CodeMXAddress, info, "the target is an IP address: probed directly, without an MX lookup or the domain's policies"},
	{CodeMXLookupFailed, warning, "the address lookup of an exchanger failed"},
	{CodeMXIPLiteral, warning, "an MX target that is an IP address, not a host name (RFC 5321 §5.1)"},
	{CodeMXNoAddress, warning, "an exchanger with no A/AAAA record"},
	{CodeMXInvalidName, warning, "an MX target that is not a valid host name"},
	{CodeMXCNAME, warning, "an MX target that is a CNAME (RFC 5321 §5.1, RFC 2181 §10.3)"},
	{CodeNXDOMAIN, critical, "the domain does not exist"},
	{CodeServFail, critical, "the resolver answered SERVFAIL (often broken DNSSEC)"},
	{CodeRefused, critical, "the resolver refused the query"},
	{CodeResolverTimeout, critical, "no resolver answered in time"},
	{CodeResolverMalformed, critical, "the resolver's answer is not a DNS message"},
	{CodeResolverTruncated, critical, "the answer was truncated, also over TCP"},
	{CodeResolverUnreachable, critical, "the resolver cannot be reached"},
	{"RCODE", critical, "any other DNS RCODE, in lower case (`formerr`, `notimp`, ...): the lookup failed"},
	{CodeNoPTR, info, "an address without a PTR record"},
	{CodePTRLookupFailed, info, "the reverse DNS lookup (or its forward confirmation) failed"},
	{CodeFCrDNSMismatch, info, "no PTR name leads back to the address (forward-confirmed reverse DNS, RFC 8601 §2.7.3)"},
	{CodeNoAddresses, critical, "no exchanger has an address to connect to"},
	{CodeAddressPrefix + "OUTCOME", either, "(text output) an address whose outcome is not ok: warning while another address works"},
	{CodeGreylisted, info, "a transient 4xx that a retry after the server's delay will pass"},
	{CodeRcptRefused, warning, "the server refused the recipient"},
	{CodeEHLORejected, warning, "the server refused EHLO; HELO was used"},
	{CodeStartTLSNotOffered, warning, "no policy applies and the MX offers no STARTTLS"},
	{CodePipeliningNotOffered, info, "the server does not offer PIPELINING (RFC 2920)"},
	{CodeTLSVerifyFailed, info, "opportunistic TLS over a certificate that does not verify"},
	{CodeTLSCertExpiring, either, "the certificate expires within the `cert=` days (14 by default): warning, or critical past the critical threshold"},
	{CodeTLSCertExpired, either, "the certificate has expired, whatever the TLS policy: critical, or warning when the critical `cert=` is 0"},
	{CodeTLSOldVersion, warning, "the TLS version negotiated is below TLS 1.2 (RFC 8996)"},
	{CodeUnsolicitedReply, warning, "the server sent a reply during an idle wait without being asked (RFC 5321 §4.2)"},
	{CodeAckUnverified, info, "this system cannot read TCP_INFO: delivery of the body to the peer's TCP was not verified"},
	{CodeBodySegmentsLost, critical, "the commands passed but the body's full-size segments were retransmitted without an acknowledgement (a PMTU black hole looks like this)"},
	{CodeSegmentsLost, warning, "a write was retransmitted without an acknowledgement after segments as large had passed: loss, not a black hole"},
	{CodeServerFlightStalled, warning, "the server's TLS flight stalled, and a retry with a smaller MSS failed too"},
	{CodePMTUBlackhole, critical, "segments above a size vanish and no ICMP says why (RFC 2923 §2.1)"},
	{CodeReversePMTUBlackhole, critical, "the same black hole from the server toward us"},
	{CodeTLSMiddlebox, critical, "a middlebox drops the large (post-quantum) ClientHello: full-size segments that begin no ClientHello pass and a classical hello completes"},
	{CodeTLSHelloStalled, warning, "the large ClientHello stalled while full-size segments pass, and a classical hello failed too"},
	{CodeTLSEvaluatedOnRetry, info, "after a black hole swallowed the ClientHello, TLS was evaluated over the same hello split in two writes on a new connection"},
	{CodePMTUBottleneck, info, "the path MTU is below the interface MTU"},
	{CodePMTUCached, info, "the kernel had a path MTU cached toward the target (learned from ICMP), with its expiry; deleted first for IPv6 where allowed"},
	{CodePMTUUntestedCached, info, "client to server, nothing above the cached path MTU was tested and the DF datagrams did not decide: `untested`"},
	{CodeReverseUntestedCached, info, "our cached path MTU lowered the MSS our SYN advertised, so the server's full-size flight was not tested"},
	{CodePMTUCacheCleared, info, "`mx`, `session`, `timeout`: our cached IPv6 path MTU toward the address was deleted before connecting"},
	{CodePMTUTestedByUDP, info, "TCP could not send above the bottleneck (the server's MSS or our cache); DF datagrams decided the black hole"},
	{CodePMTUStopgap, warning, "a stopgap on this host for a black hole: a lower interface MTU or tcp_mtu_probing"},
	{CodeMSSClamped, info, "a router on the path clamps the MSS"},
	{CodeClampMSS, warning, "the fix for a black hole: clamp the MSS on the bottleneck router"},
	{CodePathLoss, info, "random loss on the path while bracketing; the bracket rests on re-tests"},
	{CodeMTUInconclusive, warning, "a direction random loss kept from deciding within the run's bound: the loss measured, what was proven, a retry hint"},
	{CodeICMPRateLimited, info, "an ICMP error came only after a wait (a router limits its frag-needed), or a sweep met the rate limit of the host whose ICMP the connect had just received"},
	{CodeReverseUntested, info, "no STARTTLS, so the server-to-client direction was not tested"},
	{CodeReverseTestedUpTo, info, "the server's STARTTLS flight tested the server-to-client direction only up to a size"},
	{CodeReversePMTUBottleneck, info, "the server-to-client path MTU is below ours"},
	{CodeReverseMSSClamped, info, "the server-to-client MSS is clamped"},
	{CodeReverseInconsistent, warning, "the server-to-client bracketing was inconsistent"},
	{CodeServerTimeoutBelowRFC, warning, "a server idle timeout below RFC 5321 §4.5.3.2's 5 minutes for a command (3 minutes per data block), beyond the timer's tolerance"},
	{CodePauseExceedsServerTimeout, critical, "the pause asked for is longer than the server waits"},
	{CodeNoTimeoutWithinMaxWait, info, "the server did not time out within the wait asked for"},
	{CodeGreetingDelayed, info, "the server held its 220 greeting a second or more after connect (a tarpit)"},
	{CodeGreetingTimeout, warning, "no greeting within the probe's own reply limit; RFC 5321 §4.5.3.2.1 gives it 5 minutes"},
	{CodePostscreenPregreet, info, "Postfix's postscreen sent a 220- teaser and its final 220 after postscreen_greet_wait"},
	{CodePostscreenDeferral, info, "postscreen deferred a new client with 450 4.3.2 after its tests; the next session passes"},
	{CodePostscreenDeferralRetried, info, "the session retried after a postscreen deferral, and how it went"},
	{CodeSYNDroppedAfterHop, warning, "SYNs to port 25 vanish after a hop"},
	{CodePort25FilteredAtHop, warning, "port 25 is filtered at a hop while another port passes on the same path"},
	{CodeNoLocalRoute, warning, "SYNs cannot leave this host (no route or a local reject rule)"},
	{CodeICMPAdminProhibited, warning, "a firewall rejects the SYNs with ICMP administratively prohibited"},
	{CodeICMPHostUnreachable, warning, "SYNs answered with ICMP host unreachable"},
	{CodeICMPNetUnreachable, warning, "SYNs answered with ICMP net unreachable"},
	{CodeICMPPrefix + "CLASS", warning, "SYNs answered with another ICMP error (`trace.Class`)"},
	{CodeBlackholeLink, critical, "the link where large packets vanish, located by a TTL sweep"},
	{CodeBlackholeLinkNotLocated, info, "the black-hole link could not be located"},
	{CodeMTASTSPolicy, info, "the fetched policy: mode, id, max_age, mx patterns"},
	{CodeMTASTSMXNotListed, either, "an MX that no `mx` pattern matches (RFC 8461 §4.1); critical (enforce), warning (testing)"},
	{CodeMTASTSNoStartTLS, either, "an MX without STARTTLS; critical (enforce), warning (testing)"},
	{CodeMTASTSTLSFailed, either, "the TLS handshake failed; critical (enforce), warning (testing)"},
	{CodeMTASTSCertInvalid, either, "the certificate does not verify for the MX name; critical (enforce), warning (testing)"},
	{CodeMTASTSPolicyUnavailable, warning, "a TXT record, but the policy cannot be fetched (RFC 8461 §3.3, §5.1)"},
	{CodeMTASTSRecordInvalid, warning, "an `_mta-sts` TXT record that is not usable (RFC 8461 §3.1)"},
	{CodeMTASTSLookupFailed, warning, "the `_mta-sts` lookup failed"},
	{CodeMTASTSFetchNotAllowed, info, "the policy host's address is outside `serve.allow`: not checked"},
	{CodeTLSRPT, info, "the `rua` destinations of TLS reports"},
	{CodeTLSRPTInvalid, warning, "an `_smtp._tls` record that is not usable (RFC 8460 §3)"},
	{CodeTLSRPTLookupFailed, info, "the `_smtp._tls` lookup failed"},
	{CodeDANEMatch, info, "a secure TLSA record matches the chain"},
	{CodeDANEMismatch, critical, "secure TLSA records, none matches"},
	{CodeDANENoStartTLS, critical, "secure TLSA records, no STARTTLS"},
	{CodeDANETLSFailed, critical, "secure TLSA records, the TLS handshake failed"},
	{CodeDANELookupFailed, critical, "the TLSA lookup failed in a signed zone"},
	{CodeDANEUnusable, warning, "secure TLSA records, none usable for SMTP"},
	{CodeDANENotValidated, info, "TLSA records that senders do not use (unsigned zone, non-validating resolver)"},
	{CodeThresholdTime, either, "a phase took longer than the `time=` threshold"},
	{CodeThresholdTimeout, either, "the server idle timeout is below `timeout=`"},
	{CodeThresholdMTU, either, "the path MTU is below `mtu=`"},
	{CodeThresholdTransient, either, "at least `transient=` addresses rejected transiently"},
	{CodeRegressionDNS, critical, "against a baseline: the domain stopped resolving"},
	{CodeRegressionOutcome, critical, "against a baseline: an address that worked fails"},
	{CodeRegressionPMTUBlackhole, critical, "against a baseline: a new black hole"},
	{CodeRegressionPathMTU, critical, "against a baseline: the path MTU shrank"},
	{CodeRegressionReversePMTUBlackhole, critical, "against a baseline: a new black hole toward us"},
	{CodeRegressionReversePathMTU, critical, "against a baseline: the reverse path MTU shrank"},
	{CodeRegressionServerTimeout, critical, "against a baseline: the server idle timeout shrank"},
	{CodeRegressionTLS, warning, "against a baseline: the certificate verified before and does not now"},
	{CodeRegressionUnverified, warning, "against a baseline: a direction was tested less than before (a cache or the server's MSS hid sizes); what, and how to retest"},
	{CodeRegressionMTASTSPolicy, critical, "against a baseline: the MTA-STS mode or mx patterns changed, or the policy is gone"},
	{CodeRegressionDANEMatch, critical, "against a baseline: a TLSA record matched before, nothing matches now"},
	{CodeBaselineMissing, warning, "against a baseline: an address is no longer among the results"},
	{CodeBaselineNew, info, "against a baseline: an address is new"},
	{CodeCheckFailed, critical, "a check of `smtpprobe check` could not run (UNKNOWN)"},
}
