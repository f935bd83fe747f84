package probe

// The ClientHello: which key shares it offers, and what the path does with
// it (issue 18, item 5).
//
// Go 1.24 and later (like OpenSSL 3.5) offer an X25519MLKEM768 key share by
// default (draft-ietf-tls-ecdhe-mlkem), so the ClientHello is about 1.5 KB
// and takes two TCP segments. Some firewalls that inspect TLS drop or hang
// such hellos whatever the path MTU (openssl/openssl#27557, sendmail with
// OpenSSL 3.5 hanging at STARTTLS; AWS Network Firewall with Suricata 6,
// hashicorp/terraform-provider-aws#39432; tldr.fail). On the wire that looks
// like a PMTU black hole: our full-size segment is retransmitted and never
// acknowledged while smaller ones were. When a hello larger than a segment
// stalls so, two retries on new connections tell the two apart:
//
//  1. full-size segments that do not begin a ClientHello, after STARTTLS's
//     220 (the start of a TLS record that is never completed; no
//     handshake, the session is reset): a black hole swallows them
//     whatever they carry, a middlebox lets them through;
//  2. a hello, on a connection whose SYN advertises an MSS for 1280-byte
//     packets, so that the server's TLS flight draws no ICMP and the server
//     learns no path MTU that would hide the black hole from the next run:
//     when the full-size segments vanished, the same hello written in two
//     halves below the size that stalled (TCP_NODELAY makes each its own
//     segment; TCP_INFO counts them), which a black hole carries; when they
//     passed, a classical hello (an X25519 key share only, about 300
//     bytes), the workaround a middlebox leaves.
//
// The full-size segments decide: lost, pmtu-blackhole; acknowledged while
// the whole hello was not, and the classical hello completes,
// tls-middlebox. Either way the MX's TLS is evaluated over the second
// retry's handshake. The decision is the pure function helloVerdict. (The
// lab's middlebox judges single segments, so the halves of a split hello
// pass it too; a middlebox that reassembles the hello would stop them, so
// the halves cannot tell a middlebox from a black hole, and the full-size
// segments that carry no hello do.)

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// OptionTLSGroups is the Finding.Option of the key-share choice.
const OptionTLSGroups = "tls_groups"

// helloRecord returns the attempt record of the hello h wrote, with the
// key shares parsed.
func helloRecord(h *wire.HelloConn, kind string) HelloAttempt {
	hello, writes, segs := h.Hello()
	a := HelloAttempt{Kind: kind, Bytes: len(hello), Writes: writes, Segments: segs}
	if names, err := wire.ParseHello(hello); err == nil {
		a.KeyShare = names
	}
	return a
}

// ---------------------------------------------------------------- what the retries showed

// HelloAttempt is one ClientHello sent in a STARTTLS handshake.
type HelloAttempt struct {
	// Kind is "whole" (one write, as the TLS stack wrote it), "split"
	// (the same hello in two writes) or "classical" (an X25519 key share
	// only).
	Kind string `json:"kind"`
	// KeyShare names the groups whose key shares it offered.
	KeyShare []string `json:"key_share"`
	Bytes    int      `json:"bytes"`  // the ClientHello record's size
	Writes   []int    `json:"writes"` // the bytes of each write
	// Segments is the data segments TCP_INFO counted for its first
	// transmission: one per write when the parts were kept apart.
	Segments int `json:"segments"`
	// AdvMSS is the MSS our SYN advertised when it was clamped, so that
	// the server's flight stayed small; 0 when not.
	AdvMSS int    `json:"adv_mss,omitempty"`
	Passed bool   `json:"passed"` // the handshake completed
	Error  string `json:"error,omitempty"`
	// MS is how long its handshake took, or ran before it was judged
	// stalled, in milliseconds.
	MS float64 `json:"ms"`
}

// SegmentCheck is the full-size segments, not the start of a ClientHello,
// sent after STARTTLS's 220 to test whether the path carries their size.
type SegmentCheck struct {
	Packet      int     `json:"packet"`   // their IP packet size
	Segments    int     `json:"segments"` // how many were written
	Passed      bool    `json:"passed"`   // acknowledged
	Retransmits int     `json:"retransmits"`
	MS          float64 `json:"ms"` // from the write to the verdict
	Error       string  `json:"error,omitempty"`
}

