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
