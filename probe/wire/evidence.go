package wire

// TCP evidence in every session (issue 8, "What to build" 1). A session
// that stalls is classified from what the kernel's TCP says about it
// (TCP_INFO, read through package mtu), not from the deadline it runs into:
//
//   - Outbound loss: our data stays unacknowledged and is retransmitted with
//     no ACK progress, while smaller segments of the same connection were
//     acknowledged. That is a PMTU black hole toward the server (RFC 1191
//     §6.3 and RFC 8201 §5.2 rely on the ICMP that a black hole drops;
//     RFC 2923 §2.1 names the failure), decided after about two RTOs.
//   - Inbound loss: our ClientHello was acknowledged, but the server's TLS
//     flight (the certificate chain, several KB) does not complete: data
//     arrives out of order and never in order, or nothing arrives. It is
//     confirmed by one retry on a new connection whose SYN advertises a
//     smaller MSS (RFC 9293 §3.7.1, TCP_MAXSEG through mtu.Control): if that
//     handshake completes, the server's full-size segments vanish on the
//     way back, a reverse PMTU black hole.
//
// The decision is the pure function classifyStall over TCP_INFO samples,
// table-tested without a network; the sampling around it stays here, and
// the syscalls stay in package mtu.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// EvTCP is a timeline event carrying TCP_INFO evidence about a stall.
const EvTCP EventKind = "tcp"

// Direction is the direction of a stalled flow.
type Direction string

// Directions of a stall.
const (
	Outbound Direction = "client-to-server"
	Inbound  Direction = "server-to-client"
)

// StallError is a phase that stalled, with the TCP evidence for why. It is
// a PMTU black hole (Blackhole) when the evidence says so; otherwise it
// only explains a timeout.
type StallError struct {
	Phase     string    // "starttls" or "body"
	Write     string    // what we had written: "the TLS ClientHello", "the message body"
	Direction Direction // which way the data was lost
	Bytes     int       // size of that write
	Segments  int       // full-size segments it takes at snd_mss
	// LostPacket is the IP packet size of the full-size segments that
	// vanished: ours (outbound) or the server's toward us (inbound, from
	// the MSS we advertised).
	LostPacket int
	// AckedPacket is the IP packet size of the largest of our segments
	// known to be acknowledged; 0 if none is known.
	AckedPacket int
	Retransmits int           // our retransmissions (tcpi_total_retrans)
	OutOfOrder  int           // server's segments that arrived out of order
	After       time.Duration // how long without progress when it was decided
	PMTU        int           // the socket's path MTU (IP_MTU) at that time
	V6          bool
	Info        mtu.Info // the last TCP_INFO sample

	// Inbound: the confirmation retry with a clamped MSS.
	AdvMSS    int   // the MSS option of the first SYN (TCP_MAXSEG terms)
	ClampMSS  int   // the MSS option of the retry's SYN
	Confirmed bool  // the retry's handshake completed
	RetryErr  error // why the retry failed, when it did
}

func (e *StallError) Error() string {
	switch {
	case e.Direction == Outbound:
		return fmt.Sprintf("%s stalled: %s (%d bytes, %d segments) unacknowledged after %d retransmits in %s; %d-byte packets lost, largest acknowledged %d (TCP_INFO, path MTU %d)",
			e.Phase, e.Write, e.Bytes, e.Segments, e.Retransmits, units.Duration(e.After), e.LostPacket, e.AckedPacket, e.PMTU)
	case e.Confirmed:
		return fmt.Sprintf("%s stalled: the server's TLS flight never completed (%s out of order, none in order for %s); with our MSS clamped from %d to %d it completed: reverse PMTU black hole",
			e.Phase, units.Count(e.OutOfOrder, "segment"), units.Duration(e.After), e.AdvMSS, e.ClampMSS)
	}
	s := fmt.Sprintf("%s stalled: %s was acknowledged but the server's TLS flight never completed (%s out of order, none in order for %s)",
		e.Phase, e.Write, units.Count(e.OutOfOrder, "segment"), units.Duration(e.After))
	if e.RetryErr != nil {
		s += fmt.Sprintf("; a retry with our MSS clamped to %d failed too: %v", e.ClampMSS, e.RetryErr)
	}
	return s
}