// HelloStall is what the retries after a stalled ClientHello showed (JSON
// "tls.hello_stall").
type HelloStall struct {
	Hello HelloAttempt `json:"hello"` // the one that stalled
	// LostPacket is the IP packet size of the hello's segment that
	// vanished.
	LostPacket int `json:"lost_packet"`
	// FullSegment is the first retry: full-size segments that do not
	// begin a ClientHello.
	FullSegment *SegmentCheck `json:"full_segment,omitempty"`
	// Retry is the second: a hello, split in two writes when the
	// full-size segments vanished, classical when they passed.
	Retry *HelloAttempt `json:"retry,omitempty"`
	// Verdict is tls-middlebox, pmtu-blackhole or tls-error; "" when
	// the retries could not tell.
	Verdict Outcome `json:"verdict,omitempty"`
}

// helloEvidence is what helloVerdict decides from.
type helloEvidence struct {
	// Full is the full-size segments' fate: mtu.Delivered, mtu.Lost, or
	// mtu.Unknown when the check failed.
	Full mtu.Verdict
	// Passed is whether the second retry's hello completed the handshake.
	Passed bool
}

// helloVerdict decides a stalled large ClientHello from the retries:
//
//   - full-size segments that carry no hello vanish too: the path loses
//     the size whatever it carries, a PMTU black hole (the split hello,
//     below that size, normally passes, and carries the TLS evaluation);
//   - they are acknowledged, and the classical hello completes: the
//     whole hello was dropped for what it is, a middlebox;
//   - they are acknowledged, and the classical hello fails too: not the
//     path's size, but no middlebox shown either: a TLS failure;
//
// and "" when the full-size check itself failed.
func helloVerdict(e helloEvidence) Outcome {
	switch {
	case e.Full == mtu.Lost:
		return PMTUBlackhole
	case e.Full == mtu.Delivered && e.Passed:
		return TLSMiddlebox
	case e.Full == mtu.Delivered:
		return TLSError
	}
	return ""
}

// ---------------------------------------------------------------- the retries

// fullSegments is how many full-size segments the check writes: two, so
// that one acknowledged (cumulatively or by SACK) proves the size.
const fullSegments = 2

// fullSegmentRetry is the first retry: a new connection (as the prober
// dials, unclamped), greeting, EHLO, STARTTLS, then fullSegments
// full-size segments of wire.RecordStart, watched through TCP_INFO until one
// is acknowledged or they are lost; the session is reset after. No
// handshake happens, so the server sends no flight and learns nothing
// about the path (a server that learned a smaller path MTU from ICMP
// would advertise a smaller MSS to the next sessions and hide the black
// hole from them).
func (d *dialogue) fullSegmentRetry() (*SegmentCheck, mtu.Verdict) {
	chk := &SegmentCheck{Segments: fullSegments}
	c, err := d.p.Dial(d.ctx, d.t.Addr)
	if err != nil {
		chk.Error = err.Error()
		return chk, mtu.Unknown
	}
	defer func() {
		c.Abort() // the server is owed the rest of a record; it never comes
		c.Close()
	}()
	if err := d.retryGreet(c); err != nil {
		chk.Error = err.Error()
		return chk, mtu.Unknown
	}
	if rp, err := c.Cmd(d.ctx, d.rt, "STARTTLS"); err != nil {
		chk.Error = err.Error()
		return chk, mtu.Unknown
	} else if rp.Code != 220 {
		chk.Error = "STARTTLS: " + rp.String()
		return chk, mtu.Unknown
	}
	sc, ok := c.Raw().(syscall.Conn)
	if !ok {
		chk.Error = errors.ErrUnsupported.Error()
		return chk, mtu.Unknown
	}
	before, err := mtu.TCPInfo(sc)
	if err != nil {
		chk.Error = err.Error()
		return chk, mtu.Unknown
	}
	chk.Packet = mtu.PacketSize(before, d.t.Addr.Addr().Unmap().Is6())
	wait := min(d.rt, mtu.DefaultMaxWait)
	payload := wire.RecordStart(fullSegments * before.SndMSS)
	_ = c.Raw().SetWriteDeadline(time.Now().Add(wait))
	wrote := time.Now()
	if _, err := c.Raw().Write(payload); err != nil {
		chk.Error = err.Error()
		return chk, mtu.Unknown
	}
	v, after, err := mtu.Watch(d.ctx, sc, before.BytesAcked+uint64(len(payload)),
		mtu.WatchOptions{AnyProgress: true, AckedBefore: before.BytesAcked, MaxWait: wait})
	chk.MS = units.MS(time.Since(wrote))
	chk.Retransmits = after.TotalRetrans - before.TotalRetrans
	switch {
	case err != nil:
		chk.Error = err.Error()
		return chk, mtu.Unknown
	case v == mtu.TimedOut:
		chk.Error = "neither acknowledged nor retransmitted within " + fmtDur(wait)
		return chk, mtu.Unknown
	}
	chk.Passed = v == mtu.Delivered
	return chk, v
}

