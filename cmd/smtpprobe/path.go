package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/mtu/trace"
)

func init() { kindCommands["path"] = runPath }

// runPath implements `smtpprobe path TARGET`: a TTL / hop-limit sweep of
// SYNs to the target's port that shows each hop and where the SYNs stop.
func runPath(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	j := job.New("path")
	o := &j.Path
	var comparePort int
	of, fs, err := parseCommand(j, args, stdout, "smtpprobe path TARGET[:PORT] [flags]", func(fs *pflag.FlagSet) {
		if f := fs.Lookup("parallel"); f != nil {
			f.Usage = "addresses swept at once"
		}
		fs.IntVar(&o.MaxHops, "max-hops", trace.DefaultMaxHops, "largest TTL (IPv6 hop limit) to try")
		fs.IntVar(&o.Probes, "probes", trace.DefaultProbes, "SYNs per hop at most (a silent hop is asked again)")
		fs.DurationVar(&o.Wait, "wait", trace.DefaultWait, "longest wait for a round of answers")
		fs.IntVar(&comparePort, "compare-port", 0, "port swept beside TARGET's when its SYNs go unanswered (default 587, or 25 for :587)")
	})
	if err != nil {
		return 0, err
	}
	if fs.Changed("max-hops") && o.MaxHops < 1 {
		return 0, usagef("--max-hops %d: want 1 to %d", o.MaxHops, trace.MaxMaxHops)
	}
	if fs.Changed("probes") && o.Probes < 1 {
		return 0, usagef("--probes %d: want 1 to 10 SYNs per hop", o.Probes)
	}
	if o.Wait <= 0 {
		return 0, usagef("--wait %s: want a positive duration such as 1s", o.Wait)
	}
	if comparePort < 0 || comparePort > 65535 || fs.Changed("compare-port") && comparePort == 0 {
		return 0, usagef("--compare-port %d: want a port from 1 to 65535", comparePort)
	}
	o.ComparePort = uint16(comparePort)
	return runJob(ctx, j, of, stdout, stderr)
}
