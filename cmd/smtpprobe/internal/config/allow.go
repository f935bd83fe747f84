package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/smtpprobe/smtpprobe/dnscheck"
)

// Allowlist is serve.allow: what the exporter may probe. It is checked
// twice. The request's target must be a domain at or below an allowed
// domain, or an address inside an allowed network, on an allowed port.
// Then every address the probe would connect to, the exchangers' addresses
// that DNS returned included, must be inside an allowed network on an
// allowed port, checked right before the connect. A name alone never
// admits an address: DNS can point an allowed name anywhere (rebinding,
// or an MX record aimed at another network).
//
// Entries, each with an optional port list (default 25 only, the SMTP
// relay port of RFC 5321 §4.5.4.2):
//
//	example.com            example.com and its subdomains, port 25
//	example.com:25,587
//	192.0.2.0/24           a network, port 25
//	192.0.2.0/24:25,587
//	192.0.2.25:2525        one address
//	2001:db8::/32:25       an IPv6 network with ports
//	[2001:db8::25]:25,587  an IPv6 address with ports needs brackets
type Allowlist struct {
	domains []allowDomain
	nets    []allowNet
}

type allowDomain struct {
	name  string // normalised, without the trailing dot
	ports []uint16
}

type allowNet struct {
	prefix netip.Prefix
	ports  []uint16
}

// defaultAllowPorts are the ports of an entry that names none.
var defaultAllowPorts = []uint16{25}

// ErrNotAllowed is what every refusal of the allowlist matches
// (errors.Is).
var ErrNotAllowed = errors.New("not in serve.allow")

// notAllowed is a refusal of the allowlist, saying what was refused.
type notAllowed struct{ msg string }

func (e *notAllowed) Error() string        { return e.msg }
func (e *notAllowed) Is(target error) bool { return target == ErrNotAllowed }

func refuse(format string, args ...any) error {
	return &notAllowed{fmt.Sprintf(format, args...)}
}

// ParseAllowlist parses serve.allow. An error names the entry and what
// was expected.
func ParseAllowlist(entries []string) (*Allowlist, error) {
	a := &Allowlist{}
	for _, e := range entries {
		if err := a.add(e); err != nil {
			return nil, fmt.Errorf("serve.allow %q: %v", e, err)
		}
	}
	return a, nil
}

func (a *Allowlist) add(entry string) error {
	const want = "want DOMAIN, CIDR or ADDRESS with an optional :PORT[,PORT...], such as example.com, 192.0.2.0/24:25,587 or [2001:db8::25]:25"
	s := strings.TrimSpace(entry)
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return errors.New(want)
	}
	host, portList, bracketed := s, "", false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return fmt.Errorf("no closing ]: %s", want)
		}
		host, bracketed = s[1:end], true
		switch rest := s[end+1:]; {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			portList = rest[1:]
		default:
			return fmt.Errorf("%q after ]: %s", rest, want)
		}
	} else if _, err := parseNet(s); err != nil {
		// Not a bare network or address: the ports follow the last colon.
		// (A bare IPv6 address with a port is ambiguous; it needs brackets.)
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, portList = s[:i], s[i+1:]
		}
	}
	ports := defaultAllowPorts
	if portList != "" || strings.HasSuffix(s, ":") {
		var err error
		if ports, err = parsePorts(portList); err != nil {
			return err
		}
	}
	if p, err := parseNet(host); err == nil {
		a.nets = append(a.nets, allowNet{p, ports})
		return nil
	} else if bracketed {
		return fmt.Errorf("%q in brackets is not an IPv6 address or network: %s", host, want)
	}
	if strings.Contains(host, "/") || strings.Count(host, ":") > 0 {
		return errors.New(want)
	}
	d, err := dnscheck.NormalizeDomain(host)
	if err != nil || d == "" || d == "." {
		return errors.New(want)
	}
	a.domains = append(a.domains, allowDomain{strings.TrimSuffix(d, "."), ports})
	return nil
}

// parseNet parses a CIDR or a single address (as a /32 or /128).
func parseNet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, errors.New("zone in a network")
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// ::ffff:192.0.2.0/120 is 192.0.2.0/24.
			return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked(), nil
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if ip.Zone() != "" {
		return netip.Prefix{}, errors.New("an address with a zone cannot be allowed")
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// parsePorts parses "25" or "25,587".
func parsePorts(s string) ([]uint16, error) {
	var ports []uint16
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("port %q: want ports from 1 to 65535, separated by commas", f)
		}
		ports = append(ports, uint16(n))
	}
	slices.Sort(ports)
	return slices.Compact(ports), nil
}

// Networks reports whether any network is allowed: without one no
// address passes the check before the connect.
func (a *Allowlist) Networks() bool { return len(a.nets) > 0 }

// CheckTarget is the first check: the request's target, before DNS.
// host is a domain (normalised by the job) or an IP literal.
func (a *Allowlist) CheckTarget(host string, port uint16) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		ap := netip.AddrPortFrom(ip, port)
		if err := a.CheckAddr(ap); err != nil {
			return refuse("target %s: %v", ap, err)
		}
		return nil
	}
	d, err := dnscheck.NormalizeDomain(host)
	if err != nil {
		return refuse("target %s is not in serve.allow", host)
	}
	d = strings.TrimSuffix(d, ".")
	nameOK := false
	for _, e := range a.domains {
		if d == e.name || strings.HasSuffix(d, "."+e.name) {
			nameOK = true
			if slices.Contains(e.ports, port) {
				return nil
			}
		}
	}
	if nameOK {
		return refuse("target %s: port %d is not in serve.allow (its entries allow port %s)", d, port, a.domainPorts(d))
	}
	return refuse("target %s is not in serve.allow", d)
}

// CheckAddr is the second check, of every address right before the
// connect: it must lie inside an allowed network, on one of its ports.
// An IPv4-mapped IPv6 address is checked as the IPv4 address it reaches.
func (a *Allowlist) CheckAddr(ap netip.AddrPort) error {
	ip := ap.Addr()
	if ip.Zone() != "" {
		return refuse("address %s has a zone; serve.allow admits none", ip)
	}
	ip = ip.Unmap()
	inNet := false
	for _, n := range a.nets {
		if n.prefix.Contains(ip) {
			inNet = true
			if slices.Contains(n.ports, ap.Port()) {
				return nil
			}
		}
	}
	if inNet {
		return refuse("port %d of %s is not in serve.allow", ap.Port(), ip)
	}
	return refuse("%s is outside every network in serve.allow", ip)
}

func (a *Allowlist) domainPorts(d string) string {
	var ps []string
	for _, e := range a.domains {
		if d == e.name || strings.HasSuffix(d, "."+e.name) {
			for _, p := range e.ports {
				ps = append(ps, strconv.Itoa(int(p)))
			}
		}
	}
	return strings.Join(ps, ",")
}
