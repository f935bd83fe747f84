package help

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ErrHelp means --help was asked for and printed (or collected).
var ErrHelp = errors.New("help printed")

// UsageError is bad usage of help or completion; the command line prints
// it as its usage errors (one line, exit 3).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// CLI is the command line as its reference sees it: the commands it
// runs and how to reach their flag sets.
type CLI struct {
	Names    []string                                          // the commands the command line runs, sorted
	Commands []Command                                         // every command's entry, in the overview's order
	Run      func(args []string, stdout, stderr io.Writer) int // the whole program: its exit code
	Topics   map[string]func(io.Writer) error                  // help topics that are not commands: `help config`
	ManDate  string                                            // the man page's date
	Version  string
}

// Collector is a writer that a command's flag parsing hands its help
// model to instead of printing it (man page, completion).
type Collector struct {
	io.Writer
	Cmd Command
}

// Lookup returns the entry of the command named name.
func (c CLI) Lookup(name string) (Command, bool) {
	for _, cmd := range c.Commands {
		if cmd.Name == name {
			return cmd, true
		}
	}
	return Command{}, false
}

// Reference is c.Commands, with any command of c.Names that has no entry
// there yet at the end (a new command's synopsis and examples go in
// Commands, or a probe kind's in its row of job.Kinds).
func (c CLI) Reference() []Command {
	cmds := slices.Clone(c.Commands)
	for _, name := range c.Names {
		if _, ok := c.Lookup(name); !ok {
			cmds = append(cmds, Command{Name: name, Synopsis: "smtpprobe " + name + " [flags]"})
		}
	}
	return cmds
}

// Collect is every command's reference, flags included, got by running
// each with --help into a Collector.
func (c CLI) Collect() []Command {
	var out []Command
	for _, ref := range c.Reference() {
		if !slices.Contains(c.Names, ref.Name) {
			out = append(out, ref)
			continue
		}
		col := &Collector{Writer: io.Discard}
		c.Run([]string{ref.Name, "--help"}, col, io.Discard)
		if col.Cmd.Name == "" {
			col.Cmd = ref
		}
		out = append(out, col.Cmd)
	}
	return out
}

// Help implements `smtpprobe help [COMMAND|TOPIC|--man]` and returns the
// exit code: a command's help is its --help, run by c.Run, which prints
// why when it fails.
func (c CLI) Help(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		return 0, Overview(stdout, c.Reference(), ExitCodes)
	}
	if topic := c.Topics[args[0]]; topic != nil {
		return 0, topic(stdout)
	}
	if args[0] == "--man" {
		return 0, Man(stdout, c.Collect(), c.ManDate, c.Version, ExitCodes)
	}
	if cmd, ok := c.Lookup(args[0]); ok && !slices.Contains(c.Names, args[0]) { // completion, help
		return 0, Text(stdout, cmd)
	}
	return c.Run([]string{args[0], "--help"}, stdout, stderr), nil
}

// Completion implements `smtpprobe completion bash|zsh|fish`; its -h
// prints its help and returns ErrHelp.
func (c CLI) Completion(args []string, stdout io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		cmd, _ := c.Lookup("completion")
		if err := Text(stdout, cmd); err != nil {
			return err
		}
		return ErrHelp
	}
	if len(args) != 1 {
		return &UsageError{Msg: "completion: want one shell: " + strings.Join(Shells, ", ")}
	}
	shell := strings.ToLower(args[0])
	if err := Completion(stdout, shell, c.Collect()); err != nil {
		return &UsageError{Msg: fmt.Sprintf("%v%s", err, DidYouMean(shell, Shells))}
	}
	return nil
}
