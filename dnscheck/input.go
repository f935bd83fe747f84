package dnscheck

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Length limits of RFC 1035 §2.3.4 (253 octets in presentation form without
// the trailing dot, the 255-octet wire limit less the length octets).
const (
	maxLabelLen = 63
	maxNameLen  = 253

	// maxInputLen bounds the input NormalizeDomain looks at: 253 octets
	// of A-labels are at most this many bytes of UTF-8 U-labels (a
	// character takes up to 4 bytes and its A-label at least one octet).
	maxInputLen = 4 * (maxNameLen + 1)
)

// NormalizeDomain converts a user-supplied name to its ASCII, lower-case form
// without a trailing dot. Internationalised names are converted with the
// IDNA2008/UTS #46 Lookup profile (RFC 5891 §5), so "bücher.example" becomes
// "xn--bcher-kva.example". Empty input, a label over 63 octets or a name over
// 253 (RFC 1035 §2.3.4), characters not allowed in host names, and IP
// literals give an *[InputError].
func NormalizeDomain(s string) (string, error) {
	bad := func(reason string) (string, error) {
		return "", &InputError{Input: s, Reason: reason, kind: "domain"}
	}
	name := strings.TrimSpace(s)
	if len(name) > maxInputLen {
		// Far past any name, even in Unicode form: refuse it before the
		// IDNA mapping spends time on it.
		return bad(fmt.Sprintf("is %d bytes, longer than any domain name (%d octets, RFC 1035 §2.3.4)", len(name), maxNameLen))
	}
	if reason := TextProblem(name); reason != "" {
		// Checked before anything else: bytes that are not UTF-8 must
		// not be mapped to U+FFFD and a different name looked up.
		return bad(reason + "; expected a domain name such as example.com")
	}
	switch {
	case name == "":
		return bad("empty; expected a domain name such as example.com")
	case strings.ContainsFunc(name, unicode.IsSpace):
		return bad("label contains a space")
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return bad("is an IP address; expected a domain name")
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return bad("is the DNS root; expected a domain name such as example.com")
	}
	// Check empty labels before IDNA, whose error for them is obscure.
	for _, l := range strings.Split(name, ".") {
		if l == "" {
			return bad("contains an empty label (two dots in a row, or a leading dot)")
		}
	}
	ascii, err := idna.Lookup.ToASCII(name)
	if err != nil {
		return bad("not a valid host name: " + strings.TrimPrefix(err.Error(), "idna: "))
	}
	ascii = strings.ToLower(ascii)
	labels := strings.Split(ascii, ".")
	// IDNA must neither drop nor merge labels: "xn--" decodes to an
	// empty label, so "xn--.test" would become ".test" and "Xn--" the
	// root.
	if orig := strings.Split(name, "."); len(orig) != len(labels) || slices.Contains(labels, "") {
		for i, l := range labels {
			if l == "" && i < len(orig) {
				return bad(fmt.Sprintf("label %q is empty after IDNA conversion (RFC 5891 §5); expected a host name", orig[i]))
			}
		}
		return bad("does not survive IDNA conversion (RFC 5891 §5); expected a host name")
	}
	// RFC 5891 §5.5 and UTS #46 §4: the A-label form must convert to
	// Unicode and back to itself; otherwise the name queried is not the
	// name given.
	if reason := idnaRoundTrip(ascii); reason != "" {
		return bad(reason)
	}
	for _, l := range labels {
		if len(l) > maxLabelLen {
			return bad(fmt.Sprintf("label %q is %d octets, longer than %d (RFC 1035 §2.3.4)",
				abbreviate(l), len(l), maxLabelLen))
		}
	}
	if len(ascii) > maxNameLen {
		return bad(fmt.Sprintf("name is %d octets, longer than %d (RFC 1035 §2.3.4)", len(ascii), maxNameLen))
	}
	// RFC 1123 §2.1: a valid host name never has the form of a dotted
	// decimal number; its top-level label is never all digits.
	if isDigits(labels[len(labels)-1]) {
		return bad("top-level label is numeric; expected a domain name (RFC 1123 §2.1)")
	}
	return ascii, nil
}

// idnaRoundTrip returns why ascii, the ToASCII form of a name, does not
// survive ToUnicode then ToASCII unchanged, or "".
func idnaRoundTrip(ascii string) string {
	u, err := idna.Lookup.ToUnicode(ascii)
	if err != nil {
		return "not a valid host name: " + strings.TrimPrefix(err.Error(), "idna: ")
	}
	again, err := idna.Lookup.ToASCII(u)
	if err != nil {
		return "not a valid host name: " + strings.TrimPrefix(err.Error(), "idna: ")
	}
	if !strings.EqualFold(again, ascii) {
		return fmt.Sprintf("does not survive IDNA round-tripping (%s becomes %q, then %s; RFC 5891 §5.5)", ascii, u, again)
	}
	for _, c := range []byte(ascii) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Sprintf("character %q is not allowed in a host name (RFC 1123 §2.1: letters, digits and hyphens)", c)
		}
	}
	return ""
}

