package help

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestWrap(t *testing.T) {
	got := Wrap("one two three four five six", 12, "> ", "  ")
	want := "> one two\n  three four\n  five six\n"
	if got != want {
		t.Errorf("Wrap = %q, want %q", got, want)
	}
	if got := Wrap("averyveryverylongword x", 8, "", ""); got != "averyveryverylongword\nx\n" {
		t.Errorf("Wrap(long word) = %q", got)
	}
}

// flagSet is a command's flag set as the command line builds it.
func flagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("timeout", pflag.ContinueOnError)
	fs.String("phase", "all", "where to go quiet")
	EnumValues(fs, "phase", "ehlo", "data", "all")
	fs.Duration("max-wait", 10*time.Minute, "longest quiet wait, a long usage text that has to wrap below its flag at eighty columns")
	InGroup(fs, "timing", func() { fs.Duration("timeout", time.Minute, "limit for each reply") })
	InGroup(fs, "output", func() { fs.BoolP("quiet", "q", false, "print nothing when OK") })
	return fs
}

func TestFromFlags(t *testing.T) {
	c := FromFlags(flagSet(), timeoutEntry, "smtpprobe timeout TARGET [flags]")
	if c.Name != "timeout" || len(c.Examples) == 0 || len(c.Groups) != 3 {
		t.Fatalf("FromFlags = %+v, want timeout's examples and three groups", c)
	}
	if g := c.Groups[0]; g.Title != "Flags of timeout" || len(g.Flags) != 2 || g.Flags[1].Default != "10m" || g.Flags[1].Arg != "DURATION" {
		t.Errorf("own flags = %+v, want phase and max-wait (default 10m)", g)
	}
	if g := c.Groups[1]; g.Title != "Timing flags" || g.Flags[0].Default != "60s" {
		t.Errorf("group 1 = %+v, want Timing flags with --timeout default 60s", g)
	}
	if v := c.Groups[0].Flags[0].Values; len(v) != 3 {
		t.Errorf("phase values = %v", v)
	}
	var b bytes.Buffer
	if err := Text(&b, c); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if len([]rune(line)) > Width {
			t.Errorf("line of %d columns: %q", len([]rune(line)), line)
		}
	}
	if !strings.HasPrefix(b.String(), "Usage: smtpprobe timeout TARGET [flags]\n") || !strings.Contains(b.String(), "  -q, --quiet") {
		t.Errorf("Text =\n%s", b.String())
	}
}

func TestFlagError(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-wiat", "1m"}, "unknown flag --max-wiat; did you mean --max-wait?"},
		{[]string{"--port", "25"}, "give the port with the target"},
		{[]string{"--max-wait", "3"}, `--max-wait "3": a duration needs a unit: did you mean 3s?`},
		{[]string{"-x"}, "unknown flag -x"},
	} {
		fs := flagSet()
		fs.SetOutput(&bytes.Buffer{})
		err := fs.Parse(tc.args)
		if err == nil {
			t.Fatalf("Parse(%q) = nil", tc.args)
		}
		if got := FlagError(fs, err); !strings.Contains(got, tc.want) {
			t.Errorf("FlagError(%q) = %q, want it to contain %q", tc.args, got, tc.want)
		}
	}
}

func TestHoist(t *testing.T) {
	g := map[string]bool{"--json": false, "--format": true, "-q": false}
	for _, tc := range []struct{ in, want string }{
		{"--json mx example.com", "mx --json example.com"},
		{"--format nagios -q mx example.com", "mx --format nagios -q example.com"},
		{"--format=prom mx example.com", "mx --format=prom example.com"},
		{"mx --json example.com", "mx --json example.com"},
		{"--json", "--json"},
		{"--version", "--version"},
	} {
		if got := strings.Join(Hoist(strings.Fields(tc.in), g), " "); got != tc.want {
			t.Errorf("Hoist(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestManAndCompletion(t *testing.T) {
	cmds := []Command{FromFlags(flagSet(), timeoutEntry, "smtpprobe timeout TARGET [flags]"), {Name: "completion", Summary: "s", Synopsis: "smtpprobe completion SHELL"}}
	var b bytes.Buffer
	if err := Man(&b, cmds, "2026-12-02", "v1.0.0", ".exit codes"); err != nil {
		t.Fatal(err)
	}
	man := b.String()
	for _, want := range []string{`.TH SMTPPROBE 1 "2026-12-02" "smtpprobe v1.0.0"`, `\fB\-\-max\-wait\fR \fIDURATION\fR`, "(default 10m)", `\&.exit codes`} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q:\n%s", want, man)
		}
	}
	for _, line := range strings.Split(man, "\n") {
		if strings.HasPrefix(line, ".") && !strings.HasPrefix(line, `.`+strings.TrimLeft(line, ".")) {
			t.Errorf("odd request line %q", line)
		}
	}
	for _, shell := range Shells {
		b.Reset()
		if err := Completion(&b, shell, cmds); err != nil || !strings.Contains(b.String(), "max-wait") || !strings.Contains(b.String(), "ehlo data all") {
			t.Errorf("Completion(%s) = %v\n%s", shell, err, b.String())
		}
	}
	if err := Completion(&b, "tcsh", cmds); err == nil || !strings.Contains(err.Error(), "want bash, zsh, fish") {
		t.Errorf("Completion(tcsh) = %v, want an error naming the shells", err)
	}
}

func TestVersion(t *testing.T) {
	v := Version("v1.2.3")
	if !strings.HasPrefix(v, "smtpprobe v1.2.3\n") || !strings.Contains(v, "go1.") {
		t.Errorf("Version = %q", v)
	}
}

// Every command of the reference has a synopsis, and 3 to 5 examples.
func TestCommands(t *testing.T) {
	for _, c := range Commands {
		if !strings.HasPrefix(c.Synopsis, "smtpprobe "+c.Name) || c.Summary == "" {
			t.Errorf("%s: synopsis %q, summary %q", c.Name, c.Synopsis, c.Summary)
		}
		for _, e := range c.Examples {
			if n := len([]rune(e)); n+2 > Width {
				t.Errorf("%s example of %d columns, indented past %d: %q", c.Name, n, Width, e)
			}
		}
		if c.Name != "help" && (len(c.Examples) < 3 || len(c.Examples) > 5) {
			t.Errorf("%s has %d examples, want 3 to 5", c.Name, len(c.Examples))
		}
	}
}
