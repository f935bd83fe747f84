package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// QuitTimeout bounds the wait for the reply to QUIT. The verdict is in by
// then, so a server that does not answer QUIT costs a couple of seconds,
// not another reply timeout (RFC 5321 §4.1.1.10 asks for 221, but the
// probe does not judge it).
const QuitTimeout = 2 * time.Second

// DefaultReplyTimeout bounds the wait for each reply. RFC 5321 §4.5.3.2
// lets a server take 5 minutes over its greeting; in practice a delayed
// greeting (postscreen's greet wait, tarpits) stays well under a minute, so
// a probe that waits a minute tells "slow" from "stuck" without hanging.
const DefaultReplyTimeout = 60 * time.Second

// DefaultCertWarn is how close to expiry a certificate raises a warning.
const DefaultCertWarn = 14 * 24 * time.Hour

// Prober holds the settings of SMTP probes. The zero value is usable.
type Prober struct {
	ConnectTimeout time.Duration // 0 means DefaultConnectTimeout
	ReplyTimeout   time.Duration // per reply; 0 means DefaultReplyTimeout
	// Helo is the EHLO name. Empty means the local host name if it is a
	// fully-qualified domain name, and the local address literal otherwise
	// (RFC 5321 §4.1.1.1).
	Helo       string
	NoStartTLS bool
	// RootCAs verifies server certificates; nil means the system pool.
	RootCAs  *x509.CertPool
	CertWarn time.Duration // 0 means DefaultCertWarn
	// Control runs on each socket before connect (see Dialer).
	Control func(network, address string, c syscall.RawConn) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Limiter, if set, bounds the sessions open at once per address.
	Limiter *HostLimiter
	// Hostname returns the local host name; nil means os.Hostname.
	Hostname func() (string, error)
	// Allow, if set, decides which addresses may be probed at all (the
	// exporter's serve.allow). Run checks every resolved address with it
	// before any session starts, and Dial again right before each
	// connect, so a name that resolves elsewhere later (DNS rebinding) or
	// an MX that points elsewhere is never connected to.
	Allow func(netip.AddrPort) error
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

// Dial opens a session to addr with the prober's connect settings.
func (p *Prober) Dial(ctx context.Context, addr netip.AddrPort) (*Conn, error) {
	d := Dialer{Timeout: p.ConnectTimeout, Control: p.Control, Now: p.Now, Allow: p.Allow}
	return d.Dial(ctx, addr)
}

// Target is one address to probe.
type Target struct {
	Host       string // exchanger name, host name, or the literal
	Addr       netip.AddrPort
	Preference int // MX preference, or -1 when the target is not an MX
}

// TLSInfo describes a STARTTLS session (RFC 3207).
type TLSInfo struct {
	Version     string    `json:"version"`
	Cipher      string    `json:"cipher"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Names       []string  `json:"names"`
	NotAfter    time.Time `json:"not_after"`
	DaysLeft    int       `json:"days_left"`
	Verified    bool      `json:"verified"`
	VerifyError string    `json:"verify_error,omitempty"`
}

// Result is the outcome of probing one address. A failed probe is a field
// of the result, never an error.
type Result struct {
	Target     string  `json:"target,omitempty"` // in a combined check report
	Module     string  `json:"module,omitempty"` // in a combined check report
	Host       string  `json:"host"`
	Address    string  `json:"address"`
	Port       uint16  `json:"port"`
	Preference *int    `json:"preference,omitempty"`
	Outcome    Outcome `json:"outcome"`
	Error      string  `json:"error,omitempty"` // what went wrong, one line
	// FailedPhase is the phase (a key of Phases: "connect", "banner",
	// "ehlo", "rcpt", "body"...) whose step recorded the failure, when
	// the failure belongs to one; Error then reads "phase: ...", except
	// for "connect", whose Error is the dial error itself. A failure told
	// as the server's own close of an idle or busy session (closed,
	// server-timeout) belongs to no step.
	FailedPhase  string             `json:"failed_phase,omitempty"`
	Phases       map[string]float64 `json:"phases"` // milliseconds
	PhaseOrder   []string           `json:"-"`
	Reply        *Reply             `json:"reply,omitempty"` // the last reply
	Banner       string             `json:"banner,omitempty"`
	Capabilities []string           `json:"capabilities,omitempty"`
	TLS          *TLSInfo           `json:"tls,omitempty"`
	PTR          []string           `json:"ptr,omitempty"`
	FCrDNS       *bool              `json:"fcrdns,omitempty"`
	// Transactions (session).
	MessageBytes  int      `json:"message_bytes,omitempty"`
	BytesWritten  int      `json:"bytes_written,omitempty"`
	Acked         bool     `json:"acked,omitempty"` // every byte acknowledged by the peer's TCP
	QueueID       string   `json:"queue_id,omitempty"`
	IdleTimeoutMS *float64 `json:"idle_timeout_ms,omitempty"` // how long the server waited before it ended the session
	// Idle-timeout discovery (timeout).
	Phase     string   `json:"phase,omitempty"`
	TimeoutMS *float64 `json:"timeout_ms,omitempty"`
	ClosedBy  ClosedBy `json:"closed_by,omitempty"`
	ServerLog string   `json:"server_log,omitempty"` // what Postfix's smtpd logs for it
	// Path MTU (mtu): path_mtu, verdict, bracket... inline.
	*MTUInfo
	TCP      *TCPStats `json:"tcp,omitempty"` // TCP_INFO when the session ended (evidence.go)
	Timeline []Event   `json:"timeline"`
	Findings []Finding `json:"-"`

	// Path sweep (path; a connect-timeout or unreachable elsewhere): locate.go.
	Hops    []Hop    `json:"hops,omitempty"`
	PathEnd *PathEnd `json:"path_end,omitempty"`
	// BlackholeLink is where a forward pmtu-blackhole lies (mtu).
	BlackholeLink *BlackholeLink `json:"blackhole_link,omitempty"`
}

func newResult(t Target) Result {
	r := Result{Host: t.Host, Address: t.Addr.Addr().String(), Port: t.Addr.Port(),
		Outcome: OK, Phases: map[string]float64{}, Timeline: []Event{}}
	if t.Preference >= 0 {
		pref := t.Preference
		r.Preference = &pref
	}
	return r
}

func (r *Result) timePhase(name string, d time.Duration) {
	if _, ok := r.Phases[name]; !ok {
		r.PhaseOrder = append(r.PhaseOrder, name)
	}
	r.Phases[name] = ms(d)
}

// setFailure records the first failure; later ones do not overwrite it.
func (r *Result) setFailure(o Outcome, msg string) {
	r.setFailureIn("", o, msg)
}

// setFailureIn is setFailure for a failure of phase's step: it also
// records the phase in FailedPhase.
func (r *Result) setFailureIn(phase string, o Outcome, msg string) {
	if r.Outcome != OK {
		return
	}
	r.Outcome, r.Error, r.FailedPhase = o, msg, phase
}

// Classify maps an error from Dial or a Conn method to an outcome.
//
// It names only what the wire showed: closed needs a FIN (ErrClosed),
// reset an RST (ErrReset, with its errno). Other socket errors of an
// established connection are classified by their errno: ECONNABORTED is
// a reset, EHOSTUNREACH and ENETUNREACH (an ICMP error for a connection
// in progress) are unreachable, and ETIMEDOUT (the kernel gave up
// retransmitting) is a reply timeout. TLS record errors after STARTTLS
// are tls-error.
//
// context.Canceled and context.DeadlineExceeded are not the peer's doing:
// the run was stopped while the step waited for the peer. The step is
// recorded reply-timeout (it got no answer in the time the run allowed,
// as the exporter reports sessions its scrape deadline cut), and the
// caller tells a cancellation apart by the ctx.Err() that Run, Session
// and the commands return, which they report as UNKNOWN, not as a
// verdict on the server.
//
// An error Classify does not know (a local failure such as ENOBUFS) is
// not passed off as a FIN or RST that nobody saw: it is reported as
// reply-timeout too, since the step ended without its reply, and the
// error's own text goes into Result.Error.
func Classify(err error) Outcome {
	var (
		de *DialError
		pv *ProtocolViolation
		he *HandshakeError
		se *StallError
		ae tls.AlertError
		re tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return OK
	case errors.As(err, &se) && se.Blackhole():
		return PMTUBlackhole
	case errors.As(err, &de):
		return de.Outcome
	case errors.Is(err, ErrReset), errors.Is(err, syscall.ECONNABORTED):
		return Reset
	case errors.Is(err, ErrClosed):
		return Closed
	case errors.As(err, &pv):
		return ProtocolError
	case errors.As(err, &he), errors.As(err, &ae), errors.As(err, &re):
		return TLSError
	case errors.As(err, new(*LostError)):
		return ReplyTimeout
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Unreachable
	case errors.Is(err, ErrReplyTimeout), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return ReplyTimeout
	case errors.Is(err, context.Canceled):
		return ReplyTimeout
	}
	return ReplyTimeout
}

// replyOutcome classifies a reply received for a command. A reply that
// nobody asked for and that is not a rejection (a 2yz "keepalive", a 3yz)
// is a protocol error: RFC 5321 §4.2 has a server reply only to commands,
// and §3.8 allows only the closing 421 unprompted. A 4yz or 5yz is a
// rejection, whether it answers the command or came just before it (a
// 421 the server sent while the client was quiet is then retold as a
// server timeout by explainClose). want is the code the command needs
// (354 for DATA, RFC 5321 §4.1.1.4), or 0 for any 2yz.
func replyOutcome(rp Reply, want int) (Outcome, string) {
	switch {
	case rp.Unsolicited && rp.OK():
		return ProtocolError, "reply nobody asked for: " + rp.String()
	case !rp.OK() && rp.Unsolicited:
		return Rejected, "server ended the session unasked: " + rp.String()
	case !rp.OK():
		return Rejected, "rejected: " + rp.String()
	case want != 0 && rp.Code != want:
		return ProtocolError, fmt.Sprintf("answered %s, not %d", rp.String(), want)
	case want == 0 && rp.Class() != 2:
		return ProtocolError, fmt.Sprintf("answered %s, not 2yz", rp.String())
	}
	return OK, ""
}

// IsGreylisting reports whether a rejection is greylisting: 450 or 451
// with enhanced code 4.2.0 or 4.7.1 (RFC 3463 §3.3, §3.8, as Postgrey
// and Postfix's policy services send them), or a text that says
// "greylist" (or "graylist"), in any case.
func IsGreylisting(rp Reply) bool {
	if rp.Code != 450 && rp.Code != 451 {
		return false
	}
	if rp.Enhanced == "4.2.0" || rp.Enhanced == "4.7.1" {
		return true
	}
	t := strings.ToLower(rp.Text)
	return strings.Contains(t, "greylist") || strings.Contains(t, "graylist")
}

// helo returns the EHLO argument for a session from local.
func (p *Prober) helo(local net.Addr) string {
	if p.Helo != "" {
		return p.Helo
	}
	hn := os.Hostname
	if p.Hostname != nil {
		hn = p.Hostname
	}
	if h, err := hn(); err == nil && strings.Contains(strings.Trim(h, "."), ".") {
		return strings.TrimSuffix(h, ".")
	}
	return AddressLiteral(local)
}

// AddressLiteral renders an address as an RFC 5321 §4.1.3 address literal:
// "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func AddressLiteral(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return "[127.0.0.1]"
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		return "[IPv6:" + ip.WithZone("").String() + "]"
	}
	return "[" + ip.String() + "]"
}

// Check probes one address the way `smtpprobe mx` does: connect, banner,
// EHLO (HELO if EHLO gets 5yz, RFC 5321 §4.1.4), STARTTLS when offered
// (RFC 3207) and EHLO again, then QUIT. Every phase is timed.
func (p *Prober) Check(ctx context.Context, t Target) (r Result) {
	r = newResult(t)
	d := p.begin(ctx, t, &r)
	if d == nil {
		return r
	}
	defer d.end()
	if d.greet(!p.NoStartTLS) {
		d.finish()
	}
	return r
}

// dialogue is one probe session in progress: the connection, the result
// it fills in, and the steps every kind of probe shares.
type dialogue struct {
	p    *Prober
	ctx  context.Context
	c    *Conn
	r    *Result
	t    Target
	rt   time.Duration
	name string // the EHLO name

	release func() // frees the Limiter slot
}

// begin connects to t; on failure it records the outcome in r and
// returns nil.
func (p *Prober) begin(ctx context.Context, t Target, r *Result) *dialogue {
	release, err := p.Limiter.Acquire(ctx, t.Addr.Addr())
	if err != nil {
		r.setFailure(ReplyTimeout, "waiting for a session slot: "+err.Error())
		return nil
	}
	c, err := p.Dial(ctx, t.Addr)
	if err != nil {
		release()
		r.timePhase("connect", dialElapsed(err))
		r.setFailureIn("connect", Classify(err), err.Error())
		p.locate(ctx, t, r, err) // where the SYNs stop (locate.go)
		return nil
	}
	r.timePhase("connect", c.Since())
	c.tcp.watch = p.watchStalls() // stalls decided from TCP evidence (evidence.go)
	return &dialogue{p: p, ctx: ctx, c: c, r: r, t: t, rt: p.replyTimeout(), name: p.helo(c.LocalAddr()), release: release}
}

// end closes the connection, copies the timeline into the result and
// frees the session slot.
func (d *dialogue) end() {
	d.r.TCP = d.c.tcpStats()
	d.c.Close()
	d.r.Timeline = d.c.Timeline()
	d.release()
}

// step sends lines in one write (none: read the greeting; several:
// PIPELINING, RFC 2920) and reads one reply per line. phases names the
// replies in order; each is timed from the previous reply's arrival (the
// first from the write). It stops at the first failure, records it and
// returns false.
func (d *dialogue) step(phases []string, lines ...string) ([]Reply, bool) {
	c, r := d.c, d.r
	prev := c.Since()
	n := max(len(lines), 1)
	fail := func(i int, o Outcome, msg string) {
		phase := phases[min(i, len(phases)-1)]
		r.timePhase(phase, c.Since()-prev)
		r.setFailureIn(phase, o, phase+": "+msg)
	}
	if len(lines) > 0 {
		if err := c.Send(d.ctx, d.rt, lines...); err != nil {
			fail(0, Classify(err), err.Error())
			return nil, false
		}
	}
	var replies []Reply
	for i := 0; i < n; i++ {
		rp, err := c.ReadReply(d.ctx, d.rt)
		if err != nil {
			fail(i, Classify(err), err.Error())
			return replies, false
		}
		replies = append(replies, rp)
		rc := rp
		r.Reply = &rc
		phase := phases[min(i, len(phases)-1)]
		if o, msg := replyOutcome(rp, wantCode(phase)); o != OK {
			fail(i, o, msg)
			if o == Rejected && !rp.Unsolicited {
				d.noteRejection(phase, rp)
			}
			// The rest of a pipelined group is still owed (RFC 2920
			// §3.1); read it so that a later QUIT gets its own reply.
			// Those replies go to the timeline; the result keeps the
			// one that failed.
			for j := i + 1; j < n && !rp.Unsolicited; j++ {
				if _, err := c.ReadReply(d.ctx, QuitTimeout); err != nil {
					break
				}
			}
			return replies, false
		}
		at := rp.At
		if at < prev { // queued before the command was sent
			at = c.Since()
		}
		r.timePhase(phase, at-prev)
		prev = at
	}
	return replies, true
}

// wantCode is the reply a phase needs: 220 for the greeting (RFC 5321
// §4.3.2), 354 for DATA (§4.1.1.4: the body is sent only after 354), and
// any 2yz (0) otherwise.
func wantCode(phase string) int {
	switch phase {
	case "banner":
		return 220
	case "data":
		return 354
	}
	return 0
}

// noteRejection adds the findings a rejection calls for: greylisting is a
// healthy server asking for a retry later, not a failure.
func (d *dialogue) noteRejection(phase string, rp Reply) {
	if !IsGreylisting(rp) {
		return
	}
	d.r.Findings = append(d.r.Findings, Finding{SevInfo, "greylisted",
		fmt.Sprintf("%s greylisted the probe at %s (%s): the server is healthy; a sender that retries after the server's greylisting delay will pass",
			who(d.t, d.r.Address), phase, rp.String())})
}

// step1 is step for one command (or the greeting, with no line).
func (d *dialogue) step1(phase string, line ...string) (Reply, bool) {
	rs, ok := d.step([]string{phase}, line...)
	if len(rs) == 0 {
		return Reply{}, ok
	}
	return rs[len(rs)-1], ok
}

// quit says QUIT after a failure, as RFC 5321 §3.1 and §4.1.1.10 ask,
// when the server is still talking; its reply is not judged and is
// awaited for QuitTimeout at most.
func (d *dialogue) quit() {
	if d.r.Reply != nil && !d.r.Reply.Unsolicited && d.c.readDone() == nil {
		_, _ = d.c.Cmd(d.ctx, min(d.rt, QuitTimeout), "QUIT")
	}
}

// finish ends a successful dialogue with QUIT, timed as phase "quit". The
// server must answer 221 (RFC 5321 §4.1.1.10); one that just closes, or
// does not answer within QuitTimeout, is not failed for it, but a reply
// nobody asked for is.
func (d *dialogue) finish() {
	start := d.c.Since()
	rp, err := d.c.Cmd(d.ctx, min(d.rt, QuitTimeout), "QUIT")
	d.r.timePhase("quit", d.c.Since()-start)
	if err == nil {
		rc := rp
		d.r.Reply = &rc
		if rp.Unsolicited {
			o, msg := replyOutcome(rp, 0)
			d.r.setFailureIn("quit", o, "quit: "+msg)
		}
	}
}

// greet reads the banner, says EHLO (falling back to HELO on 5yz), and
// with starttls runs STARTTLS when offered and says EHLO again. It
// reports whether the session may go on.
func (d *dialogue) greet(starttls bool) bool {
	r, t := d.r, d.t
	banner, ok := d.step1("banner")
	if banner.Code != 0 {
		r.Banner = banner.String()
	}
	if !ok {
		d.quit() // RFC 5321 §3.1: after a 554 greeting the client should QUIT.
		return false
	}
	ehlo, ok := d.step1("ehlo", "EHLO "+d.name)
	if !ok && ehlo.Class() == 5 && !ehlo.Unsolicited {
		r.Outcome, r.Error, r.FailedPhase = OK, "", "" // retry with HELO; the EHLO 5yz stays in the timeline
		delete(r.Phases, "ehlo")
		r.PhaseOrder = r.PhaseOrder[:len(r.PhaseOrder)-1]
		r.Findings = append(r.Findings, Finding{SevWarning, "ehlo-rejected",
			fmt.Sprintf("%s [%s] rejected EHLO (%s); fell back to HELO", t.Host, r.Address, ehlo.String())})
		if _, ok = d.step1("helo", "HELO "+d.name); !ok {
			d.quit()
			return false
		}
	} else if !ok {
		d.quit()
		return false
	}
	r.Capabilities = capabilities(ehlo)
	if !starttls || !hasCap(r.Capabilities, "STARTTLS") {
		return true
	}
	start := d.c.Since()
	rp, st, err := d.c.StartTLS(d.ctx, d.rt, d.p.tlsConfig(t, r))
	r.timePhase("starttls", d.c.Since()-start)
	err = d.explainStall(err) // TCP evidence of a stalled handshake (evidence.go)
	if rp.Code != 0 {
		rc := rp
		r.Reply = &rc
	}
	switch {
	case err != nil:
		r.setFailureIn("starttls", Classify(err), "starttls: "+err.Error())
		return false
	case st == nil:
		o, msg := replyOutcome(rp, 220)
		r.setFailureIn("starttls", o, "starttls: "+msg)
		d.quit()
		return false
	}
	d.p.verifyTLS(t, r, st)
	d.p.tlsFindings(t, r, st)
	ehlo2, ok := d.step1("ehlo_tls", "EHLO "+d.name)
	if !ok {
		d.quit()
		return false
	}
	r.Capabilities = capabilities(ehlo2)
	return true
}

func dialElapsed(err error) time.Duration {
	var de *DialError
	if errors.As(err, &de) {
		return de.Elapsed
	}
	return 0
}

// capabilities returns the EHLO keywords (RFC 5321 §4.1.1.1): every line
// after the first, keyword upper-cased, parameters as sent.
func capabilities(ehlo Reply) []string {
	if len(ehlo.Lines) < 2 {
		return nil
	}
	caps := make([]string, 0, len(ehlo.Lines)-1)
	for _, l := range ehlo.Lines[1:] {
		kw, params, _ := strings.Cut(strings.TrimSpace(l), " ")
		c := strings.ToUpper(kw)
		if params != "" {
			c += " " + params
		}
		caps = append(caps, c)
	}
	return caps
}

// hasCap reports whether keyword is among caps.
func hasCap(caps []string, keyword string) bool {
	_, ok := capParam(caps, keyword)
	return ok
}

// capParam returns the parameters of an EHLO keyword.
func capParam(caps []string, keyword string) (string, bool) {
	for _, c := range caps {
		kw, params, _ := strings.Cut(c, " ")
		if kw == keyword {
			return params, true
		}
	}
	return "", false
}

// tlsConfig accepts any certificate so that opportunistic STARTTLS
// (RFC 3207 §4.1) proceeds as an MTA's would; verifyTLS then checks it
// against the exchanger's name and reports rather than fails. Verifying
// after the handshake keeps the certificate-pool work out of the
// "starttls" phase, which then times the wire.
func (p *Prober) tlsConfig(t Target, r *Result) *tls.Config {
	r.TLS = &TLSInfo{}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS10,
		InsecureSkipVerify: true, // verified by verifyTLS, and reported rather than fatal
	}
	if _, literal := parseIP(t.Host); !literal {
		cfg.ServerName = t.Host
	}
	return cfg
}

// verifyTLS records the certificate of st and verifies it for t.Host
// against p.RootCAs (the system pool when nil).
func (p *Prober) verifyTLS(t Target, r *Result, st *tls.ConnectionState) {
	r.TLS.Version = tls.VersionName(st.Version)
	r.TLS.Cipher = tls.CipherSuiteName(st.CipherSuite)
	if len(st.PeerCertificates) == 0 {
		r.TLS.VerifyError = "no certificate"
		return
	}
	leaf := st.PeerCertificates[0]
	r.TLS.Subject = leaf.Subject.String()
	r.TLS.Issuer = leaf.Issuer.String()
	r.TLS.Names = append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		r.TLS.Names = append(r.TLS.Names, ip.String())
	}
	r.TLS.NotAfter = leaf.NotAfter.UTC()
	r.TLS.DaysLeft = int(leaf.NotAfter.Sub(p.now()).Hours() / 24)
	opts := x509.VerifyOptions{DNSName: strings.Trim(t.Host, "[]"), Roots: p.RootCAs,
		Intermediates: x509.NewCertPool(), CurrentTime: p.now()}
	for _, ic := range st.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	if _, err := leaf.Verify(opts); err != nil {
		r.TLS.VerifyError = err.Error()
	} else {
		r.TLS.Verified = true
	}
}

func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return a, err == nil
}

func (p *Prober) tlsFindings(t Target, r *Result, st *tls.ConnectionState) {
	who := fmt.Sprintf("%s [%s]", t.Host, r.Address)
	if r.TLS.VerifyError != "" {
		r.Findings = append(r.Findings, Finding{SevWarning, "tls-verify-failed",
			fmt.Sprintf("%s: certificate does not verify for %q: %s", who, t.Host, r.TLS.VerifyError)})
	}
	warn := p.CertWarn
	if warn <= 0 {
		warn = DefaultCertWarn
	}
	if left := r.TLS.NotAfter.Sub(p.now()); !r.TLS.NotAfter.IsZero() && left < warn && left > 0 {
		r.Findings = append(r.Findings, Finding{SevWarning, "tls-cert-expiring",
			fmt.Sprintf("%s: certificate expires %s (in %d days)", who, r.TLS.NotAfter.Format(time.RFC3339), r.TLS.DaysLeft)})
	}
	if st.Version < tls.VersionTLS12 {
		r.Findings = append(r.Findings, Finding{SevWarning, "tls-old-version",
			fmt.Sprintf("%s: negotiated %s; RFC 8996 deprecates TLS 1.0 and 1.1", who, tls.VersionName(st.Version))})
	}
}
