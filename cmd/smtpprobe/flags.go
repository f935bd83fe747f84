package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	helptext "github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render/output"
)

// errHelp means --help was asked for and printed.
var errHelp = helptext.ErrHelp

// outputFlags choose how a report is printed, judged and kept.
type outputFlags struct {
	job.Output
	quiet   bool
	verbose bool
	// timeline shows each session's timeline without the rest of -v
	// (session's default).
	timeline bool
	port     uint16 // the target's port: in the metrics' target label unless 25
}

// register binds the output flags (group output) and the monitoring ones
// (thresholds, baseline, metrics file) of command.
func (o *outputFlags) register(fs *pflag.FlagSet, command string) {
	o.Command = command
	helptext.InGroup(fs, "output",
		func() { fs.StringVar(&o.Format, "format", output.FormatText, "output format: "+output.FormatWords()) },
		func() { fs.BoolVar(&o.JSON, "json", false, "short for --format json") },
		func() {
			fs.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing when the result is OK (for cron); Nagios still prints its status line")
		},
		func() {
			fs.BoolVarP(&o.verbose, "verbose", "v", false, "text output: the full report (each session's timeline, banner, extensions, PTR, hops, every finding)")
		},
	)
	helptext.EnumValues(fs, "format", output.Formats...)
	var keys []string
	for _, k := range job.ThresholdKeys(command) {
		keys = append(keys, job.ThresholdHelp[k])
	}
	helptext.InGroup(fs, "monitoring",
		func() {
			fs.StringVar(&o.Warning, "warning", "", "WARNING thresholds, comma-separated: "+strings.Join(keys, ", "))
		},
		func() { fs.StringVar(&o.Critical, "critical", "", "CRITICAL thresholds, same keys as --warning") },
		func() {
			fs.StringVar(&o.Baseline, "baseline", "", "compare with a report saved by --save-baseline; regressions exit 2")
		},
		func() {
			fs.StringVar(&o.SaveBaseline, "save-baseline", "", "save this run's report as a baseline (JSON)")
		},
		func() {
			fs.StringVar(&o.PromFile, "prom-file", "", "also write Prometheus metrics to this file, atomically (node_exporter textfile collector)")
		},
	)
}

// validate checks the output settings and reads the baseline, which
// must be one of this command's reports, before any probe runs.
func (o *outputFlags) validate() error {
	if err := o.Check(); err != nil {
		return usageOf(err)
	}
	if o.Base != nil && o.Base.Command != o.Command {
		return usagef("--baseline %s is a %s report; this is %s", o.Baseline, o.Base.Command, o.Command)
	}
	return nil
}

// judge applies the thresholds and the baseline to rep and saves it as a
// baseline when asked.
func (o *outputFlags) judge(rep *probe.Report) error {
	job.Judge(rep, o.Warn, o.Crit, o.Base)
	if o.SaveBaseline != "" {
		if err := job.SaveReport(o.SaveBaseline, rep); err != nil {
			return fmt.Errorf("--save-baseline: %w", err)
		}
	}
	return nil
}

// registerJob binds the flags every probe command shares to j: the
// network ones and the timing ones.
func registerJob(fs *pflag.FlagSet, j *job.Job) {
	helptext.InGroup(fs, "network",
		func() {
			fs.StringVar(&j.Resolver, "resolver", "", "DNS server host[:port] (default: nameservers in /etc/resolv.conf)")
		},
		func() { fs.BoolVarP(&j.IPv4, "ipv4", "4", false, "probe IPv4 addresses only") },
		func() { fs.BoolVarP(&j.IPv6, "ipv6", "6", false, "probe IPv6 addresses only") },
		func() { fs.IntVar(&j.Parallel, "parallel", j.Parallel, "sessions at once") },
		func() {
			fs.StringVar(&j.Helo, "helo", "", "EHLO name (default: this host's FQDN, else its address literal)")
		},
	)
	helptext.InGroup(fs, "timing",
		func() {
			fs.DurationVar(&j.ConnectTimeout, "connect-timeout", j.ConnectTimeout, "TCP connect limit (as Postfix smtp_connect_timeout)")
		},
		func() {
			fs.DurationVar(&j.ReplyTimeout, "timeout", j.ReplyTimeout, "limit for each SMTP reply, the greeting included")
		},
	)
}

