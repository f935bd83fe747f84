package job

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"

	"github.com/smtpprobe/smtpprobe/dnscheck"
)

// TargetHint returns a hint for a target that was written as a URL or a
// mail address instead of a domain: "https://example.com/x" suggests
// example.com, "user@example.com" suggests example.com and, with
// recipient set, the address for --to. It returns "" for anything else.
func TargetHint(s string) (domain, recipient string) {
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil && u.Hostname() != "" {
			d := u.Hostname()
			if p := u.Port(); p != "" && u.Scheme != "http" && u.Scheme != "https" {
				d = u.Host
			}
			return d, ""
		}
		return "", ""
	}
	if strings.Count(s, "@") == 1 && !strings.HasPrefix(s, "[") {
		if a, err := mail.ParseAddress(s); err == nil {
			_, d, _ := strings.Cut(a.Address, "@")
			return d, a.Address
		}
	}
	return "", ""
}

// TargetError is a target written as a URL or a mail address instead of
// a domain. Recipient is the mail address, for the recipient option.
type TargetError struct {
	Target, Domain, Recipient string
}

// Format renders e with name spelling the recipient field ("to").
func (e *TargetError) Format(name func(field string) string) string {
	if e.Recipient != "" {
		return fmt.Sprintf("target %s is a mail address: did you mean %s (and %s %s for the recipient)?",
			dnscheck.QuoteInput(e.Target), e.Domain, name("to"), e.Recipient)
	}
	return fmt.Sprintf("target %s is a URL: did you mean %s?", dnscheck.QuoteInput(e.Target), e.Domain)
}

func (e *TargetError) Error() string { return e.Format(func(f string) string { return f }) }

// TargetNote says how a bare IPv6 literal that ends in :digits was read:
// "::1:2525" is one IPv6 address on the default port, not ::1 on port
// 2525, which is written [::1]:2525. It returns "" for other targets.
func TargetNote(target string, port uint16) string {
	if strings.HasPrefix(target, "[") || strings.Count(target, ":") < 2 {
		return ""
	}
	i := strings.LastIndex(target, ":")
	tail := target[i+1:]
	if tail == "" || strings.Trim(tail, "0123456789") != "" {
		return ""
	}
	a, err := netip.ParseAddr(target)
	if err != nil {
		return ""
	}
	note := fmt.Sprintf("read %s as the IPv6 address %s on port %d", target, a, port)
	if _, err := netip.ParseAddr(target[:i]); err == nil {
		return note + fmt.Sprintf("; for %s on port %s write [%s]:%s", target[:i], tail, target[:i], tail)
	}
	return note + "; a port goes after brackets: [ADDRESS]:PORT"
}

// LinkLocalProblem says why an IPv6 link-local address cannot be dialled
// as written, or returns "". Every interface has its own fe80::/10 link
// (RFC 4291 §2.5.6), so such an address names a host only together with
// its zone, the interface (RFC 4007 §11): fe80::1%eth0. Without one the
// kernel refuses the connect ("invalid argument"), which says nothing
// about the server. IPv4 link-local addresses (169.254/16) need no zone.
func LinkLocalProblem(a netip.Addr) string {
	if !a.Is6() || a.Is4In6() || a.Zone() != "" || !(a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
		return ""
	}
	return fmt.Sprintf("a link-local address needs a zone: %s%%eth0", a)
}
