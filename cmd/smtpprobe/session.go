package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
)

func init() { kindCommands["session"] = runSession }

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
		fs.BoolVar(&o.RetryDeferral, "retry-deferral", false, "reconnect once when postscreen defers the new client (450 4.3.2) and report both sessions")
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
