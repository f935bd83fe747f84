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

func init() { kindCommands["timeout"] = runTimeout }

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
		fs.BoolVar(&j.Timeout.RetryDeferral, "retry-deferral", false, "reconnect once when postscreen defers the new client (450 4.3.2) and report both sessions")
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
