package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
)

// maxMessageSize bounds --size: a synthetic message larger than this is
// more likely a typo than a test.
const maxMessageSize = 256 << 20

// parseTarget validates TARGET: a domain or host name, or an IP literal
// (IPv6 in brackets when a port follows), with an optional :port.
func parseTarget(cmd, s string) (host string, port uint16, err error) {
	host, port, err = splitTarget(s, 25)
	if err != nil {
		return "", 0, err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host, port, nil
	}
	if _, err := dnscheck.NormalizeDomain(host); err != nil {
		return "", 0, usagef("%s: %v", cmd, err)
	}
	return host, port, nil
}

// defaultRecipient is postmaster at the target's domain, which RFC 5321
// §4.5.1 requires to exist; for an IP literal it is the bare "postmaster"
// every server must accept.
func defaultRecipient(host string) string {
	if _, err := netip.ParseAddr(host); err == nil {
		return "postmaster"
	}
	d, err := dnscheck.NormalizeDomain(host)
	if err != nil {
		return "postmaster"
	}
	return "postmaster@" + d
}

// validPath checks a mailbox given on the command line for characters
// that would break the SMTP command line.
func validPath(flag, s string) error {
	if strings.ContainsAny(s, "<> \t\r\n") {
		return usagef("--%s %q: want a bare address such as user@example.com, without <>, spaces or line breaks", flag, s)
	}
	return nil
}

// runSession implements `smtpprobe session TARGET`.
func runSession(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("session", pflag.ContinueOnError)
	var cf commonFlags
	cf.register(fs)
	var opt probe.SessionOptions
	var to []string
	fs.StringVar(&opt.From, "from", "", "envelope sender (default: the null sender <>)")
	fs.StringArrayVar(&to, "to", nil, "envelope recipient, repeatable (default: postmaster@DOMAIN, RFC 5321 §4.5.1)")
	fs.IntVar(&opt.Size, "size", 2048, "message bytes, generated with realistic headers")
	fs.IntVar(&opt.ChunkSize, "chunk-size", 0, "send the body in chunks of this many bytes (default: all at once)")
	fs.DurationVar(&opt.ChunkPause, "chunk-pause", 0, "pause between body chunks")
	fs.DurationVar(&opt.PauseBeforeData, "pause-before-data", 0, "pause after the RCPT reply, before DATA")
	fs.DurationVar(&opt.PauseAfterData, "pause-after-data", 0, "pause after the 354 reply, before the body")
	fs.BoolVar(&opt.Pipelining, "pipelining", false, "send MAIL, RCPT and DATA in one write when PIPELINING is offered (RFC 2920)")
	fs.BoolVar(&opt.BDAT, "bdat", false, "send the body with BDAT chunks (RFC 3030; needs CHUNKING)")
	fs.BoolVar(&opt.StartTLS, "starttls", false, "run STARTTLS before the transaction")
	fs.BoolVar(&opt.Deliver, "deliver", false, "send the final dot so the message is really delivered (default: abort, nothing is delivered)")
	if err := parseFlags(fs, args, stdout, "smtpprobe session TARGET[:PORT] [flags]"); err != nil {
		return 0, err
	}
	if err := cf.validate(); err != nil {
		return 0, err
	}
	if fs.NArg() != 1 {
		return 0, usagef("session: want exactly one TARGET (domain, host or IP, optional :PORT), got %d arguments", fs.NArg())
	}
	if err := nonNegative(map[string]time.Duration{"chunk-pause": opt.ChunkPause,
		"pause-before-data": opt.PauseBeforeData, "pause-after-data": opt.PauseAfterData}); err != nil {
		return 0, err
	}
	if opt.Size < 1 || opt.Size > maxMessageSize {
		return 0, usagef("--size %d: want 1 to %d bytes", opt.Size, maxMessageSize)
	}
	if fs.Changed("chunk-size") && (opt.ChunkSize < 1 || opt.ChunkSize > maxMessageSize) {
		return 0, usagef("--chunk-size %d: want 1 to %d bytes", opt.ChunkSize, maxMessageSize)
	}
	if err := validPath("from", opt.From); err != nil {
		return 0, err
	}
	for _, t := range to {
		if t == "" {
			return 0, usagef("--to: empty recipient")
		}
		if err := validPath("to", t); err != nil {
			return 0, err
		}
	}
	host, port, err := parseTarget("session", fs.Arg(0))
	if err != nil {
		return 0, err
	}
	if len(to) == 0 {
		to = []string{defaultRecipient(host)}
	}
	opt.To = to
	res, err := cf.newResolver()
	if err != nil {
		return 0, err
	}
	p := cf.prober()
	var (
		mu      sync.Mutex
		capErrs []error
	)
	rep, err := p.Run(ctx, res, "session", host, probe.RunOptions{Port: port, Family: cf.family(), Parallel: cf.parallel, NoPTR: true},
		func(ctx context.Context, t probe.Target) []probe.Result {
			r, err := p.Session(ctx, t, opt)
			if err != nil {
				mu.Lock()
				capErrs = append(capErrs, err)
				mu.Unlock()
			}
			return []probe.Result{r}
		})
	if err := runError("session", err); err != nil {
		return 0, err
	}
	for _, e := range capErrs {
		var ce *probe.CapabilityError
		if errors.As(e, &ce) {
			return 0, usagef("session: %v", ce)
		}
		return 0, e
	}
	cf.verbose = true // the timeline is the point of a session
	return emit(rep, &cf, stdout)
}

