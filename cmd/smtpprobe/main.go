// Command smtpprobe is an active SMTP probe: it resolves a domain's MX,
// opens sessions that time every phase on the wire, and classifies every
// outcome in one taxonomy. See README.md and `smtpprobe help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `smtpprobe: an active SMTP probe

Usage:
  smtpprobe mx DOMAIN[:PORT] [flags]   check every MX address of DOMAIN
  smtpprobe session TARGET[:PORT]      one scripted transaction per address, with pauses (no mail delivered unless --deliver)
  smtpprobe timeout TARGET[:PORT]      measure the server's idle timeout per phase (--phase ...|all)
  smtpprobe mtu TARGET[:PORT]          bracket the path MTU on port 25 with DF set: black hole or working PMTUD
  smtpprobe path TARGET[:PORT]         hop by hop on port 25: where SYNs stop (dropped, rejected with ICMP, answered)
  smtpprobe check --config FILE        run the targets and modules of a YAML file; one combined report
  smtpprobe serve --config FILE        Prometheus exporter: /probe?target=...&module=..., /metrics
  smtpprobe demo [flags]               run mx against an embedded lab (no network, no root)
  smtpprobe help [COMMAND]             show help

Exit codes (Nagios convention): 0 OK, 1 WARNING (some addresses fail),
2 CRITICAL (none reachable, null MX, DNS failure), 3 UNKNOWN (bad usage or input).
TARGET is a domain (its MX are used), a host name or an IP literal.
Run "smtpprobe help COMMAND" for the flags.
`

// usageError is bad usage or input: one line on stderr, exit 3.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return int(probe.StatusUnknown)
	}
	cmd, rest := args[0], args[1:]
	var (
		code int
		err  error
	)
	switch cmd {
	case "mx":
		code, err = runMX(ctx, rest, stdout, stderr)
	case "session":
		code, err = runSession(ctx, rest, stdout, stderr)
	case "timeout":
		code, err = runTimeout(ctx, rest, stdout, stderr)
	case "mtu":
		code, err = runMTU(ctx, rest, stdout, stderr)
	case "path":
		code, err = runPath(ctx, rest, stdout, stderr)
	case "check":
		code, err = runCheck(ctx, rest, stdout, stderr)
	case "serve":
		code, err = runServe(ctx, rest, stdout, stderr)
	case "demo":
		code, err = runDemo(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		if len(rest) > 0 && rest[0] == "config" {
			return exitOf(helpConfig(stdout))
		}
		if len(rest) > 0 {
			return run(ctx, []string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, "smtpprobe", version)
		return 0
	default:
		err = usagef("unknown command %q (want mx, session, timeout, mtu, path, check, serve, demo or help)", cmd)
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

var version = "dev"

// oneLine keeps an error message on one line (render.OneLine).
func oneLine(s string) string { return render.OneLine(s) }