// Blackhole reports whether the evidence shows a PMTU black hole: outbound,
// full-size segments lost while smaller ones were acknowledged; inbound,
// confirmed by the clamped retry.
func (e *StallError) Blackhole() bool {
	if e.Direction == Outbound {
		return e.AckedPacket > 0 && e.AckedPacket < e.LostPacket
	}
	return e.Confirmed
}

// ---------------------------------------------------------------- pure classification

// tcpSample is one TCP_INFO reading, at an offset from the watch's start.
type tcpSample struct {
	At   time.Duration
	Info mtu.Info
}

// stallInput is what classifyStall decides from.
type stallInput struct {
	// Samples in time order. The first is the baseline, read before the
	// watched write or wait began.
	Samples []tcpSample
	// Sent is the payload bytes written on the connection so far; all of
	// them are acknowledged when tcpi_bytes_acked reaches Sent+1 (the SYN
	// counts as one byte).
	Sent uint64
	// AwaitPeer says the peer owes us data (a TLS flight), so that our
	// data being acknowledged while its data does not arrive in order is
	// a stall too.
	AwaitPeer bool
	// LargestAcked is the payload of our largest segment known to be
	// acknowledged (tcpTrack.largestAcked); 0 if unknown.
	LargestAcked int
	// RTOs is how many base RTOs without progress decide; 0 means 2.
	RTOs int
	// MinRetrans is how many retransmissions without progress an
	// outbound stall needs; 0 means 1. With 2, a segment that random loss
	// took twice (the original and its first retransmission) is not yet a
	// stall.
	MinRetrans int
}

type stallKind int

const (
	stallNone stallKind = iota // progressing, done, or not yet decided
	stallOut                   // our data retransmitted without ACK progress
	stallIn                    // ours acked; the peer's data out of order, never in order
)

func (k stallKind) String() string {
	switch k {
	case stallOut:
		return "out"
	case stallIn:
		return "in"
	}
	return "none"
}

// stall is classifyStall's answer.
type stall struct {
	Kind        stallKind
	For         time.Duration // without progress, at the last sample
	Retransmits int           // retransmissions since the last ACK progress (outbound)
	OutOfOrder  int           // out-of-order segments since the last in-order progress (inbound)
	// SizeDependent: outbound, our full-size segments (SndMSS) were lost
	// while smaller ones (LargestAcked) were acknowledged.
	SizeDependent bool
	Last          mtu.Info
}

// defaultRTO is Linux's TCP_RTO_MIN, used when no sample reports an RTO.
const defaultRTO = 200 * time.Millisecond

// baseRTO is the smallest RTO the samples report: tcpi_rto is already
// backed off after a timeout, so the smallest is the base (RFC 6298 §5.5).
func baseRTO(s []tcpSample) time.Duration {
	var b time.Duration
	for _, x := range s {
		if r := x.Info.RTO; r > 0 && (b == 0 || r < b) {
			b = r
		}
	}
	if b == 0 {
		b = defaultRTO
	}
	return b
}

