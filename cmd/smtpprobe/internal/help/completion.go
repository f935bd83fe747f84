package help

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Shells are the shells Completion writes for.
var Shells = []string{"bash", "zsh", "fish"}

// Completion writes a completion script for shell: the commands, each
// command's flags, and the values of enum flags. Its error names the
// shells it knows.
func Completion(w io.Writer, shell string, cmds []Command) error {
	var b strings.Builder
	switch shell {
	case "bash":
		bash(&b, cmds)
	case "zsh":
		b.WriteString("#compdef smtpprobe\n# zsh completion for smtpprobe: runs the bash completion through bashcompinit.\nautoload -U +X bashcompinit && bashcompinit\n")
		bash(&b, cmds)
	case "fish":
		fish(&b, cmds)
	default:
		return fmt.Errorf("completion: unknown shell %q: want %s", shell, strings.Join(Shells, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func names(cmds []Command) string {
	var n []string
	for _, c := range cmds {
		n = append(n, c.Name)
	}
	return strings.Join(n, " ")
}

func flags(c Command) (all []Flag) {
	for _, g := range c.Groups {
		all = append(all, g.Flags...)
	}
	return all
}

func bash(b *strings.Builder, cmds []Command) {
	b.WriteString("# bash completion for smtpprobe\n_smtpprobe() {\n")
	b.WriteString("    local cur prev cmd\n    cur=${COMP_WORDS[COMP_CWORD]}\n    prev=${COMP_WORDS[COMP_CWORD-1]}\n    cmd=${COMP_WORDS[1]}\n")
	fmt.Fprintf(b, "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n        COMPREPLY=($(compgen -W %q -- \"$cur\"))\n        return\n    fi\n", names(cmds)+" --version --help")
	b.WriteString("    case \"$cmd\" in\n")
	for _, c := range cmds {
		var words []string
		enums := map[string][]string{}
		for _, f := range flags(c) {
			words = append(words, "--"+f.Name)
			if f.Short != "" {
				words = append(words, "-"+f.Short)
			}
			if len(f.Values) > 0 {
				enums["--"+f.Name] = f.Values
			}
		}
		switch c.Name {
		case "completion":
			words = Shells
		case "help":
			words = strings.Fields(names(cmds) + " config")
		}
		fmt.Fprintf(b, "    %s)\n", c.Name)
		if len(enums) > 0 {
			b.WriteString("        case \"$prev\" in\n")
			keys := make([]string, 0, len(enums))
			for k := range enums {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(b, "        %s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return;;\n", k, strings.Join(enums[k], " "))
			}
			b.WriteString("        esac\n")
		}
		fmt.Fprintf(b, "        COMPREPLY=($(compgen -W %q -- \"$cur\"));;\n", strings.Join(words, " "))
	}
	b.WriteString("    esac\n}\ncomplete -o default -F _smtpprobe smtpprobe\n")
}

func fish(b *strings.Builder, cmds []Command) {
	b.WriteString("# fish completion for smtpprobe\ncomplete -c smtpprobe -f\n")
	fmt.Fprintf(b, "complete -c smtpprobe -n __fish_use_subcommand -a %q\n", names(cmds))
	for _, c := range cmds {
		cond := "__fish_seen_subcommand_from " + c.Name
		switch c.Name {
		case "completion":
			fmt.Fprintf(b, "complete -c smtpprobe -n %q -a %q\n", cond, strings.Join(Shells, " "))
		case "help":
			fmt.Fprintf(b, "complete -c smtpprobe -n %q -a %q\n", cond, names(cmds)+" config")
		}
		for _, f := range flags(c) {
			line := fmt.Sprintf("complete -c smtpprobe -n %q -l %s", cond, f.Name)
			if f.Short != "" {
				line += " -s " + f.Short
			}
			if f.Arg != "" {
				line += " -r"
			}
			if len(f.Values) > 0 {
				line += fmt.Sprintf(" -a %q", strings.Join(f.Values, " "))
			}
			line += fmt.Sprintf(" -d %q", firstSentence(f.Usage))
			b.WriteString(line + "\n")
		}
	}
}

// firstSentence is the usage up to its first ";" or "(", short enough
// for a completion menu.
func firstSentence(s string) string {
	if i := strings.IndexAny(s, ";("); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
