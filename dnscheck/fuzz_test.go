package dnscheck

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// oneCleanLine reports whether s is one line of valid UTF-8 without
// control characters.
func oneCleanLine(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	})
}

// FuzzNormalizeDomain: an accepted name is lower-case ASCII letters,
// digits, hyphens and dots, in labels of 1 to 63 octets, at most 253 in
// all, is its own normal form, and converts back through IDNA to itself.
// A refusal is an *InputError whose message is one clean line.
func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{
		"example.com", "Example.COM.", "bücher.example", "xn--bcher-kva.example", "XN--BCHER-KVA.example",
		"xn--.test", "Xn--", "Xn--.", "a.xn--", "xn--a.test", "xn--zz", "b\xffcher.example", "\xc3.example",
		"exa\nmple.com", "ex ample.com", "ß.de", "ＡＢＣ.example", "mx\u2028.example", "1.2.3", "192.0.2.1",
		"[2001:db8::1]", ".", "..", "a..b", "-a.example", "a-.example", "a_b.example", "ab--c.test",
		strings.Repeat("a", 63) + ".example", strings.Repeat("a", 64) + ".example", "\u202egnp.example",
		"mx\\010evil.example", "xn--mxa.example", "xn--ls8h.la", "\u0130.example", "K.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeDomain(s)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Input != s {
				t.Fatalf("NormalizeDomain(%q) error = %#v, want *InputError for the input", s, err)
			}
			if msg := err.Error(); !oneCleanLine(msg) {
				t.Errorf("NormalizeDomain(%q) error = %q, want one clean line", s, msg)
			}
			return
		}
		if got == "" || len(got) > maxNameLen {
			t.Fatalf("NormalizeDomain(%q) = %q, want 1 to %d octets", s, got, maxNameLen)
		}
		for _, l := range strings.Split(got, ".") {
			if l == "" || len(l) > maxLabelLen {
				t.Errorf("NormalizeDomain(%q) = %q has label %q, want 1 to %d octets", s, got, l, maxLabelLen)
			}
		}
		for _, c := range []byte(got) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				t.Fatalf("NormalizeDomain(%q) = %q holds %q, want lower-case letters, digits, hyphens and dots", s, got, c)
			}
		}
		if again, err := NormalizeDomain(got); err != nil || again != got {
			t.Errorf("NormalizeDomain(%q) = %q; NormalizeDomain(%q) = %q, %v; want it idempotent", s, got, got, again, err)
		}
		if reason := idnaRoundTrip(got); reason != "" {
			t.Errorf("NormalizeDomain(%q) = %q, which does not round-trip: %s", s, got, reason)
		}
	})
}

// FuzzParseServer: an accepted resolver is "host:port" with an IP
// literal and a usable zone, and is its own normal form.
func FuzzParseServer(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1", "127.0.0.1:5353", "::1", "[::1]", "[::1]:5353", "fe80::1%eth0", "[fe80::1%eth0]:53",
		"fe80::1%\xff", "[fe80::1%a\nb]:53", "fe80::1%a b", "dns.example.com", ":53", "127.0.0.1:0", "[127.0.0.1]",
		"127.0.0.1:65536", " 127.0.0.1 ", "::ffff:127.0.0.1", "[fe80::1%]:53", "[fe80::1%%]:53", "[fe80::1%a]b]:53",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseServer(s)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("ParseServer(%q) error = %#v, want *InputError", s, err)
			}
			if msg := err.Error(); !oneCleanLine(msg) {
				t.Errorf("ParseServer(%q) error = %q, want one clean line", s, msg)
			}
			return
		}
		ap, perr := netip.ParseAddrPort(got)
		if perr != nil || ap.Port() == 0 {
			t.Fatalf("ParseServer(%q) = %q, not an address and port: %v", s, got, perr)
		}
		if err := CheckZone(ap.Addr().Zone()); err != nil || !oneCleanLine(got) {
			t.Errorf("ParseServer(%q) = %q with an unusable zone: %v", s, got, err)
		}
		if again, err := ParseServer(got); err != nil || again != got {
			t.Errorf("ParseServer(%q) = %q; ParseServer(%q) = %q, %v; want it idempotent", s, got, got, again, err)
		}
	})
}