// classifyStall decides from TCP_INFO samples whether a pending write or
// wait has stalled, and which way. The rules:
//
// Outbound: bytes_acked has not reached Sent+1 and has not grown for RTOs ×
// the base RTO, and there is retransmission evidence since it last grew
// (tcpi_retransmits or tcpi_lost above zero, or tcpi_total_retrans grown).
// RFC 6298 §5 retransmits after one RTO, so after two the first
// retransmission has had a whole RTO, more than an RTT, to be acknowledged.
// It is size-dependent when a smaller segment was acknowledged
// (LargestAcked > 0) and the full-size segments (tcpi_snd_mss) are larger.
//
// Inbound (AwaitPeer): every byte of ours is acknowledged, no payload has
// arrived in order (tcpi_bytes_received unchanged) for RTOs × the base RTO,
// and segments did arrive in that time out of order (tcpi_rcv_ooopack grew,
// or tcpi_data_segs_in grew without in-order bytes): the head of the peer's
// flight is missing and its retransmissions do not arrive either.
func classifyStall(in stallInput) stall {
	s := in.Samples
	if len(s) == 0 {
		return stall{}
	}
	last := s[len(s)-1]
	rtos := in.RTOs
	if rtos <= 0 {
		rtos = 2
	}
	limit := time.Duration(rtos) * baseRTO(s)
	want := in.Sent + 1
	if last.Info.BytesAcked < want {
		// Since when has bytes_acked stood still?
		i := len(s) - 1
		for i > 0 && s[i-1].Info.BytesAcked == last.Info.BytesAcked {
			i--
		}
		from := s[i]
		retrans := last.Info.TotalRetrans - from.Info.TotalRetrans
		if i > 0 {
			// A retransmission between the sample before and this one
			// may be the one that has gone unanswered since.
			retrans = last.Info.TotalRetrans - s[i-1].Info.TotalRetrans
		}
		st := stall{For: last.At - from.At, Retransmits: max(retrans, last.Info.Retransmits), Last: last.Info}
		evidence := last.Info.Retransmits > 0 || last.Info.Lost > 0 || retrans > 0
		if in.MinRetrans > 1 {
			evidence = st.Retransmits >= in.MinRetrans
		}
		if evidence && st.For >= limit {
			st.Kind = stallOut
			st.SizeDependent = in.LargestAcked > 0 && last.Info.SndMSS > in.LargestAcked
		}
		return st
	}
	if !in.AwaitPeer {
		return stall{Last: last.Info}
	}
	// Since when has every byte of ours been acknowledged and nothing
	// arrived in order?
	i := len(s) - 1
	for i > 0 && s[i-1].Info.BytesAcked >= want && s[i-1].Info.BytesReceived == last.Info.BytesReceived {
		i--
	}
	from := s[i]
	ref := from
	if i > 0 {
		// Out-of-order segments that came with the ACK or the last
		// in-order bytes count: compare with the sample before.
		ref = s[i-1]
	}
	ooo := 0
	if last.Info.HasRcvOOOPack {
		ooo = last.Info.RcvOOOPack - ref.Info.RcvOOOPack
	}
	if last.Info.BytesReceived == ref.Info.BytesReceived {
		ooo = max(ooo, last.Info.DataSegsIn-ref.Info.DataSegsIn)
	}
	st := stall{For: last.At - from.At, OutOfOrder: ooo, Last: last.Info}
	if ooo > 0 && st.For >= limit {
		st.Kind = stallIn
	}
	return st
}

// ---------------------------------------------------------------- what we wrote

// tcpTrack counts the payload bytes a session wrote on its TCP connection,
// write by write, to tell from a TCP_INFO sample which of them were
// acknowledged. The zero value is usable.
type tcpTrack struct {
	mu      sync.Mutex
	sent    uint64  // payload bytes written so far
	pending []wspan // writes whose first segment is not known to be acked
	largest int     // payload of the largest segment known acked
	samples int     // TCP_INFO readings taken after writes
	// watch ends a stalled handshake or write early on TCP evidence
	// (Conn.WatchStalls); off, they are only counted.
	watch bool
}

type wspan struct {
	from uint64 // bytes written before it
	n    int
}

// maxPending bounds the writes remembered; older ones are dropped.
const maxPending = 256

// wrote records a write of n bytes that the kernel accepted.
func (t *tcpTrack) wrote(n int) {
	if t == nil || n <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) >= maxPending {
		t.pending = append(t.pending[:0], t.pending[1:]...)
	}
	t.pending = append(t.pending, wspan{from: t.sent, n: n})
	t.sent += uint64(n)
}

// total returns the payload bytes written so far.
func (t *tcpTrack) total() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sent
}

// fold records what sample i shows acknowledged and returns the payload of
// the largest of our segments known acked. A write's first segment is its
// largest: min(n, snd_mss) bytes, acked once bytes_acked passes it (the
// SYN counts as one byte).
func (t *tcpTrack) fold(i mtu.Info) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	mss := i.SndMSS
	if mss <= 0 {
		return t.largest
	}
	kept := t.pending[:0]
	for _, w := range t.pending {
		seg := min(w.n, mss)
		if i.BytesAcked >= w.from+uint64(seg)+1 {
			t.largest = max(t.largest, seg)
			continue
		}
		kept = append(kept, w)
	}
	t.pending = kept
	return t.largest
}

