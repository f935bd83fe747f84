// Package help is smtpprobe's command-line reference, one model written
// three ways: the help text of each command (Text), the man page (Man)
// and shell completion scripts (Completion). The command line fills in
// the flags from its flag sets; the synopses and examples are here
// (Commands) and, for the probe kinds, in the run layer's registry
// (job.Kinds), so that help, man page and completion cannot disagree.
package help

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/smtpprobe/smtpprobe/probe/units"
)

// Width is the column the help text wraps at.
const Width = 80

// Command is the reference of one command.
type Command struct {
	Name     string
	Summary  string   // one line, for the command list
	Synopsis string   // "smtpprobe mx DOMAIN[:PORT] [flags]"
	About    string   // a paragraph after the synopsis, wrapped; with line breaks, kept as it is; may be ""
	Examples []string // "smtpprobe mx example.com  # what it does"
	Groups   []Group  // the command's own flags first, then the shared groups
}

// Group is a titled list of flags: the command's own, output, timing,
// monitoring.
type Group struct {
	Title string
	Flags []Flag
}

// Flag is one flag as the reference shows it.
type Flag struct {
	Name    string // long name, without dashes
	Short   string // one letter, or ""
	Arg     string // the value's placeholder ("DURATION"), "" for a switch
	Default string // as people write it ("60s", "10m"), "" for none
	Usage   string
	Values  []string // the values of an enum flag, for completion
}

// Text writes the help of c: synopsis, what it does, examples, then the
// flag groups, wrapped at Width columns.
func Text(w io.Writer, c Command) error {
	var b strings.Builder
	b.WriteString("Usage: " + c.Synopsis + "\n")
	switch {
	case strings.Contains(c.About, "\n"):
		b.WriteString("\n" + strings.TrimRight(c.About, "\n") + "\n")
	case c.About != "":
		b.WriteString("\n" + Wrap(c.About, Width, "", ""))
	}
	if len(c.Examples) > 0 {
		b.WriteString("\nExamples:\n")
		for _, e := range c.Examples {
			if utf8.RuneCountInString(e)+2 <= Width {
				b.WriteString("  " + e + "\n") // as typed, spacing kept
			} else {
				b.WriteString(Wrap(e, Width, "  ", "      "))
			}
		}
	}
	for _, g := range c.Groups {
		if len(g.Flags) == 0 {
			continue
		}
		b.WriteString("\n" + g.Title + ":\n")
		for _, f := range g.Flags {
			b.WriteString(flagText(f))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// flagText is one flag's lines: "  -q, --quiet  ..." with the usage
// wrapped under column 8 when the head is long.
func flagText(f Flag) string {
	head := "      --" + f.Name
	if f.Short != "" {
		head = "  -" + f.Short + ", --" + f.Name
	}
	if f.Arg != "" {
		head += " " + f.Arg
	}
	usage := f.Usage
	if f.Default != "" {
		usage += " (default " + f.Default + ")"
	}
	const col = 30
	if utf8.RuneCountInString(head) < col-1 {
		pad := strings.Repeat(" ", col-utf8.RuneCountInString(head))
		return Wrap(usage, Width, head+pad, strings.Repeat(" ", col))
	}
	return head + "\n" + Wrap(usage, Width, strings.Repeat(" ", col), strings.Repeat(" ", col))
}

// Wrap fills s into lines of at most width columns, the first prefixed
// by first and the rest by rest; a word longer than a line stands alone.
func Wrap(s string, width int, first, rest string) string {
	return units.Wrap(s, width, first, rest)
}

// Overview writes the command list: the top of `smtpprobe help`.
func Overview(w io.Writer, cmds []Command, tail string) error {
	var b strings.Builder
	b.WriteString("smtpprobe: an active SMTP probe\n\nUsage:\n")
	for _, c := range cmds {
		b.WriteString(Wrap(c.Summary, Width, fmt.Sprintf("  smtpprobe %-11s ", c.Name), strings.Repeat(" ", 24)))
	}
	b.WriteString("\n" + tail)
	_, err := io.WriteString(w, b.String())
	return err
}
