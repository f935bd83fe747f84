package main

import (
	"strings"

	"github.com/spf13/pflag"

	helptext "github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// registerTLSGroups binds --tls-groups, the ClientHello's key shares, for
// the commands that run STARTTLS (mx, session, timeout).
func registerTLSGroups(fs *pflag.FlagSet, j *job.Job) {
	fs.StringVar(&j.TLSGroups, "tls-groups", "", "key shares of the TLS ClientHello: "+strings.Join(wire.TLSGroupsChoices, ", ")+
		" (default: the TLS stack's, X25519MLKEM768 with Go 1.24+, a hello of about 1.5 KB); classical offers X25519 only (about 300 bytes)")
	helptext.EnumValues(fs, "tls-groups", wire.TLSGroupsChoices...)
}
