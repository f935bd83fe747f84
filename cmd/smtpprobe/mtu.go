package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
)

// runMTU implements `smtpprobe mtu TARGET`.
func runMTU(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("mtu", pflag.ContinueOnError)
	var cf commonFlags
	cf.register(fs)
	// Here --parallel is the sessions per round of the bracketing.
	cf.parallel = mtu.DefaultParallel
	if f := fs.Lookup("parallel"); f != nil {
		f.DefValue = fmt.Sprint(mtu.DefaultParallel)
		f.Usage = "probe sessions per round (addresses are probed one after another)"
	}
	var opt probe.MTUOptions
	fs.IntVar(&opt.Min, "min", 0, "smallest IP packet size to try (default 576 for IPv4, 1280 for IPv6)")
	fs.IntVar(&opt.Max, "max", 0, "largest IP packet size to try (default: the outgoing interface's MTU)")
	fs.StringVar(&opt.From, "from", "", "envelope sender (default <>)")
	fs.StringVar(&opt.To, "to", "", "envelope recipient (default: postmaster@DOMAIN)")
	if err := parseFlags(fs, args, stdout, "smtpprobe mtu TARGET[:PORT] [flags]"); err != nil {
		return 0, err
	}
	if err := cf.validate(); err != nil {
		return 0, err
	}
	if fs.NArg() != 1 {
		return 0, usagef("mtu: want exactly one TARGET (domain, host or IP, optional :PORT), got %d arguments", fs.NArg())
	}
	for _, r := range []struct {
		name string
		v    int
	}{{"min", opt.Min}, {"max", opt.Max}} {
		if fs.Changed(r.name) && (r.v < mtu.MinIPv4 || r.v > mtu.MaxIP) {
			return 0, usagef("--%s %d: want an IP packet size from %d to %d", r.name, r.v, mtu.MinIPv4, mtu.MaxIP)
		}
	}
	if opt.Min > 0 && opt.Max > 0 && opt.Min > opt.Max {
		return 0, usagef("--min %d is above --max %d", opt.Min, opt.Max)
	}
	opt.Parallel = cf.parallel
	if err := validPath("from", opt.From); err != nil {
		return 0, err
	}
	if err := validPath("to", opt.To); err != nil {
		return 0, err
	}
	host, port, err := parseTarget("mtu", fs.Arg(0))
	if err != nil {
		return 0, err
	}
	if opt.To == "" {
		opt.To = defaultRecipient(host)
	}
	res, err := cf.newResolver()
	if err != nil {
		return 0, err
	}
	p := cf.prober()
	var (
		mu      sync.Mutex
		sysErrs []error
	)
	progress := newProgress(stderr, "mtu: bracketing the path MTU")
	defer progress.stop()
	rep, err := p.Run(ctx, res, "mtu", host, probe.RunOptions{Port: port, Family: cf.family(), Parallel: 1, NoPTR: true},
		func(ctx context.Context, t probe.Target) []probe.Result {
			r, err := p.MTU(ctx, t, opt)
			if err != nil {
				mu.Lock()
				sysErrs = append(sysErrs, err)
				mu.Unlock()
			}
			return []probe.Result{r}
		})
	progress.stop()
	if err := runError("mtu", err); err != nil {
		return 0, err
	}
	for _, e := range sysErrs {
		var re *probe.RangeError
		switch {
		case errors.As(e, &re):
			return 0, usagef("mtu: %v", e)
		case errors.Is(e, errors.ErrUnsupported):
			return 0, fmt.Errorf("path-MTU probing needs Linux (DF sockets, TCP_MAXSEG, TCP_INFO); not supported on this system")
		default:
			return 0, fmt.Errorf("this process may not set the socket options the probe needs: %v", e)
		}
	}
	return emit(rep, &cf, stdout)
}
