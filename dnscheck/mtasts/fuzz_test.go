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

func FuzzMatchPattern(f *testing.F) {
	f.Add("*.example.com", "mx.example.com")
	f.Fuzz(func(t *testing.T, pat, host string) {
		if MatchPattern(pat, host) && !strings.HasPrefix(pat, "*.") &&
			!strings.EqualFold(strings.TrimSuffix(pat, "."), strings.TrimSuffix(host, ".")) {
			t.Errorf("MatchPattern(%q, %q) = true for different names", pat, host)
		}
	})
}