// since returns the size of the first write at or after offset from
// (bytes written before it), and how many bytes were written since from.
func (t *tcpTrack) since(from uint64) (first int, bytes int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.pending {
		if w.from >= from {
			first = w.n
			break
		}
	}
	return first, int(t.sent - from)
}

// countConn counts the bytes the TLS client writes on the raw connection.
type countConn struct {
	net.Conn
	t *tcpTrack
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.t.wrote(n)
	c.t.sample(c.Conn)
	return n, err
}

// countWrite records a write on the session's connection and reads
// TCP_INFO after it, so that what every phase's writes had acknowledged
// is known. Writes through the TLS client are counted by countConn, at the
// TCP level.
func (c *Conn) countWrite(conn net.Conn, n int) {
	if conn == c.raw {
		c.tcp.wrote(n)
		c.tcp.sample(c.raw)
	}
}

// sample reads TCP_INFO of raw, if it can, and folds what it shows acked.
func (t *tcpTrack) sample(raw net.Conn) {
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return
	}
	i, err := mtu.TCPInfo(sc)
	if err != nil {
		return
	}
	t.fold(i)
	t.mu.Lock()
	t.samples++
	t.mu.Unlock()
}

// TCPStats is a session's TCP as TCP_INFO (and IP_MTU) saw it when the
// session ended: the evidence behind a verdict, for every session.
type TCPStats struct {
	RTT         time.Duration `json:"-"`           // smoothed RTT (JSON "rtt_ms")
	RTO         time.Duration `json:"-"`           // retransmission timeout (JSON "rto_ms")
	Retransmits int           `json:"retransmits"` // tcpi_total_retrans
	Lost        int           `json:"lost"`        // tcpi_lost
	Unacked     int           `json:"unacked"`     // tcpi_unacked
	SndMSS      int           `json:"snd_mss"`
	RcvMSS      int           `json:"rcv_mss"`
	AdvMSS      int           `json:"adv_mss"`
	PathMTU     int           `json:"path_mtu"`
	// RcvOOOPack is tcpi_rcv_ooopack, where the kernel reports it.
	RcvOOOPack *int `json:"rcv_ooopack,omitempty"`
	// LargestAcked is the IP packet size of our largest segment known
	// acknowledged; 0 if none is known.
	LargestAcked int `json:"largest_acked"`
	Samples      int `json:"samples"` // TCP_INFO readings during the session
}

// WatchStalls makes a stalled STARTTLS handshake or write end early on
// TCP evidence (a *StallError) rather than at its deadline. Call it before
// the connection's first write.
func (c *Conn) WatchStalls(on bool) { c.tcp.watch = on }

// TCPStats reads the connection's TCP_INFO for the result, or returns nil
// where there is none (not Linux, not TCP, closed).
func (c *Conn) TCPStats() *TCPStats {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return nil
	}
	i, err := mtu.TCPInfo(sc)
	if err != nil || i.State == 0 {
		return nil
	}
	largest := c.tcp.fold(i)
	c.tcp.mu.Lock()
	n := c.tcp.samples + 1
	c.tcp.mu.Unlock()
	st := &TCPStats{RTT: i.RTT, RTO: i.RTO, Retransmits: i.TotalRetrans, Lost: i.Lost,
		Unacked: i.Unacked, SndMSS: i.SndMSS, RcvMSS: i.RcvMSS, AdvMSS: i.AdvMSS, PathMTU: i.PMTU, Samples: n}
	if p, err := mtu.PathMTU(sc); err == nil {
		st.PathMTU = p
	}
	if i.HasRcvOOOPack {
		st.RcvOOOPack = ptr(i.RcvOOOPack)
	}
	if largest > 0 {
		st.LargestAcked = largest + mtu.Overhead(isV6(c.raw.RemoteAddr()), i.Timestamps())
	}
	return st
}

// ---------------------------------------------------------------- sampling

