package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smtpprobe/smtpprobe/probe/config"
)

// writeConfig writes text as check.yaml in a temporary directory.
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "check.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHelpConfig checks that help config documents every key of the
// table the checker uses, with an example, within 80 columns.
func TestHelpConfig(t *testing.T) {
	var b strings.Builder
	if err := helpConfig(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, k := range config.Keys {
		if !strings.Contains(out, "\n  "+k.Name+" (") {
			t.Errorf("help config: no entry for %s key %q", k.Section, k.Name)
		}
		if !strings.Contains(out, "example: "+k.Name+": "+k.Example) {
			t.Errorf("help config: no example for %q", k.Name)
		}
	}
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("help config line %d is %d columns: %q", i+1, n, line)
		}
	}
}
