package probe

import (
	"context"

	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// The mtu kind's probe sessions hedge their connects (wire.Hedge): a run
// opens about a hundred short sessions in rounds that wait for their
// slowest, and a lost SYN or SYN-ACK would cost one of them the kernel's
// 1 s initial retransmission timeout (RFC 6298 §2.1). The other kinds
// (mx, session, timeout) keep one SYN per session: its timing is what
// they report (4.4.1's connect timeout and the connect phase).

// hedgeKey carries a run's wire.Hedge in its context.
type hedgeKey struct{}

// withHedge gives the mtu run of ctx its hedge, shared by all its probe
// sessions, so that the delay is learnt from the run's own handshakes.
func withHedge(ctx context.Context) context.Context {
	return context.WithValue(ctx, hedgeKey{}, &wire.Hedge{})
}

// hedgeOf is the hedge of ctx's mtu run, or nil.
func hedgeOf(ctx context.Context) *wire.Hedge {
	h, _ := ctx.Value(hedgeKey{}).(*wire.Hedge)
	return h
}