// sampler reads TCP_INFO of a connection and keeps the samples that show
// a change, so that a long wait keeps few.
type sampler struct {
	sc      syscall.Conn
	start   time.Time
	samples []tcpSample
}

// maxSamples bounds a sampler; the oldest changes after the first are
// dropped (the baseline stays).
const maxSamples = 512

func newSampler(raw net.Conn) (*sampler, error) {
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	s := &sampler{sc: sc, start: time.Now()}
	if err := s.read(); err != nil {
		return nil, err
	}
	return s, nil
}

// read takes one sample; it replaces the last one when nothing the
// classifier looks at changed.
func (s *sampler) read() error {
	i, err := mtu.TCPInfo(s.sc)
	if err != nil {
		return err
	}
	x := tcpSample{At: time.Since(s.start), Info: i}
	if n := len(s.samples); n >= 2 && same(s.samples[n-1].Info, i) && same(s.samples[n-2].Info, i) {
		s.samples[n-1] = x // keep the first of a run and its latest
		return nil
	}
	if len(s.samples) >= maxSamples {
		s.samples = append(s.samples[:1], s.samples[2:]...)
	}
	s.samples = append(s.samples, x)
	return nil
}

// same reports whether two samples agree on everything classifyStall uses
// other than the RTO.
func same(a, b mtu.Info) bool {
	return a.BytesAcked == b.BytesAcked && a.BytesReceived == b.BytesReceived &&
		a.TotalRetrans == b.TotalRetrans && a.Retransmits == b.Retransmits && a.Lost == b.Lost &&
		a.RcvOOOPack == b.RcvOOOPack && a.DataSegsIn == b.DataSegsIn && a.RTO == b.RTO
}

// stallRetrans is how many retransmissions without progress end a watched
// handshake or write: random loss of a few percent takes a segment and its
// first retransmission rarely (p²), and all three of them rarer still.
const stallRetrans = 2

// stallPoll is how often a watched phase reads TCP_INFO.
const stallPoll = 5 * time.Millisecond

// handshake runs the STARTTLS handshake (RFC 3207 §4) while watching
// TCP_INFO. When the ClientHello is lost outbound, or the server's flight
// stalls inbound, it ends the handshake early with a *StallError instead
// of waiting for ctx's deadline. Without TCP_INFO it is a plain handshake.
func (c *Conn) handshake(ctx context.Context, cfg *tls.Config) (*tls.Conn, error) {
	var nc net.Conn = &countConn{Conn: c.raw, t: &c.tcp}
	if c.WrapTLS != nil {
		nc = c.WrapTLS(nc)
	}
	tc := tls.Client(nc, cfg)
	if !c.tcp.watch {
		return tc, tc.HandshakeContext(ctx)
	}
	smp, err := newSampler(c.raw)
	if err != nil {
		return tc, tc.HandshakeContext(ctx)
	}
	before := c.tcp.total()
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	watched := make(chan *StallError, 1)
	go func() {
		defer close(watched)
		t := time.NewTicker(stallPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if smp.read() != nil {
				return
			}
			sent := c.tcp.total()
			if sent == before {
				continue // the ClientHello is not written yet
			}
			last := smp.samples[len(smp.samples)-1].Info
			st := classifyStall(stallInput{Samples: smp.samples, Sent: sent, AwaitPeer: true, LargestAcked: c.tcp.fold(last), MinRetrans: stallRetrans})
			if st.Kind == stallNone || (st.Kind == stallOut && !st.SizeDependent) {
				// Loss of segments no larger than ones that passed is
				// not a black hole: TCP may still recover it.
				continue
			}
			hello, _ := c.tcp.since(before)
			se := c.stallError("starttls", "the TLS ClientHello", hello, st, c.tcp.fold(last))
			watched <- se
			cancel(se)
			return
		}
	}()
	err = tc.HandshakeContext(hctx)
	close(done)
	if se := <-watched; se != nil && err != nil {
		c.Event(EvTCP, se.Error())
		return tc, se
	}
	return tc, err
}

