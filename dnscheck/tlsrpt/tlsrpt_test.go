package tlsrpt

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		in  string
		rua []string
		err string
	}{
		// RFC 8460 §3 examples.
		{"v=TLSRPTv1;rua=mailto:reports@example.com", []string{"mailto:reports@example.com"}, ""},
		{"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt", []string{"https://reporting.example.com/v1/tlsrpt"}, ""},
		{"v=TLSRPTv1; rua=mailto:a@example.com , https://r.example.net/x;", []string{"mailto:a@example.com", "https://r.example.net/x"}, ""},
		{"v=TLSRPTv1; ext=1; rua=mailto:a@example.com; rua=mailto:b@example.com", []string{"mailto:a@example.com"}, ""},
		{"v=TLSRPTv1", nil, "no rua"},
		{"v=TLSRPTv1; ext=1", nil, "no rua"},
		{"v=TLSRPTv2; rua=mailto:a@example.com", nil, "does not begin"},
		{"v=TLSRPTv1; rua=http://example.com/", nil, "scheme is not mailto or https"},
		{"v=TLSRPTv1; rua=mailto:", nil, "no address"},
		{"v=TLSRPTv1; rua=mailto:not an address", nil, "not an email address"},
		{"v=TLSRPTv1; rua=https:///path", nil, "no host"},
		{"v=TLSRPTv1; rua", nil, "not NAME=VALUE"},
	} {
		r, err := ParseRecord(tc.in)
		if tc.err != "" {
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRecord(%q) = %+v, %v; want a *SyntaxError containing %q", tc.in, r, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(r.RUA, tc.rua) {
			t.Errorf("ParseRecord(%q) = %+v, %v; want rua %v", tc.in, r, err, tc.rua)
		}
	}
}

func TestSelectRecord(t *testing.T) {
	if _, err := SelectRecord(nil); !errors.Is(err, ErrNoRecord) {
		t.Errorf("SelectRecord(nil) = %v, want ErrNoRecord", err)
	}
	two := []string{"v=TLSRPTv1;rua=mailto:a@example.com", "v=TLSRPTv1;rua=mailto:b@example.com"}
	if _, err := SelectRecord(two); !errors.Is(err, ErrMultipleRecords) {
		t.Errorf("SelectRecord(two) = %v, want ErrMultipleRecords", err)
	}
	// v=TLSRPTv10 is not version 1: it is discarded, as the record's
	// selection discards every record of another version (RFC 8460 §3).
	mixed := []string{"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv10; rua=mailto:b@example.com"}
	if r, err := SelectRecord(mixed); err != nil || len(r.RUA) != 1 || r.RUA[0] != "mailto:a@example.com" {
		t.Errorf("SelectRecord(v1, v10) = %+v, %v; want the v1 record", r, err)
	}
	if _, err := SelectRecord([]string{"v=TLSRPTv10; rua=mailto:b@example.com"}); !errors.Is(err, ErrNoRecord) {
		t.Errorf("SelectRecord(v10 only) = %v, want ErrNoRecord", err)
	}
}