// runError maps an error from probe.Run to a usage error or passes it on.
func runError(cmd string, err error) error {
	var ie *dnscheck.InputError
	switch {
	case errors.As(err, &ie):
		return usagef("%s: %v", cmd, err)
	case err != nil:
		return err
	}
	return nil
}

// runTimeout implements `smtpprobe timeout TARGET --phase PHASE`.
func runTimeout(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("timeout", pflag.ContinueOnError)
	var cf commonFlags
	cf.register(fs)
	var opt probe.TimeoutOptions
	var pauseBefore, pauseAfter, chunkPause time.Duration
	phase := fs.String("phase", "all", "where to go quiet: "+strings.Join(probe.TimeoutPhases, "|")+"|all")
	fs.DurationVar(&opt.MaxWait, "max-wait", probe.DefaultMaxWait, "longest quiet wait (RFC 5321 §4.5.3.2.7 asks servers for at least 5 min)")
	fs.StringVar(&opt.From, "from", "", "envelope sender for the mail/rcpt/data/body phases (default <>)")
	fs.StringVar(&opt.To, "to", "", "envelope recipient (default: postmaster@DOMAIN)")
	fs.BoolVar(&opt.StartTLS, "starttls", false, "run STARTTLS first")
	fs.DurationVar(&pauseBefore, "pause-before-data", 0, "a sender pause to compare with the rcpt timeout")
	fs.DurationVar(&pauseAfter, "pause-after-data", 0, "a sender pause to compare with the data timeout")
	fs.DurationVar(&chunkPause, "chunk-pause", 0, "a sender pause to compare with the body timeout")
	if err := parseFlags(fs, args, stdout, "smtpprobe timeout TARGET[:PORT] [--phase PHASE] [flags]"); err != nil {
		return 0, err
	}
	if err := cf.validate(); err != nil {
		return 0, err
	}
	if fs.NArg() != 1 {
		return 0, usagef("timeout: want exactly one TARGET (domain, host or IP, optional :PORT), got %d arguments", fs.NArg())
	}
	phases := []string{*phase}
	switch {
	case *phase == "all":
		phases = probe.TimeoutPhases
	case !probe.IsPhase(*phase):
		return 0, usagef("--phase %q: want one of %s or all", *phase, strings.Join(probe.TimeoutPhases, ", "))
	}
	if opt.MaxWait <= 0 {
		return 0, usagef("--max-wait %s: want a positive duration such as 10m", opt.MaxWait)
	}
	if err := nonNegative(map[string]time.Duration{"chunk-pause": chunkPause,
		"pause-before-data": pauseBefore, "pause-after-data": pauseAfter}); err != nil {
		return 0, err
	}
	opt.Pauses = map[string]time.Duration{}
	for name, d := range map[string]time.Duration{"pause-before-data": pauseBefore, "pause-after-data": pauseAfter, "chunk-pause": chunkPause} {
		if d > 0 {
			opt.Pauses[name] = d
		}
	}
	if err := validPath("from", opt.From); err != nil {
		return 0, err
	}
	if err := validPath("to", opt.To); err != nil {
		return 0, err
	}
	host, port, err := parseTarget("timeout", fs.Arg(0))
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
	progress := newProgress(stderr, fmt.Sprintf("timeout: waiting up to %s for the server to hang up", opt.MaxWait))
	defer progress.stop()
	rep, err := p.Run(ctx, res, "timeout", host, probe.RunOptions{Port: port, Family: cf.family(), Parallel: cf.parallel, NoPTR: true},
		func(ctx context.Context, t probe.Target) []probe.Result {
			return p.TimeoutAll(ctx, t, phases, opt)
		})
	progress.stop()
	if err := runError("timeout", err); err != nil {
		return 0, err
	}
	return emit(rep, &cf, stdout)
}