// retryGreet reads a retry session's greeting and says EHLO.
func (d *dialogue) retryGreet(c *wire.Conn) error {
	if rp, err := c.ReadReply(d.ctx, d.rt); err != nil {
		return err
	} else if rp.Code != 220 {
		return fmt.Errorf("greeting %s", rp.String())
	}
	if rp, err := c.Cmd(d.ctx, d.rt, "EHLO "+d.name); err != nil {
		return err
	} else if !rp.OK() {
		return fmt.Errorf("EHLO: %s", rp.String())
	}
	return nil
}

// helloRetry is what the second retry gave.
type helloRetry struct {
	attempt HelloAttempt
	tls     *TLSInfo // the handshake's TLS, when it completed
	st      *tls.ConnectionState
	caps    []string // EHLO after TLS
}

// helloRetry is the second retry: a new connection whose SYN advertises
// an MSS that keeps the server's segments within 1280 bytes (so that its
// TLS flight draws no ICMP and the server learns nothing about the path),
// greeting, EHLO, STARTTLS with cfg (the hello written in two parts when
// split > 0), EHLO again, QUIT. Our own segments are clamped alike, which
// the halves of a split hello and a classical hello fit.
func (d *dialogue) helloRetry(kind string, cfg *tls.Config, split int) helloRetry {
	res := helloRetry{attempt: HelloAttempt{Kind: kind}}
	v6 := d.t.Addr.Addr().Unmap().Is6()
	q := *d.p // the prober's own dial (allowlist, clock); no Control of its own (watchStalls)
	clamp := mtu.ClampForPacket(reverseProbePacket, v6)
	q.Control = mtu.Control(clamp)
	c, err := q.Dial(d.ctx, d.t.Addr)
	if err != nil {
		res.attempt.Error = err.Error()
		return res
	}
	defer func() {
		c.Abort()
		c.Close()
	}()
	c.WatchStalls(true) // a retry that stalls ends early too
	h := wire.NewHelloConn(c.Raw(), split)
	c.WrapTLS = h.Wrap
	var (
		start time.Duration
		st    *tls.ConnectionState
	)
	err = d.retryGreet(c)
	if err == nil {
		start = c.Since()
		var rp wire.Reply
		rp, st, err = c.StartTLS(d.ctx, d.rt, cfg)
		if err == nil && st == nil {
			err = fmt.Errorf("STARTTLS: %s", rp.String())
		}
	}
	res.attempt = helloRecord(h, kind)
	res.attempt.AdvMSS = clamp
	if start > 0 {
		res.attempt.MS = units.MS(c.Since() - start)
	}
	if err != nil {
		res.attempt.Error = err.Error()
		return res
	}
	res.attempt.Passed = true
	res.st = st
	scratch := Result{}
	d.p.tlsConfig(d.t, &scratch) // a fresh TLSInfo
	d.p.verifyTLS(d.t, &scratch, st)
	res.tls = scratch.TLS
	res.tls.noteHello(res.attempt, st)
	if rp, err := c.Cmd(d.ctx, d.rt, "EHLO "+d.name); err == nil && rp.OK() {
		res.caps = rp.Keywords()
	}
	_, _ = c.Cmd(d.ctx, min(d.rt, quitTimeout), "QUIT")
	return res
}

