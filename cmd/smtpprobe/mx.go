package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
)

func init() { kindCommands["mx"] = runMX }

// runMX implements `smtpprobe mx DOMAIN[:PORT]`.
func runMX(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	j := job.New("mx")
	of, _, err := parseCommand(j, args, stdout, "smtpprobe mx DOMAIN[:PORT] [flags]", func(fs *pflag.FlagSet) {
		fs.BoolVar(&j.NoStartTLS, "no-starttls", false, "do not try STARTTLS even when offered")
		fs.BoolVar(&j.NoPTR, "no-ptr", false, "skip reverse DNS (PTR, forward-confirmed) checks")
		fs.BoolVar(&j.NoPolicy, "no-policy", false, "skip the MTA-STS, TLS-RPT and DANE lookups (judge TLS as opportunistic)")
		registerTLSGroups(fs, j)
	})
	if err != nil {
		return 0, err
	}
	return runJob(ctx, j, of, stdout, stderr)
}
