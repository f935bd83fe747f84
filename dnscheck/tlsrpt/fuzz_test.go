package tlsrpt

import (
	"strings"
	"testing"
)

func FuzzParseRecord(f *testing.F) {
	f.Add("v=TLSRPTv1;rua=mailto:reports@example.com")
	f.Add("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt,mailto:a@example.com;")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error with a newline: %q", err)
			}
			return
		}
		if len(r.RUA) == 0 {
			t.Errorf("ParseRecord(%q) accepted a record without rua", s)
		}
	})
}
