package probe

import (
	"time"

	"github.com/smtpprobe/smtpprobe/probe/mta"
)

// Server is the receiving server's software as recognised from evidence
// (JSON "server"; package mta).
type Server = mta.Server

// identify recognises the dialogue's server from its timeline so far.
func (d *dialogue) identify() Server {
	return mta.Identify(mta.EvidenceOf(d.c.Timeline()))
}

// identifyClose is identify with the close of an idle session: a bare
// FIN after idle.
func (d *dialogue) identifyClose(fin bool, idle time.Duration) Server {
	ev := mta.EvidenceOf(d.c.Timeline())
	if fin {
		ev.FINAfter = idle
	}
	return mta.Identify(ev)
}
