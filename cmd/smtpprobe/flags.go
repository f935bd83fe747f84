package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/job"
)

// errHelp means --help was asked for and printed.
var errHelp = errors.New("help printed")

// outputFlags choose how a report is printed, judged and kept.
type outputFlags struct {
	format       string
	jsonOut      bool
	quiet        bool
	verbose      bool
	promFile     string
	warning      string
	critical     string
	baseline     string
	saveBaseline string

	warn, crit probe.Thresholds
	base       *probe.Report
}

func (o *outputFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "format", "text", "output format: text, json, nagios or prom")
	fs.BoolVar(&o.jsonOut, "json", false, "short for --format json")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing when the result is OK (for cron)")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "text output: show each session's timeline")
	fs.StringVar(&o.promFile, "prom-file", "", "also write Prometheus metrics to this file, atomically (node_exporter textfile collector)")
	fs.StringVar(&o.warning, "warning", "", "WARNING thresholds: time=DUR (a phase slower), timeout=DUR (server idle timeout shorter), mtu=N (path MTU lower), cert=DAYS")
	fs.StringVar(&o.critical, "critical", "", "CRITICAL thresholds, same keys as --warning")
	fs.StringVar(&o.baseline, "baseline", "", "compare with a report saved by --save-baseline; regressions exit 2")
	fs.StringVar(&o.saveBaseline, "save-baseline", "", "save this run's report as a baseline (JSON)")
}

// validate checks the output settings and reads the baseline, before any
// probe runs.
func (o *outputFlags) validate() error {
	if o.jsonOut {
		o.format = "json"
	}
	switch o.format {
	case "text", "json", "nagios", "prom":
	default:
		return usagef("--format %q: want text, json, nagios or prom", o.format)
	}
	var err error
	if o.warn, err = probe.ParseThresholds(o.warning); err != nil {
		return usagef("--warning: %v", err)
	}
	if o.crit, err = probe.ParseThresholds(o.critical); err != nil {
		return usagef("--critical: %v", err)
	}
	for flag, path := range map[string]string{"prom-file": o.promFile, "save-baseline": o.saveBaseline} {
		if path == "" {
			continue
		}
		if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
			return usagef("--%s %s: directory %s does not exist", flag, path, filepath.Dir(path))
		}
	}
	if o.baseline != "" {
		b, err := os.ReadFile(o.baseline)
		if err != nil {
			return usagef("--baseline: %v", err)
		}
		var rep probe.Report
		if err := json.Unmarshal(b, &rep); err != nil || rep.Command == "" {
			return usagef("--baseline %s: not a report saved by --save-baseline or --json (%v)", o.baseline, err)
		}
		o.base = &rep
	}
	return nil
}

// judge applies the thresholds and the baseline to rep and saves it as a
// baseline when asked.
func (o *outputFlags) judge(rep *probe.Report) error {
	rep.ApplyThresholds(o.warn, o.crit)
	if o.base != nil {
		rep.Findings = append(rep.Findings, probe.Compare(o.base, rep)...)
		probe.SortFindings(rep.Findings)
	}
	if o.saveBaseline != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFileAtomic(o.saveBaseline, append(b, '\n')); err != nil {
			return fmt.Errorf("--save-baseline: %w", err)
		}
	}
	return nil
}

// registerJob binds the flags every probe command shares to j.
func registerJob(fs *pflag.FlagSet, j *job.Job) {
	fs.StringVar(&j.Resolver, "resolver", "", "DNS server host[:port] (default: nameservers in /etc/resolv.conf)")
	fs.DurationVar(&j.ConnectTimeout, "connect-timeout", j.ConnectTimeout, "TCP connect limit (as Postfix smtp_connect_timeout)")
	fs.DurationVar(&j.ReplyTimeout, "timeout", j.ReplyTimeout, "limit for each SMTP reply, the greeting included")
	fs.BoolVarP(&j.IPv4, "ipv4", "4", false, "probe IPv4 addresses only")
	fs.BoolVarP(&j.IPv6, "ipv6", "6", false, "probe IPv6 addresses only")
	fs.IntVar(&j.Parallel, "parallel", j.Parallel, "sessions at once")
	fs.StringVar(&j.Helo, "helo", "", "EHLO name (default: this host's FQDN, else its address literal)")
}

// parseCommand parses a probe command's flags: the shared ones, those
// extra registers, and the output flags; it takes exactly one TARGET.
func parseCommand(j *job.Job, args []string, stdout io.Writer, synopsis string, extra func(*pflag.FlagSet)) (*outputFlags, *pflag.FlagSet, error) {
	fs := pflag.NewFlagSet(j.Command, pflag.ContinueOnError)
	var of outputFlags
	of.register(fs)
	registerJob(fs, j)
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args, stdout, synopsis); err != nil {
		return nil, nil, err
	}
	if err := of.validate(); err != nil {
		return nil, nil, err
	}
	if of.base != nil && of.base.Command != j.Command {
		return nil, nil, usagef("--baseline %s is a %s report; this is %s", of.baseline, of.base.Command, j.Command)
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

// runJob validates and runs j and prints its report. timeout and mtu,
// which take minutes, show their progress on a terminal's stderr.
func runJob(ctx context.Context, j *job.Job, of *outputFlags, stdout, stderr io.Writer) (int, error) {
	if err := validateJob(j); err != nil {
		return 0, err
	}
	res, err := jobResolver(j)
	if err != nil {
		return 0, err
	}
	var pg *progress
	switch j.Command {
	case "timeout":
		pg = startProgress(stderr, "timeout: waiting for the server to hang up", "phase", 1, j.Timeout.MaxWait)
	case "mtu":
		pg = startProgress(stderr, "mtu: bracketing the path MTU of "+j.Target, "address", 1, 0)
	}
	if pg != nil {
		j.Progress = pg.set
	}
	rep, err := runJobReport(ctx, j, res)
	if pg != nil {
		pg.stop()
	}
	if err != nil {
		return 0, err
	}
	if err := of.judge(rep); err != nil {
		return 0, err
	}
	return emit(rep, of, stdout)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseFlags parses args into fs; --help prints the command's usage.
func parseFlags(fs *pflag.FlagSet, args []string, stdout io.Writer, synopsis string) error {
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			*help = true
		} else {
			return usagef("%s: %v", fs.Name(), err)
		}
	}
	if *help {
		fmt.Fprintf(stdout, "Usage: %s\n\nFlags:\n%s", synopsis, fs.FlagUsages())
		return errHelp
	}
	return nil
}
