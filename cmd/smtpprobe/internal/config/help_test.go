package config

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smtpprobe/smtpprobe/probe/units"
)

func TestWrapText(t *testing.T) {
	long := strings.Repeat("x", 30)
	for _, tc := range []struct {
		s, first, rest string
		width          int
		want           string
	}{
		{"", "", "", 20, ""},
		{"one two", "", "", 20, "one two\n"},
		{"one two three four five", "  ", "    ", 13, "  one two\n    three\n    four five\n"},
		{"a " + long + " b", "", "", 10, "a\n" + long + "\nb\n"}, // a long word stands alone
		{"héllo wörld", "", "", 11, "héllo wörld\n"},             // columns are runes, not bytes
	} {
		if got := units.Wrap(tc.s, tc.width, tc.first, tc.rest); got != tc.want {
			t.Errorf("units.Wrap(%q, %d, %q, %q) = %q, want %q", tc.s, tc.width, tc.first, tc.rest, got, tc.want)
		}
	}
}

// WriteHelp lists every key of every section under its heading, within
// 80 columns, after the example.
func TestWriteHelp(t *testing.T) {
	var b strings.Builder
	if err := WriteHelp(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, "smtpprobe help config: ") || !strings.Contains(out, "\nExample:\n  modules:\n") {
		t.Errorf("help does not start with its head and example:\n%s", out)
	}
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 && strings.Contains(line, " ") {
			t.Errorf("line %d is %d columns: %q", i+1, n, line)
		}
	}
	for _, s := range []Section{Top, Modules, Targets, ServeS} {
		for _, k := range KeysIn(s) {
			if !strings.Contains(out, "\n  "+k.Name+" ("+k.Type+")") {
				t.Errorf("help lacks key %s (%s)", k.Name, k.Type)
			}
		}
	}
	if keys := strings.Index(out, "\nModule keys"); keys < 0 || keys > strings.Index(out, "\nServe keys") {
		t.Errorf("help lacks the module keys before the serve keys")
	}
}

func TestSummary(t *testing.T) {
	path := writeConfig(t, goodConfig)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Summary(false), path+": OK: 3 modules (idle, mx, path), 2 targets, 3 checks"; got != want {
		t.Errorf("Summary(false) = %q, want %q", got, want)
	}
	if got, want := c.Summary(true), path+": OK: 3 modules (idle, mx, path), serve.allow example.com, 192.0.2.0/24, 2001:db8::1"; got != want {
		t.Errorf("Summary(true) = %q, want %q", got, want)
	}
}

// LoadServe refuses what CheckServe refuses, as an *Error with the line.
func TestLoadServe(t *testing.T) {
	if _, err := LoadServe(writeConfig(t, goodConfig)); err != nil {
		t.Errorf("LoadServe(good) = %v", err)
	}
	deliver := writeConfig(t, "modules:\n  s:\n    command: session\n    deliver: true\nserve:\n  allow: [192.0.2.0/24]\n")
	c, err := LoadServe(deliver)
	var ce *Error
	if c != nil || !errors.As(err, &ce) || ce.Line != 2 || !strings.Contains(ce.Msg, "deliver: true") {
		t.Errorf("LoadServe(deliver) = %v, %v; want nil and an *Error at line 2 about deliver", c, err)
	}
	if _, err := LoadServe(deliver + ".missing"); err == nil || errors.As(err, &ce) {
		t.Errorf("LoadServe(missing) = %v, want the read error", err)
	}
}
