package job

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

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
