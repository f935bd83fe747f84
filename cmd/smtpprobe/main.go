// Command smtpprobe is an active SMTP probe: it resolves a domain's MX,
// opens sessions that time every phase on the wire, and classifies every
// outcome in one taxonomy. See README.md and `smtpprobe help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/job"
	"github.com/smtpprobe/smtpprobe/probe/render"
	helptext "github.com/smtpprobe/smtpprobe/probe/render/help"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// commands maps each command to its implementation.
var commands = map[string]func(context.Context, []string, io.Writer, io.Writer) (int, error){
	"mx": runMX, "session": runSession, "timeout": runTimeout, "mtu": runMTU, "path": runPath,
	"check": runCheck, "serve": runServe, "demo": runDemo,
}

// usageError is bad usage or input: one line on stderr, exit 3.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	args = helptext.Hoist(args, globalFlags)
	if len(args) == 0 {
		helptext.Overview(stderr, reference(), helptext.ExitCodes)
		return int(probe.StatusUnknown)
	}
	cmd, rest := args[0], args[1:]
	var (
		code int
		err  error
	)
	switch f := commands[cmd]; {
	case f != nil:
		code, err = f(ctx, rest, stdout, stderr)
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		code, err = runHelp(ctx, rest, stdout, stderr)
	case cmd == "completion":
		err = runCompletion(ctx, rest, stdout)
	case cmd == "version" || cmd == "--version":
		fmt.Fprint(stdout, helptext.Version(version))
	case strings.HasPrefix(cmd, "-"):
		err = usagef("%s before a command: want smtpprobe COMMAND [flags] (global flags such as --json may come first)", cmd)
	default:
		var names []string
		for _, c := range reference() {
			names = append(names, c.Name)
		}
		hint := ""
		if s := job.Suggest(cmd, names); s != "" {
			hint = fmt.Sprintf("; did you mean %q?", s)
		}
		err = usagef("unknown command %q%s (want %s)", cmd, hint, strings.Join(names, ", "))
	}
	var ue *usageError
	switch {
	case errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "smtpprobe: %s\n", oneLine(ue.msg))
		return int(probe.StatusUnknown)
	case err != nil:
		fmt.Fprintf(stderr, "smtpprobe: %s: %s\n", cmd, oneLine(err.Error()))
		return int(probe.StatusUnknown)
	}
	return code
}

// globalFlags are the flags every reporting command shares, accepted
// before the command too (`smtpprobe --json mx example.com`); the value
// says whether the flag takes a separate argument.
var globalFlags = map[string]bool{"--json": false, "--format": true, "-q": false, "--quiet": false,
	"-v": false, "--verbose": false, "--prom-file": true}

// runHelp implements `smtpprobe help [COMMAND|config]`.
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	switch {
	case len(args) == 0:
		return 0, helptext.Overview(stdout, reference(), helptext.ExitCodes)
	case args[0] == "config":
		return 0, helpConfig(stdout)
	case args[0] == "--man":
		return 0, helptext.Man(stdout, commandHelp(ctx), manDate, version, helptext.ExitCodes)
	}
	if c, ok := helptext.Lookup(args[0]); ok && commands[args[0]] == nil { // completion, help
		return 0, helptext.Text(stdout, c)
	}
	return run(ctx, []string{args[0], "--help"}, stdout, stderr), nil // run printed why, if it failed
}

// manDate is the man page's date: the day this help text last changed.
const manDate = "2026-12-02"

// runCompletion implements `smtpprobe completion bash|zsh|fish`.
func runCompletion(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		c, _ := helptext.Lookup("completion")
		if err := helptext.Text(stdout, c); err != nil {
			return err
		}
		return errHelp
	}
	if len(args) != 1 {
		return usagef("completion: want one shell: %s", strings.Join(helptext.Shells, ", "))
	}
	shell := strings.ToLower(args[0])
	if err := helptext.Completion(stdout, shell, commandHelp(ctx)); err != nil {
		return usagef("%v%s", err, job.DidYouMean(shell, helptext.Shells))
	}
	return nil
}

// reference is the command reference of probe/render/help, with any
// command of the table that has no entry there yet at the end (a new
// command's synopsis and examples go in helptext.Commands).
func reference() []helptext.Command {
	cmds := slices.Clone(helptext.Commands)
	for _, name := range slices.Sorted(maps.Keys(commands)) {
		if _, ok := helptext.Lookup(name); !ok {
			cmds = append(cmds, helptext.Command{Name: name, Synopsis: "smtpprobe " + name + " [flags]"})
		}
	}
	return cmds
}

// commandHelp collects every command's reference, flags included, by
// asking each for its help into a helpCollector.
func commandHelp(ctx context.Context) []helptext.Command {
	var out []helptext.Command
	for _, c := range reference() {
		if commands[c.Name] == nil {
			out = append(out, c)
			continue
		}
		col := &helpCollector{Writer: io.Discard}
		run(ctx, []string{c.Name, "--help"}, col, io.Discard)
		if col.cmd.Name == "" {
			col.cmd = c
		}
		out = append(out, col.cmd)
	}
	return out
}

// version is the module version, or "dev" for a build outside a module
// release (go build in a checkout); -ldflags "-X main.version=..." sets it.
var version = helptext.ModuleVersion()

// oneLine keeps an error message on one line (render.OneLine).
func oneLine(s string) string { return render.OneLine(s) }
