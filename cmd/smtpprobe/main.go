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

	helptext "github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		if s, ok := <-sig; ok {
			cancel(interrupted{s.(syscall.Signal)})
		}
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sig)
	os.Exit(code)
}

// interrupted is the cause of the context of a run that a signal ended:
// SIGINT (Ctrl-C) or SIGTERM.
type interrupted struct{ sig syscall.Signal }

func (i interrupted) Error() string { return "interrupted by " + signalName(i.sig) }

// code is the exit code of an interrupted run: 128 plus the signal's
// number, as a shell reports it (130 for SIGINT, 143 for SIGTERM).
func (i interrupted) code() int { return 128 + int(i.sig) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// runFunc is a command's implementation: it returns the exit code.
type runFunc = func(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error)

// commands are the commands that are not probe kinds.
var commands = map[string]runFunc{"check": runCheck, "serve": runServe, "demo": runDemo}

// kindCommands are the commands of the probe kinds (job.Kinds), each put
// here by its flags file (mx.go, session.go, timeout.go, mtu.go, path.go).
var kindCommands = map[string]runFunc{}

// command returns the implementation of the command name, or nil.
func command(name string) runFunc {
	if _, ok := job.KindOf(name); ok {
		return kindCommands[name]
	}
	return commands[name]
}

// commandNames are the names of every command the command line runs,
// sorted.
func commandNames() []string {
	names := append(job.KindNames(), slices.Collect(maps.Keys(commands))...)
	slices.Sort(names)
	return names
}

// reference is every command's entry, in the overview's order: the probe
// kinds' (job.Kinds), then the others' (helptext.Commands).
func reference() []helptext.Command {
	var ref []helptext.Command
	for _, k := range job.Kinds {
		ref = append(ref, k.Help)
	}
	return append(ref, helptext.Commands...)
}

// entry is the reference entry of the command name, without its flags.
func entry(name string) helptext.Command {
	for _, c := range reference() {
		if c.Name == name {
			return c
		}
	}
	return helptext.Command{}
}

// usageError is bad usage or input: one line on stderr, exit 3.
type usageError = helptext.UsageError

func usagef(format string, args ...any) error {
	return &usageError{Msg: fmt.Sprintf(format, args...)}
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	args = helptext.Hoist(args, globalFlags)
	if len(args) == 0 {
		helptext.Overview(stderr, cli(ctx).Reference(), helptext.ExitCodes)
		return int(probe.StatusUnknown)
	}
	cmd, rest := args[0], args[1:]
	var (
		code int
		err  error
	)
	switch f := command(cmd); {
	case f != nil:
		code, err = f(ctx, rest, stdout, stderr)
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		code, err = cli(ctx).Help(rest, stdout, stderr)
	case cmd == "completion":
		err = cli(ctx).Completion(rest, stdout)
	case cmd == "version" || cmd == "--version":
		fmt.Fprint(stdout, helptext.Version(version))
	case strings.HasPrefix(cmd, "-"):
		err = usagef("%s before a command: want smtpprobe COMMAND [flags] (global flags such as --json may come first)", cmd)
	default:
		var names []string
		for _, c := range cli(ctx).Reference() {
			names = append(names, c.Name)
		}
		hint := ""
		if s := helptext.Suggest(cmd, names); s != "" {
			hint = fmt.Sprintf("; did you mean %q?", s)
		}
		err = usagef("unknown command %q%s (want %s)", cmd, hint, strings.Join(names, ", "))
	}
	var ue *usageError
	var intr interrupted
	switch {
	case cmd != "serve" && errors.As(context.Cause(ctx), &intr):
		// A signal ended the run (serve's shutdown on one is its normal
		// end): whatever was printed is partial, so say so, once.
		fmt.Fprintf(stderr, "smtpprobe: %s: %s\n", cmd, intr)
		return intr.code()
	case errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		// One line per problem: a configuration file's problems are all
		// listed (config.Error), each on its own line.
		for _, line := range strings.Split(ue.Msg, "\n") {
			fmt.Fprintf(stderr, "smtpprobe: %s\n", oneLine(line))
		}
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

// cli is the command line as cmd/smtpprobe/internal/help sees it, for help, the
// man page and completion.
func cli(ctx context.Context) helptext.CLI {
	return helptext.CLI{Names: commandNames(), Commands: reference(), ManDate: manDate, Version: version,
		Topics: map[string]func(io.Writer) error{"config": helpConfig},
		Run:    func(args []string, stdout, stderr io.Writer) int { return run(ctx, args, stdout, stderr) }}
}

// manDate is the man page's date: the day this help text last changed.
const manDate = "2026-12-02"

// version is what `make build` sets with -ldflags "-X main.version=$(git
// describe)"; otherwise the module version from the build information
// (go install ...@v1.2.3 or @latest), or "dev" for a plain go build in a
// checkout. (-X sets only a variable initialised to a constant, hence
// the init.)
var version = ""

func init() {
	if version == "" {
		version = helptext.ModuleVersion()
	}
}

// oneLine keeps an error message on one line (render.OneLine).
func oneLine(s string) string { return render.OneLine(s) }
