package probe

import (
	"context"
	"crypto/x509"
	"net/netip"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// DefaultReplyTimeout bounds the wait for each reply. RFC 5321 §4.5.3.2
// lets a server take 5 minutes over its greeting; in practice a delayed
// greeting (postscreen's greet wait, tarpits) stays well under a minute, so
// a probe that waits a minute tells "slow" from "stuck" without hanging.
const DefaultReplyTimeout = 60 * time.Second

// Prober holds the settings of SMTP probes. The zero value is usable.
type Prober struct {
	ConnectTimeout time.Duration // 0 means DefaultConnectTimeout
	ReplyTimeout   time.Duration // per reply; 0 means DefaultReplyTimeout
	// Helo is the EHLO name. Empty means the local host name if it is a
	// fully-qualified domain name, and the local address literal otherwise
	// (RFC 5321 §4.1.1.1).
	Helo       string
	NoStartTLS bool
	// TLSGroups chooses the ClientHello's key shares; "" is the TLS
	// stack's default (tlshello.go).
	TLSGroups wire.TLSGroups
	// RootCAs verifies server certificates; nil means the system pool.
	RootCAs *x509.CertPool
	// Control runs on each socket before connect (see wire.Dialer).
	Control func(network, address string, c syscall.RawConn) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Limiter, if set, bounds the sessions open at once per address.
	Limiter *wire.HostLimiter
	// Hostname returns the local host name; nil means os.Hostname.
	Hostname func() (string, error)
	// Allow, if set, decides which addresses may be probed at all (the
	// exporter's serve.allow). Run checks every resolved address with it
	// before any session starts, and Dial again right before each
	// connect, so a name that resolves elsewhere later (DNS rebinding) or
	// an MX that points elsewhere is never connected to.
	Allow func(netip.AddrPort) error
	// Hedge, if set, hedges each connect (wire.Dialer.Hedge): only the
	// mtu kind's probe sessions set it (mtu_hedge.go).
	Hedge *wire.Hedge
}

func (p *Prober) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Prober) replyTimeout() time.Duration {
	if p.ReplyTimeout > 0 {
		return p.ReplyTimeout
	}
	return DefaultReplyTimeout
}

// DefaultConnectTimeout is Postfix's smtp_connect_timeout.
const DefaultConnectTimeout = wire.DefaultConnectTimeout

// Dial opens a session to addr with the prober's connect settings.
func (p *Prober) Dial(ctx context.Context, addr netip.AddrPort) (*wire.Conn, error) {
	d := wire.Dialer{Timeout: p.ConnectTimeout, Control: p.Control, Now: p.Now, Allow: p.Allow, Hedge: p.Hedge}
	return d.Dial(ctx, addr)
}

// Target is one address to probe.
type Target struct {
	Host       string // exchanger name, host name, or the literal
	Addr       netip.AddrPort
	Preference int // MX preference, or -1 when the target is not an MX
}

// senderPauses are the pauses a sender makes, each with the run option
// that sets it (a Finding.Option: "pause_before_data") and the idle phase
// it falls in.
var senderPauses = map[wire.Pause]struct{ option, phase string }{
	wire.PauseBeforeData: {"pause_before_data", "rcpt"},
	wire.PauseAfterData:  {"pause_after_data", "data"},
	wire.ChunkPause:      {"chunk_pause", "body"},
}

// pauseOption is the run option that sets the pause, as a Finding.Option,
// or "" for a pause no option sets.
func pauseOption(p wire.Pause) string { return senderPauses[p].option }

// pausePhase is the idle phase a sender pause falls in ("" for none).
func pausePhase(p wire.Pause) string { return senderPauses[p].phase }
