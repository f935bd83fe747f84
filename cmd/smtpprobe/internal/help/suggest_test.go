package help

import (
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	cmds := []string{"mx", "session", "timeout", "mtu", "check", "serve", "demo", "help", "completion"}
	for _, tc := range []struct {
		word    string
		options []string
		want    string
	}{
		{"sesion", cmds, "session"},
		{"SESSION", cmds, "session"},
		{"tiemout", cmds, "timeout"},
		{"mxx", cmds, "mx"},
		{"chekc", cmds, "check"},
		{"frobnicate", cmds, ""},
		{"jsn", []string{"json", "format", "quiet"}, "json"},
		{"x", []string{"json"}, ""},
		{"dta", []string{"banner", "ehlo", "mail", "rcpt", "data", "body", "all"}, "data"},
	} {
		if got := Suggest(tc.word, tc.options); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}

func TestDurationHint(t *testing.T) {
	for in, want := range map[string]string{
		"3":    "did you mean 3s?",
		"1.5":  "did you mean 1.5s?",
		"soon": "want a duration such as 500ms, 30s or 10m",
	} {
		if got := DurationHint(in); !strings.Contains(got, want) {
			t.Errorf("DurationHint(%q) = %q, want it to contain %q", in, got, want)
		}
	}
}
