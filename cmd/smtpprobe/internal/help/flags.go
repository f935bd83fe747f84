package help

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/probe/units"
)

// InGroup runs regs, which register flags, and files every flag they add
// under title, for the help text.
func InGroup(fs *pflag.FlagSet, title string, regs ...func()) {
	before := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { before[f.Name] = true })
	for _, r := range regs {
		r()
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if !before[f.Name] {
			fs.SetAnnotation(f.Name, "group", []string{title})
		}
	})
}

// EnumValues records the values an enum flag takes (help, completion,
// did-you-mean).
func EnumValues(fs *pflag.FlagSet, name string, values ...string) {
	fs.SetAnnotation(name, "values", values)
}

// FromFlags builds the reference of fs's command (named fs.Name()): its
// entry (Commands, or its probe kind's row of job.Kinds), synopsis (a first line, then an optional preformatted
// text after a blank line), its own flags, then the groups that InGroup
// filed the shared flags under, in the order they were registered.
func FromFlags(fs *pflag.FlagSet, entry Command, synopsis string) Command {
	fs.SortFlags = false
	c := entry
	if c.Name == "" {
		c.Name = fs.Name()
	}
	c.Synopsis = synopsis
	if head, about, ok := strings.Cut(synopsis, "\n\n"); ok {
		c.Synopsis, c.About = head, about+"\n"
	}
	c.Groups = []Group{{Title: "Flags of " + fs.Name()}}
	titles := map[string]int{"": 0}
	fs.VisitAll(func(f *pflag.Flag) {
		title := ""
		if g := f.Annotations["group"]; len(g) > 0 {
			title = g[0]
		}
		i, ok := titles[title]
		if !ok {
			i = len(c.Groups)
			titles[title] = i
			c.Groups = append(c.Groups, Group{Title: strings.ToUpper(title[:1]) + title[1:] + " flags"})
		}
		c.Groups[i].Flags = append(c.Groups[i].Flags, Flag{Name: f.Name, Short: f.Shorthand, Arg: ArgName(f),
			Default: defaultText(f), Usage: f.Usage, Values: f.Annotations["values"]})
	})
	return c
}

// argNames are the placeholders of flags whose type says too little.
var argNames = map[string]string{"to": "ADDRESS", "from": "ADDRESS", "resolver": "HOST[:PORT]", "helo": "NAME",
	"format": "FORMAT", "config": "FILE", "prom-file": "FILE", "baseline": "FILE", "save-baseline": "FILE",
	"warning": "KEY=VALUE,...", "critical": "KEY=VALUE,...", "phase": "PHASE", "direction": "DIRECTION", "listen": "HOST:PORT", "vantage": "NAME"}

// ArgName is a flag's value placeholder, "" for a switch.
func ArgName(f *pflag.Flag) string {
	if n, ok := argNames[f.Name]; ok {
		return n
	}
	switch f.Value.Type() {
	case "bool":
		return ""
	case "duration":
		return "DURATION"
	case "int", "uint16":
		return "N"
	case "stringSlice", "stringArray":
		return "VALUE,..."
	}
	return "VALUE"
}

// defaultText is a flag's default as people write it ("60s", "10m"), or
// "" when there is none to show.
func defaultText(f *pflag.Flag) string {
	switch v := f.DefValue; {
	case v == "" || v == "false" || v == "0" || v == "[]" || v == "0s":
		return ""
	case f.Value.Type() == "duration":
		if d, err := time.ParseDuration(v); err == nil {
			return units.Setting(d)
		}
	}
	return f.DefValue
}

// FlagError explains an error of fs.Parse in one line, with a hint: the
// closest flag (did you mean --json?), the unit a bare number lacks,
// where a port goes.
func FlagError(fs *pflag.FlagSet, err error) string {
	var (
		ne *pflag.NotExistError
		ie *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &ne):
		name := ne.GetSpecifiedName()
		if sh := ne.GetSpecifiedShortnames(); sh != "" {
			return fmt.Sprintf("%s: unknown flag -%s in -%s", fs.Name(), name, sh)
		}
		if name == "port" {
			return fmt.Sprintf("%s: unknown flag --port: give the port with the target, DOMAIN:PORT or [IPv6]:PORT", fs.Name())
		}
		var names []string
		fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		hint := ""
		if s := Suggest(name, names); s != "" {
			hint = fmt.Sprintf("; did you mean --%s?", s)
		}
		return fmt.Sprintf("%s: unknown flag --%s%s", fs.Name(), name, hint)
	case errors.As(err, &ie):
		f := ie.GetFlag()
		if f.Value.Type() == "duration" {
			return fmt.Sprintf("--%s %q: %s", f.Name, ie.GetValue(), DurationHint(ie.GetValue()))
		}
		return fmt.Sprintf("--%s %q: want %s", f.Name, ie.GetValue(), ArgName(f))
	}
	return fmt.Sprintf("%s: %v", fs.Name(), err)
}

// Hoist moves the global flags given before the command to just after it,
// so that `smtpprobe --json mx example.com` parses as `smtpprobe mx --json
// example.com`. globals maps each global flag ("--format", "-q") to
// whether it takes a separate value.
func Hoist(args []string, globals map[string]bool) []string {
	var pre []string
	i := 0
	for i < len(args) {
		name, _, hasValue := strings.Cut(args[i], "=")
		takes, ok := globals[name]
		if !ok {
			break
		}
		pre = append(pre, args[i])
		if takes && !hasValue && i+1 < len(args) {
			pre = append(pre, args[i+1])
			i++
		}
		i++
	}
	if len(pre) == 0 || i >= len(args) {
		return args
	}
	return append(append([]string{args[i]}, pre...), args[i+1:]...)
}
