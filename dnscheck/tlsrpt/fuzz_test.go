package tlsrpt

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzParseRecord holds ParseRecord and SelectRecord to RFC 8460 §3: an
// accepted record begins with v=TLSRPTv1 and has at least one rua URI,
// each a mailto: with an address or an https: with a host, trimmed, with
// no delimiter in it; written back as a record, the URIs parse to the same
// list; SelectRecord takes the record alone as ParseRecord does, and
// discards it when its version is v=TLSRPTv1 followed by more characters
// of a version (v=TLSRPTv10).
func FuzzParseRecord(f *testing.F) {
	f.Add("v=TLSRPTv1;rua=mailto:reports@example.com")
	f.Add("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt,mailto:a@example.com;")
	f.Add("v=TLSRPTv10; rua=mailto:b@example.com")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		sel, selErr := SelectRecord([]string{s})
		if rest, ok := strings.CutPrefix(s, "v=TLSRPTv1"); ok && rest != "" && !strings.ContainsRune(" \t;", rune(rest[0])) {
			if !errors.Is(selErr, ErrNoRecord) {
				t.Errorf("SelectRecord([%q]) = %+v, %v; want ErrNoRecord (another version)", s, sel, selErr)
			}
		} else if (err == nil) != (selErr == nil) || err == nil && !slices.Equal(r.RUA, sel.RUA) {
			t.Errorf("ParseRecord(%q) = %+v, %v but SelectRecord of it alone = %+v, %v", s, r, err, sel, selErr)
		}
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error with a newline: %q", err)
			}
			return
		}
		if !strings.HasPrefix(s, "v=TLSRPTv1") || len(r.RUA) == 0 {
			t.Errorf("ParseRecord(%q) = %+v: accepted without the version or without rua", s, r)
		}
		for _, u := range r.RUA {
			if u == "" || strings.Trim(u, " \t") != u || strings.ContainsAny(u, ",;") || checkURI(u) != nil {
				t.Errorf("ParseRecord(%q) rua %q: not one trimmed mailto: or https: URI", s, u)
			}
		}
		again, err := ParseRecord("v=TLSRPTv1; rua=" + strings.Join(r.RUA, ","))
		if err != nil || !slices.Equal(again.RUA, r.RUA) {
			t.Errorf("ParseRecord(%q).RUA = %q, written back = %+v, %v; want the same list", s, r.RUA, again, err)
		}
	})
}