// noteHello records in t what the hello of a completed handshake offered
// and what was negotiated.
func (t *TLSInfo) noteHello(a HelloAttempt, st *tls.ConnectionState) {
	t.KeyShare, t.HelloBytes = a.KeyShare, a.Bytes
	if st != nil {
		t.Group = wire.GroupName(st.CurveID)
	}
}

// diagnoseHello runs the retries after a STARTTLS whose large ClientHello
// stalled outbound (a *StallError in err that the TCP evidence alone
// would call a black hole), records what they showed and the verdict in
// the result, and reports whether it did. A hello that fits one segment,
// and every other failure, is left to explainStall.
//
// The first retry sends full-size segments that begin no ClientHello; the
// second a hello on a connection clamped as helloRetry says: the same one
// split in two halves below the size that stalled when the full-size
// segments vanished (a black hole carries the halves), a classical one
// when they passed (the workaround a middlebox leaves). The MX's TLS is
// evaluated over the second retry's handshake.
func (d *dialogue) diagnoseHello(err error, h *wire.HelloConn) bool {
	var se *wire.StallError
	if !errors.As(err, &se) || se.Direction != wire.Outbound || !se.Blackhole() {
		return false
	}
	whole := helloRecord(h, "whole")
	if mss := se.Info.SndMSS; mss <= 0 || whole.Bytes <= mss {
		return false // nothing larger than a segment to split or shrink
	}
	r := d.r
	whole.Error = "stalled"
	whole.MS = units.MS(se.After)
	diag := &HelloStall{Hello: whole, LostPacket: se.LostPacket}

	full, fullV := d.fullSegmentRetry()
	diag.FullSegment = full
	d.c.Event(wire.EvTCP, "retry: "+fullOutcome(full))
	cfg := d.p.tlsConfig(d.t, &Result{})
	var retry helloRetry
	if fullV == mtu.Lost {
		retry = d.helloRetry("split", cfg, whole.Bytes/2)
	} else {
		cl := cfg.Clone()
		cl.CurvePreferences = wire.TLSGroupsClassical.Curves()
		retry = d.helloRetry("classical", cl, 0)
	}
	diag.Retry = &retry.attempt
	d.c.Event(wire.EvTCP, retryText(retry.attempt))
	diag.Verdict = helloVerdict(helloEvidence{Full: fullV, Passed: retry.attempt.Passed})

	if retry.tls != nil { // the MX's TLS, over the hello that passed
		r.TLS = retry.tls
		if len(retry.caps) > 0 {
			r.Capabilities = retry.caps
		}
		d.p.tlsFindings(d.t, r, retry.st)
	} else {
		r.TLS.KeyShare, r.TLS.HelloBytes = whole.KeyShare, whole.Bytes
	}
	r.TLS.HelloStall = diag
	w := who(d.t, r.Address)
	switch diag.Verdict {
	case TLSMiddlebox:
		d.noted = append(d.noted, se) // not a black hole: no finding of its own
		r.setFailureIn("starttls", TLSMiddlebox, "starttls: "+middleboxError(diag))
		r.Findings = append(r.Findings, middleboxFinding(w, diag, se))
	case TLSError:
		d.noted = append(d.noted, se)
		msg := fmt.Sprintf("the ClientHello (%d bytes) stalled, but %s, so the path carries the size; %s",
			whole.Bytes, fullOutcome(full), retryText(retry.attempt))
		r.setFailureIn("starttls", TLSError, "starttls: "+msg)
		r.Findings = append(r.Findings, Finding{Severity: SevWarning, Code: dnscheck.CodeTLSHelloStalled, Message: w + ": " + msg})
	default:
		d.explainStall(err)
		r.setFailureIn("starttls", Classify(err), "starttls: "+err.Error())
		if retry.tls != nil {
			r.Findings = append(r.Findings, Finding{Severity: SevInfo, Code: dnscheck.CodeTLSEvaluatedOnRetry, Message: fmt.Sprintf(
				"%s: the TLS above was evaluated over a new connection, where %s completed the handshake; before it, %s",
				w, attemptText(retry.attempt), fullOutcome(full))})
		}
	}
	return true
}

