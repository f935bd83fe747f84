package mtasts

import (
	"strings"
	"testing"
)

func FuzzParsePolicy(f *testing.F) {
	f.Add(rfcPolicy)
	f.Add("version: STSv1\nmode: none\nmax_age: 0\n")
	f.Add("version: STSv1\nmode: testing\nmx: *.example.com\nmax_age: 31557600")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicy(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("ParsePolicy error has a newline: %q", err)
			}
			return
		}
		if p.Version != "STSv1" || p.MaxAge < 0 || p.MaxAge > MaxMaxAge || (p.Mode != ModeNone && len(p.MX) == 0) {
			t.Errorf("ParsePolicy(%q) = %+v: invalid policy accepted", s, p)
		}
		for _, pat := range p.MX {
			if !validPattern(pat) {
				t.Errorf("ParsePolicy(%q) accepted pattern %q", s, pat)
			}
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z;")
	f.Add("v=STSv1;id=1;ext=x")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseRecord error has a newline: %q", err)
			}
			return
		}
		if r.ID == "" || len(r.ID) > 32 || !alnum(r.ID) {
			t.Errorf("ParseRecord(%q) = %+v: invalid id accepted", s, r)
		}
	})
}

// FuzzMatchPattern holds MatchPattern to RFC 8461 §4.1: an exact pattern
// matches only the same name; case and a trailing dot on either side
// change nothing (ASCII names); "*.REST" matches exactly the names with
// one more, non-empty label on the left of REST, never REST itself nor
// a name two labels deeper.
func FuzzMatchPattern(f *testing.F) {
	f.Add("*.example.com", "mx.example.com", "mx1")
	f.Add("mx.example.com", "MX.Example.Com.", "a")
	f.Add("*.", "x.", "y")
	f.Fuzz(func(t *testing.T, pat, host, label string) {
		got := MatchPattern(pat, host)
		if got && !strings.HasPrefix(pat, "*.") &&
			!strings.EqualFold(strings.TrimSuffix(pat, "."), strings.TrimSuffix(host, ".")) {
			t.Errorf("MatchPattern(%q, %q) = true for different names", pat, host)
		}
		if !strings.HasSuffix(pat, ".") && MatchPattern(pat+".", host) != got ||
			!strings.HasSuffix(host, ".") && MatchPattern(pat, host+".") != got {
			t.Errorf("MatchPattern(%q, %q) = %v, but a trailing dot on one side changes it", pat, host, got)
		}
		if ascii(pat) && ascii(host) && MatchPattern(strings.ToUpper(pat), strings.ToLower(host)) != got {
			t.Errorf("MatchPattern(%q, %q) = %v, but case changes it", pat, host, got)
		}
		if rest, ok := strings.CutPrefix(pat, "*."); ok && got {
			l, parent, _ := strings.Cut(strings.TrimSuffix(host, "."), ".")
			if l == "" || !strings.EqualFold(parent, strings.TrimSuffix(rest, ".")) {
				t.Errorf("MatchPattern(%q, %q) = true, but %q is not one label on the left of %q", pat, host, host, rest)
			}
		}
		// Built cases: a wildcard over rest and one label.
		rest := strings.TrimSuffix(strings.TrimPrefix(host, "*."), ".")
		if rest == "" || label == "" || strings.Contains(label, ".") {
			return
		}
		w := "*." + rest
		if !MatchPattern(w, label+"."+rest) {
			t.Errorf("MatchPattern(%q, %q) = false, want true (one label on the left)", w, label+"."+rest)
		}
		if MatchPattern(w, rest) {
			t.Errorf("MatchPattern(%q, %q) = true, want false (the wildcard needs a label)", w, rest)
		}
		if MatchPattern(w, label+"."+label+"."+rest) {
			t.Errorf("MatchPattern(%q, %q) = true, want false (two labels on the left)", w, label+"."+label+"."+rest)
		}
	})
}

func ascii(s string) bool {
	for _, c := range []byte(s) {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
