package config

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
)

// checkKeys walks the document before it is decoded and reports, with
// the line of the key, what the Keys table does not allow: an unknown
// key (with the nearest known one), a module key that does not apply to
// the module's command, a module without a known command, and a
// duration written without its unit. It reports every such problem
// (problems), and records the line of every key for later messages.
func (c *Config) checkKeys(doc *yaml.Node) error {
	at := func(n *yaml.Node, format string, args ...any) error {
		return &Error{Path: c.Path, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
	}
	if doc.Kind != yaml.MappingNode {
		return at(doc, "want a mapping of keys such as modules:, not %s", kindWords(doc))
	}
	var p problems
	c.keyLines = map[string]int{}
	c.keyBad.modules, c.keyBad.targets = map[string]bool{}, map[int]bool{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key, val := doc.Content[i], doc.Content[i+1]
		if _, ok := lookupKey(Top, key.Value); !ok {
			p.add(at(key, "unknown key %q at the top level%s", key.Value, hint(Top, key.Value)))
			continue
		}
		c.keyLines[key.Value] = key.Line
		switch key.Value {
		case "modules":
			if val.Kind != yaml.MappingNode {
				if !isNull(val) {
					p.add(at(val, "modules: want a mapping of NAME: module, not %s", kindWords(val)))
				}
				continue
			}
			for j := 0; j+1 < len(val.Content); j += 2 {
				p.add(c.checkModule(val.Content[j], val.Content[j+1]))
			}
		case "targets":
			if val.Kind != yaml.SequenceNode {
				if !isNull(val) {
					p.add(at(val, "targets: want a list of entries such as - target: example.com, not %s", kindWords(val)))
				}
				continue
			}
			for k, t := range val.Content {
				if t.Kind != yaml.MappingNode {
					p.add(at(t, "targets: want an entry such as {target: example.com, module: mx}, not %s", kindWords(t)))
					c.keyBad.targets[k] = true
					continue
				}
				if p.add(c.checkSection(t, Targets, "in a target entry")) {
					c.keyBad.targets[k] = true
				}
			}
		case "serve":
			if val.Kind != yaml.MappingNode {
				if !isNull(val) {
					p.add(at(val, "serve: want a mapping such as {allow: [...]}, not %s", kindWords(val)))
				}
				continue
			}
			p.add(c.checkSection(val, ServeS, "in serve"))
		}
	}
	return p.err()
}

// checkSection checks the keys of one mapping of section s.
func (c *Config) checkSection(m *yaml.Node, s Section, where string) error {
	var p problems
	for i := 0; i+1 < len(m.Content); i += 2 {
		key := m.Content[i]
		if _, ok := lookupKey(s, key.Value); !ok {
			p.add(&Error{Path: c.Path, Line: key.Line, Msg: fmt.Sprintf("unknown key %q %s%s", key.Value, where, hint(s, key.Value))})
		}
	}
	return p.err()
}

// checkModule checks the keys of module name against its command. A
// module whose shape is wrong (not a mapping, an unknown key, no known
// command) is marked for check to leave alone; one with a bad value is
// not, so that check still finds its other problems.
func (c *Config) checkModule(name, m *yaml.Node) error {
	at := func(n *yaml.Node, format string, args ...any) error {
		return &Error{Path: c.Path, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
	}
	shape := func(err error) error {
		if err != nil {
			c.keyBad.modules[name.Value] = true
		}
		return err
	}
	if m.Kind != yaml.MappingNode {
		c.keyBad.modules[name.Value] = true
		if isNull(m) {
			return at(name, "module %q is empty: want at least command: %s", name.Value, strings.Join(job.KindNames(), "|"))
		}
		return at(m, "module %q: want a mapping of keys such as command: mx, not %s", name.Value, kindWords(m))
	}
	var p problems
	lines := map[string]int{}
	command := ""
	var commandNode *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i], m.Content[i+1]
		if _, ok := lookupKey(Modules, key.Value); !ok {
			p.add(at(key, "unknown key %q in module %q%s", key.Value, name.Value, hint(Modules, key.Value)))
			continue
		}
		lines[key.Value] = key.Line
		if key.Value == "command" {
			command, commandNode = val.Value, val
		}
	}
	if c.moduleKeys == nil {
		c.moduleKeys = map[string]map[string]int{}
	}
	c.moduleKeys[name.Value] = lines
	if commandNode == nil {
		if len(p.list) == 0 { // else a misspelt key is likely the command
			p.add(at(name, "module %q has no command: want command: %s", name.Value, strings.Join(job.KindNames(), "|")))
		}
		return shape(p.err())
	}
	if !isCommand(command) {
		p.add(at(commandNode, "module %q: unknown command %q (want %s)%s", name.Value, command,
			strings.Join(job.KindNames(), ", "), didYouMean(command, job.KindNames())))
		return shape(p.err())
	}
	shape(p.err()) // unknown keys
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i], m.Content[i+1]
		k, known := lookupKey(Modules, key.Value)
		if !known {
			continue // said above
		}
		if !k.AppliesTo(command) {
			p.add(at(key, "key %q does not apply to module %q (command %s): %s is for %s", key.Value, name.Value,
				command, key.Value, strings.Join(k.Commands, ", ")))
			continue
		}
		if k.Type == "duration" && val.Kind == yaml.ScalarNode {
			if _, err := time.ParseDuration(val.Value); err != nil {
				p.add(at(val, "%s: %q: %s", key.Value, val.Value, help.DurationHint(val.Value)))
				continue
			}
		}
		if key.Value == "to" && command != "session" && val.Kind == yaml.SequenceNode && len(val.Content) > 1 {
			p.add(at(key, "to: %s takes one recipient, not %d (module %q)", command, len(val.Content), name.Value))
		}
	}
	return p.err()
}

func isCommand(s string) bool {
	for _, c := range job.KindNames() {
		if c == s {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "")
}

// kindWords names a node's kind for a message.
func kindWords(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	if isNull(n) {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

// hint suggests the nearest key of section s to name, or says which
// section a key of that name belongs to.
func hint(s Section, name string) string {
	var names []string
	for _, k := range KeysIn(s) {
		names = append(names, k.Name)
	}
	if h := didYouMean(name, names); h != "" {
		return h
	}
	for _, k := range Keys {
		if k.Name == name && k.Section != s {
			switch k.Section {
			case Top:
				return fmt.Sprintf(" (%s is a top-level key)", name)
			case Modules:
				return fmt.Sprintf(" (%s is a module key: modules: NAME: %s: ...)", name, name)
			case Targets:
				return fmt.Sprintf(" (%s is a key of a targets: entry)", name)
			case ServeS:
				return fmt.Sprintf(" (%s goes under serve:)", name)
			}
		}
	}
	if len(names) > 8 {
		return " (smtpprobe help config lists the keys)"
	}
	return fmt.Sprintf(" (want one of %s)", strings.Join(names, ", "))
}

// didYouMean returns ` (did you mean "x"?)` for the candidate nearest
// to s (job.Suggest, the did-you-mean of every front end), or "".
func didYouMean(s string, candidates []string) string {
	if best := help.Suggest(s, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}
