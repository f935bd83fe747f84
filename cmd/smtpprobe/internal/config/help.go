package config

import (
	"fmt"
	"io"
	"strings"

	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// helpHead is the start of the help: what a file holds, how to check
// one, and a small one that uses each section.
const helpHead = `smtpprobe help config: the YAML file of check --config and serve --config

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

// WriteHelp writes `smtpprobe help config`: an example file and every key of Keys, the table the
// checker uses too, section by section: meaning, value, default and an
// example, wrapped at 80 columns.
func WriteHelp(w io.Writer) error {
	var b strings.Builder
	b.WriteString(helpHead)
	sections := []struct {
		s     Section
		title string
	}{
		{Top, "Top-level keys"},
		{Modules, "Module keys (modules: NAME: KEY: VALUE); a key that does not apply to the module's command is an error"},
		{Targets, "Target keys (targets: - KEY: VALUE)"},
		{ServeS, "Serve keys (serve: KEY: VALUE)"},
	}
	for _, sec := range sections {
		b.WriteString("\n")
		b.WriteString(units.Wrap(sec.title+":", 80, "", ""))
		for _, k := range KeysIn(sec.s) {
			head := "  " + k.Name + " (" + k.Type + ")"
			if k.Commands != nil {
				head += " [" + strings.Join(k.Commands, ", ") + "]"
			}
			b.WriteString(head + "\n")
			b.WriteString(units.Wrap(k.Meaning+".", 80, "      ", "      "))
			if k.Default != "" {
				b.WriteString(units.Wrap("default: "+k.Default, 80, "      ", "        "))
			}
			b.WriteString(units.Wrap("example: "+k.Name+": "+k.Example, 80, "      ", "        "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is the one line of `--validate` for a checked file: its
// modules, then for serve (the exporter) serve.allow, else its targets
// and checks (target and module pairs).
func (c *Config) Summary(serve bool) string {
	names := SortedKeys(c.Modules)
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
	return render.OneLine(line)
}