// stallError builds the error for a stall from its evidence.
func (c *Conn) stallError(phase, write string, bytes int, st stall, largest int) *StallError {
	v6 := isV6(c.raw.RemoteAddr())
	i := st.Last
	over := mtu.Overhead(v6, i.Timestamps())
	se := &StallError{Phase: phase, Write: write, Bytes: bytes, Retransmits: i.TotalRetrans,
		OutOfOrder: st.OutOfOrder, After: st.For, V6: v6, Info: i, PMTU: i.PMTU}
	if sc, ok := c.raw.(syscall.Conn); ok {
		if p, err := mtu.PathMTU(sc); err == nil {
			se.PMTU = p
		}
	}
	if i.SndMSS > 0 {
		se.Segments = (bytes + i.SndMSS - 1) / i.SndMSS
	}
	switch st.Kind {
	case stallOut:
		se.Direction = Outbound
		se.LostPacket = i.SndMSS + over
		if largest > 0 {
			se.AckedPacket = largest + over
		}
	case stallIn:
		se.Direction = Inbound
		se.LostPacket = i.AdvMSS + over
		se.AdvMSS = i.AdvMSS
		if i.Timestamps() {
			se.AdvMSS += 12 // the option's value, as TCP_MAXSEG sets it
		}
	}
	return se
}

// OutboundStall reads TCP_INFO now and returns the evidence of an
// outbound stall of a write of bytes bytes (what names it, phase the phase
// it belongs to), for a caller that already knows the data went
// unacknowledged: whether it is a black hole is then its Blackhole. The
// error is errors.ErrUnsupported where there is no TCP_INFO.
func (c *Conn) OutboundStall(phase, write string, bytes int) (*StallError, error) {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	i, err := mtu.TCPInfo(sc)
	if err != nil {
		return nil, err
	}
	largest := c.tcp.fold(i)
	st := stall{Kind: stallOut, Last: i, Retransmits: i.TotalRetrans}
	return c.stallError(phase, write, bytes, st, largest), nil
}

func isV6(a net.Addr) bool {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.To4() == nil
	}
	return strings.Contains(a.String(), "]")
}

// writeWatchDelay is how long a write must block before TCP_INFO is
// watched: a write the kernel takes at once needs no evidence.
const writeWatchDelay = 20 * time.Millisecond

// watchWrite watches TCP_INFO while a write of n bytes on conn blocks (its
// data does not fit the send buffer). When the data is lost outbound on a
// black hole (classifyStall, size-dependent), it ends the write through its
// deadline. The returned stop, called with the write's error, returns the
// *StallError that ended it, or nil.
func (c *Conn) watchWrite(conn net.Conn, n int) (stop func(error) error) {
	if !c.tcp.watch {
		return func(error) error { return nil }
	}
	done := make(chan struct{})
	var (
		mu sync.Mutex
		se *StallError
	)
	before := c.tcp.total()
	go func() {
		t := time.NewTimer(writeWatchDelay)
		defer t.Stop()
		select {
		case <-done:
			return
		case <-t.C:
		}
		smp, err := newSampler(c.raw)
		if err != nil {
			return
		}
		tk := time.NewTicker(stallPoll)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			if smp.read() != nil {
				return
			}
			last := smp.samples[len(smp.samples)-1].Info
			largest := c.tcp.fold(last)
			st := classifyStall(stallInput{Samples: smp.samples, Sent: before + uint64(n), LargestAcked: largest, MinRetrans: stallRetrans})
			if st.Kind != stallOut || !st.SizeDependent {
				continue
			}
			what := "a command"
			if tl := c.Timeline(); len(tl) > 0 && tl[len(tl)-1].Kind == EvData {
				what = "the message body"
			}
			e := c.stallError(c.phaseName(what), what, n, st, largest)
			e.After += writeWatchDelay
			mu.Lock()
			se = e
			mu.Unlock()
			_ = conn.SetWriteDeadline(time.Now())
			return
		}
	}()
	return func(err error) error {
		close(done)
		mu.Lock()
		defer mu.Unlock()
		if se == nil || err == nil {
			return nil
		}
		c.Event(EvTCP, se.Error())
		return se
	}
}

func (c *Conn) phaseName(what string) string {
	if what == "the message body" {
		return "body"
	}
	return "write"
}

