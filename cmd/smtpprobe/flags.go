package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
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
func registerJob(fs *pflag.FlagSet, j *job) {
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
func parseCommand(j *job, args []string, stdout io.Writer, synopsis string, extra func(*pflag.FlagSet)) (*outputFlags, *pflag.FlagSet, error) {
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

// runJob validates and runs j and prints its report. With a progress
// message, elapsed time shows on stderr while it runs (terminals only).
func runJob(ctx context.Context, j *job, of *outputFlags, stdout, stderr io.Writer, progress string) (int, error) {
	if err := j.validate(); err != nil {
		return 0, err
	}
	res, err := j.resolver()
	if err != nil {
		return 0, err
	}
	var pg *progressLine
	if progress != "" {
		pg = newProgress(stderr, progress)
	}
	rep, err := j.run(ctx, res)
	pg.stop()
	if err != nil {
		return 0, err
	}
	if err := of.judge(rep); err != nil {
		return 0, err
	}
	return emit(rep, of, stdout)
}

// nonNegative checks duration flags that may be zero but not negative.
func nonNegative(durs map[string]time.Duration) error {
	for _, name := range sortedKeys(durs) {
		if d := durs[name]; d < 0 {
			return usagef("--%s %s: want a duration of zero or more, such as 90s", name, d)
		}
	}
	return nil
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

// splitTarget splits "DOMAIN[:PORT]" (or "[v6]:PORT") into host and port.
//
// A target that is not valid UTF-8 or holds control characters is
// refused here, before anything is parsed, and so is an IPv6 zone that
// could not name an interface ([dnscheck.CheckZone]): such input is never
// repaired into something else and never reaches the output.
func splitTarget(s string, defPort uint16) (host string, port uint16, err error) {
	if s == "" {
		return "", 0, usagef("empty target: want DOMAIN[:PORT]")
	}
	if why := dnscheck.TextProblem(s); why != "" {
		return "", 0, usagef("target %s: %s; want DOMAIN[:PORT], a host name or an IP literal", dnscheck.QuoteInput(s), why)
	}
	defer func() {
		if err != nil {
			return
		}
		if a, perr := netip.ParseAddr(host); perr == nil {
			if zerr := dnscheck.CheckZone(a.Zone()); zerr != nil {
				host, port, err = "", 0, usagef("target %s: %v", dnscheck.QuoteInput(s), zerr)
			}
		}
	}()
	host = s
	var ps string
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, usagef("target %s: missing ']'", dnscheck.QuoteInput(s))
		}
		host, ps = s[1:end], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return "", 0, usagef("target %s: want [ADDRESS]:PORT", dnscheck.QuoteInput(s))
		}
	case strings.Count(s, ":") == 1:
		host, ps, _ = strings.Cut(s, ":")
	case strings.Count(s, ":") > 1:
		if _, err := netip.ParseAddr(s); err != nil {
			return "", 0, usagef("target %s: want DOMAIN[:PORT] or [IPv6]:PORT", dnscheck.QuoteInput(s))
		}
	}
	port = defPort
	if ps != "" {
		n, err := strconv.ParseUint(ps, 10, 32)
		if err != nil || n < 1 || n > math.MaxUint16 {
			return "", 0, usagef("target %s: port %s out of range 1-65535", dnscheck.QuoteInput(s), dnscheck.QuoteInput(ps))
		}
		port = uint16(n)
	}
	if host == "" {
		return "", 0, usagef("target %s: empty host", dnscheck.QuoteInput(s))
	}
	if strings.ContainsAny(host, "[]") {
		return "", 0, usagef("target %s: want DOMAIN[:PORT] or [IPv6]:PORT", dnscheck.QuoteInput(s))
	}
	return host, port, nil
}

// checkHelo validates an EHLO name (RFC 5321 §4.1.1.1): a domain in ASCII
// (§2.3.5; an internationalised name goes in its xn-- form) or an address
// literal in brackets (§4.1.3), such as [192.0.2.1] or
// [IPv6:2001:db8::1]. "" means the default. Anything else, invalid UTF-8
// and control characters in particular, would reach the peer as a
// different command, so it is refused.
func checkHelo(h string) error {
	if h == "" {
		return nil
	}
	const want = "want a domain such as mx.example.com or an address literal such as [192.0.2.1]"
	if why := dnscheck.TextProblem(h); why != "" {
		return usagef("--helo %s: %s; %s", dnscheck.QuoteInput(h), why, want)
	}
	if strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return usagef("--helo %s: contains spaces or characters outside ASCII; %s (an internationalised name in its xn-- form)", dnscheck.QuoteInput(h), want)
	}
	if lit, ok := strings.CutPrefix(h, "["); ok {
		lit, ok = strings.CutSuffix(lit, "]")
		v6, isV6 := strings.CutPrefix(lit, "IPv6:")
		a, err := netip.ParseAddr(v6)
		if !ok || err != nil || a.Zone() != "" || a.Is4() == isV6 {
			return usagef("--helo %s: not an address literal (RFC 5321 §4.1.3); %s or [IPv6:2001:db8::1]", dnscheck.QuoteInput(h), want)
		}
		return nil
	}
	if a, err := netip.ParseAddr(h); err == nil {
		lit := "[" + a.String() + "]"
		if a.Is6() {
			lit = "[IPv6:" + a.String() + "]"
		}
		return usagef("--helo %s: an address goes in brackets as an address literal (RFC 5321 §4.1.3): %s", dnscheck.QuoteInput(h), lit)
	}
	if _, err := dnscheck.NormalizeDomain(h); err != nil {
		return usagef("--helo: %v", err)
	}
	return nil
}
