package dane

import (
	"strings"
	"testing"
)

func FuzzParseRecord(f *testing.F) {
	f.Add("3 1 1 d2abde240d7cd3ee6b4b28c54df034b97983a1d16e8a410e4561cb106618e971")
	f.Add("2 0 0 30")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error with a newline: %q", err)
			}
			return
		}
		back, err := ParseRecord(r.String())
		if err != nil || back != r {
			t.Errorf("ParseRecord(%q).String() = %q does not parse back: %+v, %v", s, r.String(), back, err)
		}
		_ = r.Unusable()
	})
}
