package dnscheck

import (
	"strings"
	"testing"
)

func TestExtNameValue(t *testing.T) {
	for _, tc := range []struct {
		s           string
		name, value bool
	}{
		{"id", true, true},
		{"rua", true, true},
		{"x-ext_1.2", true, true},
		{"_x", false, true},
		{"-x", false, true},
		{"", false, false},
		{strings.Repeat("a", 32), true, true},
		{strings.Repeat("a", 33), false, true},
		{"a b", false, false},
		{"a;b", false, false},
		{"a=b", false, false},
		{"mailto:tlsrpt@example.com", false, true},
		{"\x7f", false, false},
	} {
		if got := ExtName(tc.s); got != tc.name {
			t.Errorf("ExtName(%q) = %v, want %v", tc.s, got, tc.name)
		}
		if got := ExtValue(tc.s); got != tc.value {
			t.Errorf("ExtValue(%q) = %v, want %v", tc.s, got, tc.value)
		}
	}
}

func TestSelectTXT(t *testing.T) {
	for _, tc := range []struct {
		txts    []string
		version string
		want    string
		n       int
	}{
		{nil, "v=STSv1", "", 0},
		{[]string{"v=spf1 -all"}, "v=STSv1", "", 0},
		{[]string{"v=STSv1; id=1"}, "v=STSv1", "v=STSv1; id=1", 1},
		{[]string{"v=STSv1;id=1"}, "v=STSv1", "v=STSv1;id=1", 1},
		{[]string{"v=STSv1 ; id=1"}, "v=STSv1", "v=STSv1 ; id=1", 1},
		{[]string{"v=STSv1\t;id=1"}, "v=STSv1", "v=STSv1\t;id=1", 1},
		{[]string{"v=STSv1"}, "v=STSv1", "v=STSv1", 1},
		{[]string{"v=STSv10; id=1"}, "v=STSv1", "", 0},
		{[]string{"v=STSv1 id=1"}, "v=STSv1", "v=STSv1 id=1", 1}, // kept, for ParseRecord to refuse
		{[]string{"V=STSv1; id=1"}, "v=STSv1", "", 0},            // %s: case-sensitive
		{[]string{"v=STSv10; id=2", "v=STSv1; id=1"}, "v=STSv1", "v=STSv1; id=1", 1},
		{[]string{"v=STSv1; id=1", "v=STSv1; id=2"}, "v=STSv1", "v=STSv1; id=1", 2},
		{[]string{"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv10; rua=mailto:b@example.com"}, "v=TLSRPTv1", "v=TLSRPTv1; rua=mailto:a@example.com", 1},
	} {
		got, n := SelectTXT(tc.txts, tc.version)
		if got != tc.want || n != tc.n {
			t.Errorf("SelectTXT(%q, %q) = %q, %d; want %q, %d", tc.txts, tc.version, got, n, tc.want, tc.n)
		}
	}
}
