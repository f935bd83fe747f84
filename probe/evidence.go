package probe

// The judging half of the TCP evidence (issue 8): the dialogue turns a
// *wire.StallError into a verdict and its finding, and confirms an inbound
// stall with one retry. The sampling of TCP_INFO is the connection's, in
// package wire (wire/evidence.go).

import (
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// reverseProbePacket is the IP packet size the confirmation retry of an
// inbound stall asks the server to stay within: the IPv6 minimum link MTU
// (RFC 8200 §5), which nearly every IPv4 path carries too.
const reverseProbePacket = 1280

// watchStalls reports whether sessions of p end a stalled STARTTLS
// handshake or write early on TCP evidence. Not for a prober with its own
// socket options (Control): the mtu probes clamp the MSS on purpose and
// decide a stall with their own TCP_INFO watch, which this must not
// preempt.
func (p *Prober) watchStalls() bool { return p.Control == nil }

// ---------------------------------------------------------------- verdicts in the dialogue

// explainStall turns a failed STARTTLS into a verdict from the TCP
// evidence: an outbound black hole as is, an inbound stall after the
// confirmation retry. It adds the finding and returns the error to
// classify.
func (d *dialogue) explainStall(err error) error {
	var se *wire.StallError
	if !errors.As(err, &se) {
		return err
	}
	if se.Direction == wire.Inbound {
		d.confirmReverse(se)
	}
	d.stallFinding(se)
	return err
}

// confirmReverse retries the handshake once on a new connection whose SYN
// advertises a smaller MSS, so that the server's segments fit a 1280-byte
// packet. If it completes, the server's full-size segments were lost.
func (d *dialogue) confirmReverse(se *wire.StallError) {
	se.ClampMSS = mtu.ClampForPacket(reverseProbePacket, se.V6)
	if se.AdvMSS > 0 && se.ClampMSS >= se.AdvMSS {
		se.ClampMSS = se.AdvMSS / 2 // a path already below 1280
	}
	// The prober's own dial (its allowlist, limits and clock), with the
	// clamp; this prober has no Control of its own (watchStalls).
	q := *d.p
	q.Control = mtu.Control(se.ClampMSS)
	start := d.c.Since()
	c, err := q.Dial(d.ctx, d.t.Addr)
	if err != nil {
		se.RetryErr = err
		return
	}
	defer c.Close()
	c.WatchStalls(true) // a retry that stalls too ends early
	err = func() error {
		if err := d.retryGreet(c); err != nil {
			return err
		}
		cfg := d.p.tlsConfig(d.t, &Result{})
		rp, st, err := c.StartTLS(d.ctx, d.rt, cfg)
		switch {
		case err != nil:
			return err
		case st == nil:
			return fmt.Errorf("STARTTLS: %s", rp.String())
		}
		_, _ = c.Cmd(d.ctx, d.rt, "QUIT")
		return nil
	}()
	if err != nil {
		se.RetryErr = err
		d.c.Event(wire.EvTCP, fmt.Sprintf("retry with MSS %d: %v", se.ClampMSS, err))
		return
	}
	se.Confirmed = true
	if sc, ok := c.Raw().(syscall.Conn); ok {
		if i, err := mtu.TCPInfo(sc); err == nil && i.RcvMSS > 0 {
			se.Info.RcvMSS = i.RcvMSS
		}
	}
	d.c.Event(wire.EvTCP, fmt.Sprintf("retry with MSS %d: the TLS handshake completed in %s (new connection)", se.ClampMSS, fmtDur(d.c.Since()-start)))
}

// noteStall adds the finding of a *StallError inside err, once.
func (d *dialogue) noteStall(err error) {
	var se *wire.StallError
	if errors.As(err, &se) {
		d.stallFinding(se)
	}
}

// stallFinding adds the finding that says what stalled and what to do,
// once per stall.
func (d *dialogue) stallFinding(se *wire.StallError) {
	if slices.Contains(d.noted, se) {
		return
	}
	d.noted = append(d.noted, se)
	w := who(d.t, d.r.Address)
	icmp := "ICMP type 3 code 4 (fragmentation needed)"
	if se.V6 {
		icmp = "ICMPv6 type 2 (packet too big)"
	}
	switch {
	case se.Direction == wire.Outbound && se.Blackhole():
		d.r.Findings = append(d.r.Findings, Finding{Severity: SevCritical, Code: dnscheck.CodePMTUBlackhole, Message: fmt.Sprintf(
			"%s: PMTU black hole toward the server (client-to-server): %s (%d bytes, %d segments of snd_mss %d) was retransmitted %d times without an acknowledgement for %s, while smaller segments were acknowledged: %d-byte packets vanish, the largest acknowledged was %d bytes, and no %s came back (path MTU still %d); bracket it with smtpprobe mtu %s, and let %s through to this host or lower the MTU on the path",
			w, se.Write, se.Bytes, se.Segments, se.Info.SndMSS, se.Retransmits, fmtDur(se.After), se.LostPacket, se.AckedPacket, icmp, se.PMTU, d.r.Address, icmp)})
	case se.Direction == wire.Outbound:
		d.r.Findings = append(d.r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeSegmentsLost, Message: fmt.Sprintf(
			"%s: %s (%d bytes) was retransmitted %d times without an acknowledgement for %s; segments as large had been acknowledged before, so this is loss rather than a PMTU black hole",
			w, se.Write, se.Bytes, se.Retransmits, fmtDur(se.After))})
	case se.Confirmed:
		d.r.Findings = append(d.r.Findings, Finding{Severity: SevCritical, Code: dnscheck.CodeReversePMTUBlackhole, Message: fmt.Sprintf(
			"%s: PMTU black hole toward this host (server-to-client): our ClientHello was acknowledged but the server's TLS flight never completed (%s arrived out of order, none in order for %s); a new connection advertising MSS %d instead of %d completed the handshake (rcv_mss %d), so the server's full-size %d-byte packets vanish on the way here and the %s that would tell the server is dropped on the path; bracket it with smtpprobe mtu %s in the inbound direction, and let %s through toward the server or clamp the MSS on the path",
			w, units.Count(se.OutOfOrder, "segment"), fmtDur(se.After), se.ClampMSS, se.AdvMSS, se.Info.RcvMSS, se.LostPacket, icmp, d.r.Address, icmp)})
	default:
		d.r.Findings = append(d.r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeServerFlightStalled, Message: fmt.Sprintf(
			"%s: the server's TLS flight stalled (%s arrived out of order, none in order for %s) and a retry advertising MSS %d failed too (%v); not a reverse PMTU black hole as far as this shows",
			w, units.Count(se.OutOfOrder, "segment"), fmtDur(se.After), se.ClampMSS, se.RetryErr)})
	}
}

// bodyStall turns the body's lost segments (a *wire.LostError from Conn.WaitAcked)
// into a black-hole verdict when smaller segments of the session were
// acknowledged, with the finding. Other errors are returned as they are.
func (d *dialogue) bodyStall(err error, start time.Duration) error {
	var le *wire.LostError
	if !errors.As(err, &le) {
		return err
	}
	se, serr := d.c.OutboundStall("body", "the message body", d.r.BytesWritten)
	if serr != nil {
		return err
	}
	se.After = d.c.Since() - start
	if !se.Blackhole() {
		return err // the existing body-segments-lost story applies
	}
	d.c.Event(wire.EvTCP, se.Error())
	d.stallFinding(se)
	return se
}