// TextProblem returns why s cannot be a name, an address or a zone at all: it
// is not valid UTF-8, or it holds a control character or a line or
// paragraph separator. It returns "" for text that can be checked
// further. Such input is refused, never repaired, so that nothing but
// the given name is queried and no output line can be broken by it.
func TextProblem(s string) string {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return fmt.Sprintf("byte 0x%02x at offset %d is not valid UTF-8", s[i], i)
		case unicode.IsControl(r):
			return fmt.Sprintf("contains the control character %U at offset %d", r, i)
		case r == '\u2028' || r == '\u2029':
			return fmt.Sprintf("contains the line separator %U at offset %d", r, i)
		}
		i += n
	}
	return ""
}

func abbreviate(s string) string {
	if len(s) <= 20 {
		return s
	}
	return s[:17] + "..."
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ParseServer validates a resolver address "host[:port]" and returns
// "host:port". The host must be an IP literal, bracketed when a port follows
// an IPv6 address ("[2001:db8::53]:5353"); the default port is 53. Bad input
// returns an *[InputError].
func ParseServer(s string) (string, error) {
	bad := func(reason string) (string, error) {
		return "", &InputError{Input: s, Reason: reason, kind: "resolver"}
	}
	const want = "expected an IP address with an optional port, such as 192.0.2.53 or [2001:db8::53]:5353"
	in := strings.TrimSpace(s)
	if in == "" {
		return bad("empty; " + want)
	}
	if reason := TextProblem(in); reason != "" {
		return bad(reason + "; " + want)
	}
	done := func(a netip.Addr, port uint16) (string, error) {
		if err := CheckZone(a.Zone()); err != nil {
			return bad(err.Error())
		}
		return netip.AddrPortFrom(a, port).String(), nil
	}
	// A bare address, IPv6 included ("2001:db8::53").
	if a, err := netip.ParseAddr(in); err == nil {
		return done(a, 53)
	}
	// "[2001:db8::53]" without a port.
	if strings.HasPrefix(in, "[") && strings.HasSuffix(in, "]") {
		a, err := netip.ParseAddr(in[1 : len(in)-1])
		if err != nil || !a.Is6() {
			return bad(want)
		}
		return done(a, 53)
	}
	host, port, err := net.SplitHostPort(in)
	if err != nil {
		return bad(want)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		if host != "" && !strings.Contains(host, ":") {
			return bad("resolver must be an IP address, not a host name; " + want)
		}
		return bad(want)
	}
	if a.Is6() && !strings.HasPrefix(in, "[") {
		return bad("IPv6 address with a port must be in brackets; " + want)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return bad(fmt.Sprintf("port %q is not a number from 1 to 65535", port))
	}
	return done(a, uint16(p))
}

// maxZoneLen bounds an IPv6 zone: an interface name (IFNAMSIZ less the
// NUL on Linux is 15 bytes; other systems allow somewhat more) or index.
const maxZoneLen = 64

// CheckZone checks the zone of a scoped IPv6 address (RFC 4007 §11, the
// part after "%"): an interface name or index. "" (no zone) is fine. A
// zone that is not valid UTF-8, holds a control character or white space,
// or one of "[]/:%", or is longer than 64 bytes gives an *[InputError]; such a zone names no
// interface and would end up in every line of output that names the
// address.
func CheckZone(zone string) error {
	bad := func(reason string) error {
		return &InputError{Input: zone, Reason: reason + "; expected an interface name or index such as eth0 or 2", kind: "IPv6 zone"}
	}
	if reason := TextProblem(zone); reason != "" {
		return bad(reason)
	}
	switch {
	case strings.ContainsFunc(zone, unicode.IsSpace):
		return bad("contains white space")
	case strings.ContainsAny(zone, "[]/:%"):
		// Not in interface names (Linux refuses "/" and ":"), and
		// "[" "]" "%" would make "[addr%zone]:port" ambiguous.
		return bad(fmt.Sprintf("contains %q", zone[strings.IndexAny(zone, "[]/:%")]))
	case len(zone) > maxZoneLen:
		return bad(fmt.Sprintf("is %d bytes, longer than %d", len(zone), maxZoneLen))
	}
	return nil
}

// ResolvConf reads the nameserver lines of a resolv.conf(5) file and returns
// them as "host:53" entries, IPv6 addresses in brackets with any zone kept
// ("[fe80::1%eth0]:53"). Lines that are not valid addresses are skipped. It
// returns an error if the file cannot be read or names no server.
func ResolvConf(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var servers []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(fields[1])
		if err != nil || CheckZone(a.Zone()) != nil {
			continue
		}
		servers = append(servers, netip.AddrPortFrom(a, 53).String())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("%s: no nameserver lines", path)
	}
	return servers, nil
}
