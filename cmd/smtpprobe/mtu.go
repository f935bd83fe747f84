package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	helptext "github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
)

func init() { kindCommands["mtu"] = runMTU }

// runMTU implements `smtpprobe mtu TARGET`.
func runMTU(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	j := job.New("mtu")
	of, fs, err := parseCommand(j, args, stdout, "smtpprobe mtu TARGET[:PORT] [flags]", func(fs *pflag.FlagSet) {
		// Here --parallel is the sessions per round of the bracketing.
		if f := fs.Lookup("parallel"); f != nil {
			f.Usage = "probe sessions per round (addresses are probed one after another)"
		}
		fs.IntVar(&j.MTU.Min, "min", 0, "smallest IP packet size to try (default 576 for IPv4, 1280 for IPv6)")
		fs.IntVar(&j.MTU.Max, "max", 0, "largest IP packet size to try (default: the outgoing interface's MTU)")
		fs.StringVar(&j.MTU.From, "from", "", "envelope sender (default <>)")
		fs.StringVar(&j.MTU.To, "to", "", "envelope recipient (default: postmaster@DOMAIN)")
		fs.StringVar(&j.MTU.Direction, "direction", probe.DirectionBoth, "out (client to server), in (server to client, through the MSS we advertise and the server's STARTTLS flight) or both")
		helptext.EnumValues(fs, "direction", probe.DirectionOut, probe.DirectionIn, probe.DirectionBoth)
	})
	if err != nil {
		return 0, err
	}
	// 0 means "the default" only when the flag is not given.
	for _, name := range []string{"min", "max"} {
		if v, _ := fs.GetInt(name); fs.Changed(name) && v == 0 {
			return 0, usagef("--%s 0: want an IP packet size from %d to %d", name, mtu.MinIPv4, mtu.MaxIP)
		}
	}
	return runJob(ctx, j, of, stdout, stderr)
}