// retryText is the timeline's line for a hello retry.
func retryText(a HelloAttempt) string {
	s := "retry: " + attemptText(a)
	if a.AdvMSS > 0 {
		s += fmt.Sprintf(", advertising MSS %d", a.AdvMSS)
	}
	if a.Passed {
		return s + fmt.Sprintf(": the TLS handshake completed in %s (new connection)", msDur(a.MS))
	}
	return s + ": " + a.Error
}

// attemptText describes a hello: "the same ClientHello (1511 bytes, key
// share X25519MLKEM768, x25519) in two writes of 755 and 756 bytes (2
// segments)".
func attemptText(a HelloAttempt) string {
	what := "the same ClientHello"
	if a.Kind == "classical" {
		what = "a classical ClientHello"
	}
	s := fmt.Sprintf("%s (%d bytes, key share %s)", what, a.Bytes, strings.Join(a.KeyShare, ", "))
	if len(a.Writes) == 2 {
		s += fmt.Sprintf(" in two writes of %d and %d bytes (%s)", a.Writes[0], a.Writes[1], units.Count(a.Segments, "segment"))
	}
	return s
}

// fullOutcome says what became of the full-size segments.
func fullOutcome(f *SegmentCheck) string {
	switch {
	case f.Passed:
		return fmt.Sprintf("%d full-size %d-byte segments that do not begin a ClientHello were acknowledged (%s, %d retransmits)", f.Segments, f.Packet, msDur(f.MS), f.Retransmits)
	case f.Error != "" && f.Packet == 0:
		return "full-size segments could not be sent: " + f.Error
	case f.Error != "":
		return fmt.Sprintf("%d full-size %d-byte segments that do not begin a ClientHello were not judged: %s", f.Segments, f.Packet, f.Error)
	}
	return fmt.Sprintf("%d full-size %d-byte segments that do not begin a ClientHello vanished too (%d retransmits in %s)", f.Segments, f.Packet, f.Retransmits, msDur(f.MS))
}

// middleboxError is the result's one-line error for tls-middlebox.
func middleboxError(s *HelloStall) string {
	return fmt.Sprintf("the ClientHello (%d bytes, key share %s) vanished on the path while full-size %d-byte segments that do not begin a ClientHello were acknowledged and a classical hello (%d bytes) completed the handshake: a middlebox drops large ClientHellos",
		s.Hello.Bytes, strings.Join(s.Hello.KeyShare, ", "), s.FullSegment.Packet, s.Retry.Bytes)
}

// middleboxFinding says what drops the hello, how it was told from a black
// hole, and what to do.
func middleboxFinding(w string, s *HelloStall, se *wire.StallError) Finding {
	return Finding{Severity: SevCritical, Code: dnscheck.CodeTLSMiddlebox, Option: OptionTLSGroups, Message: fmt.Sprintf(
		"%s: a middlebox on the path drops the TLS ClientHello with a post-quantum key share (%s; %d bytes, %s): its %d-byte segment was retransmitted %d times without an acknowledgement, "+
			"while on new connections full-size %d-byte segments that do not begin a ClientHello were acknowledged (not a PMTU black hole: the path carries the size) and a classical hello (key share %s, %d bytes) completed the handshake. "+
			"Senders whose TLS offers such a key share by default (OpenSSL 3.5, Go 1.24 and later) stall at STARTTLS here (openssl/openssl#27557; AWS Network Firewall with Suricata 6, hashicorp/terraform-provider-aws#39432; tldr.fail). "+
			"Fix or update the firewall's TLS inspection so that it accepts ClientHellos that span segments; as a workaround, senders can offer a classical key share",
		w, strings.Join(s.Hello.KeyShare, ", "), s.Hello.Bytes, units.Count(se.Segments, "segment"), se.LostPacket, se.Retransmits,
		s.FullSegment.Packet, strings.Join(s.Retry.KeyShare, ", "), s.Retry.Bytes)}
}

// msDur spells a duration measured in milliseconds the one way people
// read durations (units.Duration).
func msDur(ms float64) string { return units.Duration(time.Duration(ms * float64(time.Millisecond))) }
