package job

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/dnscheck"
)

// FuzzSplitTarget: SplitTarget never panics; a refusal is an *InputError
// of one clean line; an accepted host is clean text (an IP literal's zone
// included) and joining host and port again splits to the same.
func FuzzSplitTarget(f *testing.F) {
	for _, s := range []string{
		"example.com", "example.com:2525", "127.0.0.1", "127.0.0.1:25", "::1", "[::1]", "[::1]:2525",
		"fe80::1%eth0", "[fe80::1%eth0]:25", "[fe80::1%\xff]:25", "[fe80::1%a\nb]:25", "fe80::1%a]b",
		"xn--.test", "Xn--", "b\xffcher.example", "", ":", ":25", "[", "[]", "[]:25", "[::1]x", "a:b:c",
		"example.com:0", "example.com:65536", "example.com:+25", "[a:b]", "a]:25", "exa\tmple.com:25",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := SplitTarget(s, 25)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("SplitTarget(%q) error = %#v, want *InputError", s, err)
			}
			if !utf8.ValidString(ie.Msg) || strings.ContainsFunc(ie.Msg, func(r rune) bool {
				return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
			}) {
				t.Errorf("SplitTarget(%q) error = %q, want one clean line", s, ie.Msg)
			}
			return
		}
		if host == "" || port == 0 {
			t.Fatalf("SplitTarget(%q) = %q, %d; want a host and a port", s, host, port)
		}
		if why := dnscheck.TextProblem(host); why != "" {
			t.Fatalf("SplitTarget(%q) host %q: %s", s, host, why)
		}
		if a, err := netip.ParseAddr(host); err == nil {
			if zerr := dnscheck.CheckZone(a.Zone()); zerr != nil {
				t.Errorf("SplitTarget(%q) host %q has a bad zone: %v", s, host, zerr)
			}
		}
		joined := fmt.Sprintf("%s:%d", host, port)
		if strings.Contains(host, ":") {
			joined = fmt.Sprintf("[%s]:%d", host, port)
		}
		h2, p2, err := SplitTarget(joined, 25)
		if err != nil || h2 != host || p2 != port {
			t.Errorf("SplitTarget(%q) = %q, %d; SplitTarget(%q) = %q, %d, %v; want the same", s, host, port, joined, h2, p2, err)
		}
	})
}

// FuzzTargetHints: the hints of a mistyped target never panic; a URL or
// mail address hint is a clean domain and, for a mail address, the
// address itself; a note is only for an IPv6 literal, and it names port.
func FuzzTargetHints(f *testing.F) {
	for _, s := range []string{"https://example.com", "smtp://mx.example.com:2525/x", "user@example.com", "\"a b\"@example.com",
		"::1:2525", "2001:db8::25", "[::1]:25", "http://[::1]:80", "mailto:user@example.com", "a@b@c", "://", "@", "", "\xff@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, rcpt := TargetHint(s)
		if d != "" && strings.ContainsFunc(d, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
			t.Errorf("TargetHint(%q) domain %q holds a control character or space", s, d)
		}
		if rcpt != "" && !strings.HasSuffix(rcpt, "@"+d) {
			t.Errorf("TargetHint(%q) = %q, %q; want the recipient at the domain", s, d, rcpt)
		}
		if n := TargetNote(s, 25); n != "" {
			if _, err := netip.ParseAddr(s); err != nil || !strings.Contains(n, "on port 25") {
				t.Errorf("TargetNote(%q) = %q, want a note only for an IPv6 literal, naming port 25", s, n)
			}
		}
		opts := []string{"session", "timeout", "mx", s}
		if got := help.Suggest(s, opts[:3]); got != "" && !slicesContains(opts[:3], got) {
			t.Errorf("Suggest(%q) = %q, not an option", s, got)
		}
		if got := help.Suggest(s, opts); !strings.EqualFold(got, s) {
			t.Errorf("Suggest(%q) = %q, though %q itself is an option", s, got, s)
		}
		if h := help.DurationHint(s); !utf8.ValidString(h) && utf8.ValidString(s) {
			t.Errorf("DurationHint(%q) = %q", s, h)
		}
	})
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