// LostError means the body's segments were retransmitted without any
// acknowledgement while the commands before it passed: the signature of a
// path that drops large packets (a PMTU black hole) or of heavy loss.
type LostError struct {
	Retransmits int
	SndMSS      int
	PMTU        int
}

func (e *LostError) Error() string {
	return fmt.Sprintf("body segments lost: %d retransmits without ACK progress (snd_mss %d, path MTU %d)", e.Retransmits, e.SndMSS, e.PMTU)
}

// WaitAcked waits until TCP has acknowledged every byte written on c
// (mtu.WaitAcked over TCP_INFO and SIOCOUTQ), the peer reset the
// connection, the segments are lost (retransmissions without ACK
// progress), or timeout passes. Where mtu cannot watch (off Linux) it
// returns errors.ErrUnsupported.
func (c *Conn) WaitAcked(ctx context.Context, timeout time.Duration) error {
	sc, ok := c.Raw().(syscall.Conn)
	if !ok {
		return errors.ErrUnsupported
	}
	v, info, err := mtu.WaitAcked(ctx, sc, timeout)
	switch {
	case errors.Is(err, mtu.ErrClosed):
		c.Event(EvRST, "connection reset before the data was acknowledged")
		return fmt.Errorf("%w: before the data was acknowledged", ErrReset)
	case err != nil:
		return err
	}
	switch v {
	case mtu.Delivered:
		c.Event(EvData, fmt.Sprintf("all bytes acknowledged (TCP_INFO: %d bytes acked, %d retransmits)", info.BytesAcked, info.TotalRetrans))
		return nil
	case mtu.Lost:
		c.Event(EvDeadline, fmt.Sprintf("segments lost: %d retransmits without ACK progress (snd_mss %d, pmtu %d)", info.TotalRetrans, info.SndMSS, info.PMTU))
		return &LostError{Retransmits: info.TotalRetrans, SndMSS: info.SndMSS, PMTU: info.PMTU}
	}
	c.Event(EvDeadline, fmt.Sprintf("bytes still unacknowledged after %s (%d segments unacked)", units.Setting(timeout), info.Unacked))
	return fmt.Errorf("body not acknowledged within %s: %w", units.Setting(timeout), ErrReplyTimeout)
}

// BodyTCP is what TCP did with a message body: the deltas of the
// connection's TCP_INFO counters over the body (Linux).
type BodyTCP struct {
	// Sent is tcpi_bytes_sent over the body, retransmissions included
	// (Linux 4.19 and later; 0 where the kernel does not count it).
	Sent int64 `json:"bytes_sent"`
	// Retransmitted is tcpi_bytes_retrans over the body.
	Retransmitted int64 `json:"bytes_retransmitted"`
	// Acked is tcpi_bytes_acked over the body: the body's bytes the peer's
	// TCP acknowledged.
	Acked int64 `json:"bytes_acked"`
	// Segments is tcpi_data_segs_out over the body: segments that carried
	// its bytes, retransmissions included.
	Segments int `json:"segments"`
}

// CountBody reads TCP_INFO before a message body and returns the function
// that reads it again after it and returns the difference, with the acked
// bytes capped at size, the body's: the bytes TCP sent and the peer
// acknowledged. A write that a black hole holds never returns its count,
// so the bytes written alone would say "0 written" of a body whose
// segments went out. Where TCP_INFO cannot be read, the function returns
// nil.
func (c *Conn) CountBody() func(size int) *BodyTCP {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return func(int) *BodyTCP { return nil }
	}
	before, err := mtu.TCPInfo(sc)
	if err != nil {
		return func(int) *BodyTCP { return nil }
	}
	return func(size int) *BodyTCP {
		after, err := mtu.TCPInfo(sc)
		if err != nil || after.State == 0 {
			return nil
		}
		return &BodyTCP{
			Sent:          int64(after.BytesSent - before.BytesSent),
			Retransmitted: int64(after.BytesRetrans - before.BytesRetrans),
			Acked:         min(int64(after.BytesAcked-before.BytesAcked), int64(size)),
			Segments:      after.DataSegsOut - before.DataSegsOut,
		}
	}
}
