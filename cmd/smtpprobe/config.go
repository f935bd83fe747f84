package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/smtpprobe/smtpprobe/probe/config"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// loadConfig reads --config; every problem is a *usageError.
func loadConfig(path string) (*config.Config, error) {
	c, err := config.Load(path)
	return c, configUsage(err)
}

// checkServe is config.CheckServe as a *usageError.
func checkServe(c *config.Config) error { return configUsage(c.CheckServe()) }

// configUsage turns the config package's errors into usage errors: a
// problem in the file as the file names it, an unreadable file as
// --config's.
func configUsage(err error) error {
	var ce *config.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return usagef("%s", ce.Error())
	}
	return usagef("--config: %v", err)
}

// validateSummary prints the one line of a --validate that found no
// problem: what the file holds, for serve its allowlist.
func validateSummary(w io.Writer, c *config.Config, serve bool) (int, error) {
	names := config.SortedKeys(c.Modules)
	line := fmt.Sprintf("%s: OK: %s (%s)", c.Path, units.Count(len(names), "module"), strings.Join(names, ", "))
	if serve {
		line += fmt.Sprintf(", serve.allow %s", strings.Join(c.Serve.Allow, ", "))
	} else {
		checks := 0
		for _, t := range c.Targets {
			checks += len(t.Modules)
		}
		line += fmt.Sprintf(", %s, %s", units.Count(len(c.Targets), "target"), units.Count(checks, "check"))
	}
	_, err := fmt.Fprintln(w, oneLine(line))
	return 0, err
}

// usageText returns the message of an error in the command line's
// words, without decoration.
func usageText(err error) string {
	var ue *usageError
	if errors.As(usageOf(err), &ue) {
		return ue.msg
	}
	return err.Error()
}

const helpConfigHead = `smtpprobe help config: the YAML file of check --config and serve --config

A file names modules (ways of probing, in the manner of blackbox_exporter),
the targets check runs, and the exporter's settings. Check one without
probing anything with: smtpprobe check --config FILE --validate

Example:
  modules:
    mx:
      command: mx
      timeout: 30s
      warning: time=2s,cert=14
    idle:
      command: timeout
      phase: data
      critical: timeout=300s
  targets:
    - target: example.com
      modules: [mx, idle]
  serve:
    allow: [example.com, 192.0.2.0/24]
`

// helpConfig prints every configuration key from config.Keys, the table
// the checker uses too: meaning, value, default and an example, wrapped
// at 80 columns.
func helpConfig(w io.Writer) error {
	var b strings.Builder
	b.WriteString(helpConfigHead)
	sections := []struct {
		s     config.Section
		title string
	}{
		{config.Top, "Top-level keys"},
		{config.Modules, "Module keys (modules: NAME: KEY: VALUE); a key that does not apply to the module's command is an error"},
		{config.Targets, "Target keys (targets: - KEY: VALUE)"},
		{config.ServeS, "Serve keys (serve: KEY: VALUE)"},
	}
	for _, sec := range sections {
		b.WriteString("\n")
		b.WriteString(wrapText(sec.title+":", 80, "", ""))
		for _, k := range config.KeysIn(sec.s) {
			head := "  " + k.Name + " (" + k.Type + ")"
			if k.Commands != nil {
				head += " [" + strings.Join(k.Commands, ", ") + "]"
			}
			b.WriteString(head + "\n")
			b.WriteString(wrapText(k.Meaning+".", 80, "      ", "      "))
			if k.Default != "" {
				b.WriteString(wrapText("default: "+k.Default, 80, "      ", "        "))
			}
			b.WriteString(wrapText("example: "+k.Name+": "+k.Example, 80, "      ", "        "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrapText fills s into lines of at most width columns, the first
// prefixed by first and the rest by rest; a word longer than a line
// stands alone.
func wrapText(s string, width int, first, rest string) string {
	var b strings.Builder
	line := first
	empty := true
	for _, word := range strings.Fields(s) {
		if !empty && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width {
			b.WriteString(line + "\n")
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	if !empty {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// exitOf is 0 for a help text written, 3 when it could not be.
func exitOf(err error) int {
	if err != nil {
		return 3
	}
	return 0
}
