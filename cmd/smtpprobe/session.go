package main

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	helptext "github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/probe"
)

// runSession implements `smtpprobe session TARGET`.
func runSession(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	j := job.New("session")
	o := &j.Session
	of, fs, err := parseCommand(j, args, stdout, "smtpprobe session TARGET[:PORT] [flags]", func(fs *pflag.FlagSet) {
		fs.StringVar(&o.From, "from", "", "envelope sender (default: the null sender <>)")
		fs.StringArrayVar(&o.To, "to", nil, "envelope recipient, repeatable (default: postmaster@DOMAIN, RFC 5321 §4.5.1)")
		fs.IntVar(&o.Size, "size", o.Size, "message bytes, generated with realistic headers")
		fs.IntVar(&o.ChunkSize, "chunk-size", 0, "send the body in chunks of this many bytes (default: all at once)")
		fs.DurationVar(&o.ChunkPause, "chunk-pause", 0, "pause between body chunks")
		fs.DurationVar(&o.PauseBeforeData, "pause-before-data", 0, "pause after the RCPT reply, before DATA")
		fs.DurationVar(&o.PauseAfterData, "pause-after-data", 0, "pause after the 354 reply, before the body")
		fs.BoolVar(&o.Pipelining, "pipelining", false, "send MAIL, RCPT and DATA in one write when PIPELINING is offered (RFC 2920)")
		fs.BoolVar(&o.BDAT, "bdat", false, "send the body with BDAT chunks (RFC 3030; needs CHUNKING)")
		fs.BoolVar(&o.StartTLS, "starttls", false, "run STARTTLS before the transaction")
		registerTLSGroups(fs, j)
		fs.BoolVar(&o.Deliver, "deliver", false, "send the final dot so the message is really delivered (default: abort, nothing is delivered)")
	})
	if err != nil {
		return 0, err
	}
	if fs.Changed("chunk-size") && o.ChunkSize < 1 {
		return 0, usagef("--chunk-size %d: want 1 to %d bytes", o.ChunkSize, job.MaxMessageSize)
	}
	of.timeline = true // the timeline is the point of a session
	return runJob(ctx, j, of, stdout, stderr)
}

// runTimeout implements `smtpprobe timeout TARGET --phase PHASE`.
func runTimeout(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	j := job.New("timeout")
	j.PauseCmp = map[string]time.Duration{}
	var before, after, chunk time.Duration
	of, _, err := parseCommand(j, args, stdout, "smtpprobe timeout TARGET[:PORT] [--phase PHASE] [flags]", func(fs *pflag.FlagSet) {
		fs.StringVar(&j.Phase, "phase", j.Phase, "where to go quiet: "+strings.Join(probe.TimeoutPhases, "|")+"|all")
		helptext.EnumValues(fs, "phase", append(probe.TimeoutPhases[:len(probe.TimeoutPhases):len(probe.TimeoutPhases)], "all")...)
		fs.DurationVar(&j.Timeout.MaxWait, "max-wait", j.Timeout.MaxWait, "longest quiet wait (RFC 5321 §4.5.3.2.7 asks servers for at least 5 min)")
		fs.StringVar(&j.Timeout.From, "from", "", "envelope sender for the mail/rcpt/data/body phases (default <>)")
		fs.StringVar(&j.Timeout.To, "to", "", "envelope recipient (default: postmaster@DOMAIN)")
		fs.BoolVar(&j.Timeout.StartTLS, "starttls", false, "run STARTTLS first")
		registerTLSGroups(fs, j)
		fs.DurationVar(&before, "pause-before-data", 0, "a sender pause to compare with the rcpt timeout")
		fs.DurationVar(&after, "pause-after-data", 0, "a sender pause to compare with the data timeout")
		fs.DurationVar(&chunk, "chunk-pause", 0, "a sender pause to compare with the body timeout")
	})
	if err != nil {
		return 0, err
	}
	j.PauseCmp["pause-before-data"], j.PauseCmp["pause-after-data"], j.PauseCmp["chunk-pause"] = before, after, chunk
	return runJob(ctx, j, of, stdout, stderr)
}
