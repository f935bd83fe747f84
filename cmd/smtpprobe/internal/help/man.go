package help

import (
	"fmt"
	"io"
	"strings"
)

// Man writes the man page smtpprobe(1) in roff (man(7) macros) from the
// same commands as the help text; date is the page's date (YYYY-MM-DD)
// and version the program's.
func Man(w io.Writer, cmds []Command, date, version, exitCodes string) error {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH SMTPPROBE 1 %q %q \"User Commands\"\n", date, "smtpprobe "+version)
	b.WriteString(".SH NAME\nsmtpprobe \\- an active SMTP probe\n.SH SYNOPSIS\n")
	for _, c := range cmds {
		b.WriteString(".br\n" + roff(c.Synopsis) + "\n")
	}
	b.WriteString(".SH DESCRIPTION\n" + roff("smtpprobe resolves a domain's MX, opens sessions that time every phase on the wire, and classifies every outcome in one taxonomy.") + "\n")
	b.WriteString(".SH COMMANDS\n")
	for _, c := range cmds {
		b.WriteString(".SS " + roff(c.Name) + "\n" + roff(c.Summary) + "\n")
		switch {
		case strings.Contains(c.About, "\n"):
			b.WriteString(".PP\n.nf\n")
			for _, l := range strings.Split(strings.TrimRight(c.About, "\n"), "\n") {
				b.WriteString(roffLine(l) + "\n")
			}
			b.WriteString(".fi\n")
		case c.About != "":
			b.WriteString(".PP\n" + roff(c.About) + "\n")
		}
		if len(c.Examples) > 0 {
			b.WriteString(".PP\nExamples:\n.RS\n.nf\n")
			for _, e := range c.Examples {
				b.WriteString(roffLine(e) + "\n")
			}
			b.WriteString(".fi\n.RE\n")
		}
		for _, g := range c.Groups {
			if len(g.Flags) == 0 {
				continue
			}
			b.WriteString(".PP\n" + roff(g.Title) + ":\n")
			for _, f := range g.Flags {
				head := "\\fB\\-\\-" + roff(f.Name) + "\\fR"
				if f.Short != "" {
					head = "\\fB\\-" + roff(f.Short) + "\\fR, " + head
				}
				if f.Arg != "" {
					head += " \\fI" + roff(f.Arg) + "\\fR"
				}
				usage := f.Usage
				if f.Default != "" {
					usage += " (default " + f.Default + ")"
				}
				b.WriteString(".TP\n" + head + "\n" + roff(usage) + "\n")
			}
		}
	}
	b.WriteString(".SH EXIT STATUS\n" + roff(exitCodes) + "\n")
	b.WriteString(".SH SEE ALSO\n" + roff("smtpprobe help config, the README of the smtpprobe repository.") + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// roff escapes text for a roff line: backslashes, a leading dot or
// apostrophe (which would start a request) and hyphens (minus signs in
// flags and commands).
func roff(s string) string { return roffLine(strings.Join(strings.Fields(s), " ")) }

// roffLine escapes one line of no-fill text, keeping its spacing.
func roffLine(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
