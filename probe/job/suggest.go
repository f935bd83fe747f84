package job

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/smtpprobe/smtpprobe/dnscheck"
)

// Suggest returns the option closest to word by edit distance
// (Levenshtein, case-insensitive), or "" when none is close: at most one
// edit for words of up to four letters, two up to eight, three beyond.
// It is the did-you-mean of commands, flags, enum values and config keys.
func Suggest(word string, options []string) string {
	w := strings.ToLower(word)
	limit := 3
	switch {
	case len(w) <= 4:
		limit = 1
	case len(w) <= 8:
		limit = 2
	}
	best, bestD := "", limit+1
	for _, o := range options {
		d := editDistance(w, strings.ToLower(o))
		if d < bestD || d == bestD && best == "" {
			best, bestD = o, d
		}
	}
	if bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// DurationHint explains a duration that did not parse: a bare number
// gets "did you mean 3s?", anything else the units Go accepts. s is the
// value as given.
func DurationHint(s string) string {
	if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return "a duration needs a unit: did you mean " + strings.TrimSpace(s) + "s?"
	}
	return "want a duration such as 500ms, 30s or 10m"
}

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

// DidYouMean is "; did you mean X?" for the option closest to word, or "".
func DidYouMean(word string, options []string) string {
	if s := Suggest(word, options); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
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