// parseCommand parses a probe command's flags: the shared ones, those
// extra registers, and the output flags; it takes exactly one TARGET.
func parseCommand(j *job.Job, args []string, stdout io.Writer, synopsis string, extra func(*pflag.FlagSet)) (*outputFlags, *pflag.FlagSet, error) {
	fs := pflag.NewFlagSet(j.Command, pflag.ContinueOnError)
	var of outputFlags
	if extra != nil {
		extra(fs)
	}
	registerJob(fs, j)
	of.register(fs, j.Command)
	if err := parseFlags(fs, args, stdout, synopsis); err != nil {
		return nil, nil, err
	}
	if err := of.validate(); err != nil {
		return nil, nil, err
	}
	if fs.NArg() != 1 {
		what := "TARGET (domain, host or IP, optional :PORT)"
		if j.Command == "mx" {
			what = "DOMAIN[:PORT]"
		}
		return nil, nil, usagef("%s: want exactly one %s, got %d arguments", j.Command, what, fs.NArg())
	}
	j.Target = fs.Arg(0)
	return &of, fs, nil
}

// runJob validates and runs j and prints its report. Its progress shows
// on a terminal's stderr after the first second (progress.go): timeout
// and mtu take minutes, and an mx or session whose SYNs go unanswered
// waits out the connect timeout (30s by default).
func runJob(ctx context.Context, j *job.Job, of *outputFlags, stdout, stderr io.Writer) (int, error) {
	if err := usageOf(j.Validate()); err != nil {
		return 0, err
	}
	of.port = j.Port()
	if n := j.Note(); n != "" {
		fmt.Fprintf(stderr, "smtpprobe: note: %s\n", n)
	}
	res, err := j.NewResolver()
	if err = usageOf(err); err != nil {
		return 0, err
	}
	var pg *progress
	switch j.Command {
	case "timeout":
		pg = startProgress(stderr, "timeout: waiting for the server to hang up", "phase", 1, j.Timeout.MaxWait)
	case "mtu":
		pg = startProgress(stderr, "mtu: bracketing the path MTU of "+j.Target, "address", 1, probe.DefaultMTUBudget) // per address (issue 17)
	case "mx", "session":
		// The addresses are known once DNS answers (job.Job.Progress).
		pg = startProgress(stderr, j.Command+": probing "+j.Target, "address", 0, 0)
	}
	if pg != nil {
		j.Progress = pg.set
	}
	rep, err := j.Run(ctx, res)
	if pg != nil {
		pg.stop()
	}
	if err != nil { // input the servers showed to be unusable is a usage error
		return 0, usageOf(err)
	}
	if err := of.judge(rep); err != nil {
		return 0, err
	}
	return emit(rep, of, stdout)
}

// parseFlags parses args into fs; --help prints the command's help (or
// hands it to a helptext.Collector). A bad flag is a usage error with a hint:
// the closest flag, the unit a bare number lacks.
func parseFlags(fs *pflag.FlagSet, args []string, stdout io.Writer, synopsis string) error {
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil && !errors.Is(err, pflag.ErrHelp) {
		return usagef("%s", helptext.FlagError(fs, err))
	} else if err != nil {
		*help = true
	}
	if *help {
		c := helptext.FromFlags(fs, entry(fs.Name()), synopsis)
		if col, ok := stdout.(*helptext.Collector); ok {
			col.Cmd = c
			return errHelp
		}
		if err := helptext.Text(stdout, c); err != nil {
			return err
		}
		return errHelp
	}
	return nil
}
