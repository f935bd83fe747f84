package wire

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// Limits on what a peer may send. RFC 5321 §4.5.3.1.5 allows 512 octets per
// reply line; real servers exceed that, so the probe is lenient up to
// MaxLineBytes and calls anything longer a protocol error.
const (
	MaxLineBytes  = 4096
	MaxReplyLines = 200
	MaxReplyBytes = 64 << 10
)

// EventKind names what happened on the wire.
type EventKind string

// Timeline event kinds.
const (
	EvConnect     EventKind = "connect"
	EvSend        EventKind = "send"        // a command line
	EvData        EventKind = "data"        // message bytes
	EvReply       EventKind = "reply"       // a reply to a command
	EvUnsolicited EventKind = "unsolicited" // a reply nobody asked for, e.g. 421 4.4.2 during a pause
	EvPauseStart  EventKind = "pause-start"
	EvPauseEnd    EventKind = "pause-end"
	EvTLS         EventKind = "tls" // TLS handshake done
	EvFIN         EventKind = "fin" // the peer closed its side
	EvRST         EventKind = "rst" // the peer reset the connection
	EvDeadline    EventKind = "deadline"
	EvError       EventKind = "error"
	EvClose       EventKind = "close" // we closed the connection
)

// Event is one entry of a session's timeline.
//
// Consecutive writes of message data in chunks of one size, alone or
// separated only by chunk pauses, are coalesced into one EvData event
// with a Count, so that a 1 MB body written a byte at a time costs one
// event rather than a million: Bytes is then the total, At the first
// write, Last the last one, and Text says "2048 chunks of 1 B, 1.0 ms
// apart".
type Event struct {
	At    time.Duration `json:"-"` // from connect
	Kind  EventKind     `json:"kind"`
	Text  string        `json:"text,omitempty"`
	Bytes int           `json:"bytes,omitempty"`
	Count int           `json:"count,omitempty"` // writes a coalesced data event stands for
	Reply *Reply        `json:"reply,omitempty"`
	Last  time.Duration `json:"-"` // the last write of a coalesced event
	// Pause names the pause a pause-start or pause-end event belongs to
	// (Text says it with its length, for people).
	Pause Pause `json:"-"`

	chunk int    // a data run's chunk size
	short bool   // the run ended with a shorter chunk
	gap   string // the chunk pause between the run's writes ("" for none)
}

// MarshalJSON adds the offset from connect in milliseconds as "t_ms"
// (and "last_ms" for a coalesced event).
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	var last *float64
	if e.Count > 1 {
		last = ptr(units.MS(e.Last))
	}
	return json.Marshal(struct {
		TMS float64 `json:"t_ms"`
		plain
		LastMS *float64 `json:"last_ms,omitempty"`
	}{units.MS(e.At), plain(e), last})
}

// End returns when the event ended: its last write, for a coalesced one.
func (e Event) End() time.Duration {
	if e.Count > 1 {
		return e.Last
	}
	return e.At
}

// describeRun sets the text of a coalesced data event.
func (e *Event) describeRun() {
	if e.Count < 2 || e.Text != "" {
		return
	}
	apart := (e.Last - e.At) / time.Duration(e.Count-1)
	gap := units.Duration(apart)
	e.Text = fmt.Sprintf("%d chunks of %d B, %s apart", e.Count, e.chunk, gap)
	if e.short {
		e.Text += ", the last one shorter"
	}
	if e.gap != "" {
		e.Text += " (" + e.gap + ")"
	}
}

// Sentinel errors of a session; check them with errors.Is.
var (
	// ErrClosed means the peer closed the connection (FIN, read EOF).
	ErrClosed = errors.New("connection closed by peer")
	// ErrReset means the peer reset the connection (ECONNRESET or EPIPE).
	ErrReset = errors.New("connection reset by peer")
	// ErrReplyTimeout means no complete reply arrived within the limit.
	ErrReplyTimeout = errors.New("no reply within the limit")
	// errLocalClose means the probe itself closed the connection; it ends
	// the reader and is never a verdict.
	errLocalClose = errors.New("connection closed locally")
)

// ProtocolViolation means the peer's bytes are not SMTP.
type ProtocolViolation struct {
	Reason string
	Bytes  []byte // the offending bytes, possibly cut
}

func (e *ProtocolViolation) Error() string {
	if len(e.Bytes) == 0 {
		return "protocol error: " + e.Reason
	}
	return "protocol error: " + e.Reason + ": " + quote(e.Bytes, 80)
}

// Conn is an SMTP dialogue over one TCP connection that timestamps
// everything on the wire. Its methods are for one goroutine at a time.
type Conn struct {
	raw   net.Conn // the TCP connection
	conn  net.Conn // raw, or the TLS client after STARTTLS
	start time.Time
	now   func() time.Time

	// judging is held while the reader judges the bytes of one read,
	// and by Send before it counts its commands: replies that arrived
	// together (one read) are all judged against the commands sent
	// before them, however the goroutines are scheduled. Taken before
	// mu, never while holding it.
	judging sync.Mutex

	mu        sync.Mutex
	events    []Event
	pending   int  // replies the server owes: the greeting plus one per command
	stopAfter bool // the reader stops after the next solicited reply (STARTTLS)
	queue     []Reply
	readErr   error         // terminal error of the reader, sticky
	done      chan struct{} // closed when the current reader returns
	leftover  []byte        // bytes read past a reply the reader stopped after
	finAt     time.Duration // when the peer's FIN arrived, or -1
	closed    bool
	// writeReset is the errno a write met when the peer reset the
	// connection ("ECONNRESET" or "EPIPE"), or "".
	writeReset  string
	unsolicited int // replies nobody asked for so far
	run         int // index of the data event later writes may join, or -1

	tcp tcpTrack // bytes written, for TCP_INFO evidence (evidence.go)

	// WrapTLS, if set, wraps the connection the TLS client of StartTLS
	// writes to: the ClientHello is recorded, or written in two parts,
	// there (tlshello.go).
	WrapTLS func(net.Conn) net.Conn

	notify chan struct{} // signalled when the queue grows or the reader ends
}

// newConn wraps an established connection; start is the connect time.
func newConn(c net.Conn, start time.Time, now func() time.Time, connectText string) *Conn {
	if now == nil {
		now = time.Now
	}
	cn := &Conn{raw: c, conn: c, start: start, now: now, pending: 1, finAt: -1, run: -1,
		notify: make(chan struct{}, 1)}
	cn.Event(EvConnect, connectText)
	cn.startReader(nil)
	return cn
}

// Since returns the time elapsed since the session's connect began.
func (c *Conn) Since() time.Duration { return c.now().Sub(c.start) }

// Raw returns the underlying TCP connection, for socket options and TCP_INFO.
func (c *Conn) Raw() net.Conn { return c.raw }

// LocalAddr returns this end's address of the TCP connection.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// Timeline returns a copy of the events so far.
func (c *Conn) Timeline() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	tl := append([]Event(nil), c.events...)
	for i := range tl {
		tl[i].describeRun()
	}
	return tl
}

// FINAt returns when the peer's FIN arrived, if it did.
func (c *Conn) FINAt() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.finAt, c.finAt >= 0
}

// Event records an event at the current time and returns it.
func (c *Conn) Event(kind EventKind, text string) Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eventLocked(Event{Kind: kind, Text: text})
}

func (c *Conn) eventLocked(e Event) Event {
	if e.At == 0 {
		e.At = c.Since()
	}
	if e.Kind == EvData && e.Text == "" && e.Bytes > 0 {
		if c.mergeData(e) {
			return c.events[c.run]
		}
		e.Count, e.chunk = 1, e.Bytes
		c.events = append(c.events, e)
		c.run = len(c.events) - 1
		return e
	}
	c.events = append(c.events, e)
	return e
}

// mergeData folds a data write into the run of data writes it continues:
// the run's last event is the latest one, or only a chunk pause (its
// start and end) came after it, the same pause as between the run's
// earlier writes; the chunk is of the run's size, or shorter once, at
// the end.
func (c *Conn) mergeData(e Event) bool {
	if c.run < 0 || c.run >= len(c.events) {
		return false
	}
	run := &c.events[c.run]
	tail := c.events[c.run+1:]
	gap := ""
	switch {
	case len(tail) == 0:
	case len(tail) == 2 && tail[0].Kind == EvPauseStart && tail[1].Kind == EvPauseEnd &&
		tail[0].Pause == ChunkPause:
		gap = tail[0].Text
	default:
		return false
	}
	if run.Count > 1 && gap != run.gap {
		return false
	}
	switch {
	case run.short || e.Bytes > run.chunk:
		return false
	case e.Bytes < run.chunk:
		run.short = true
	}
	c.events = c.events[:c.run+1]
	run.gap = gap
	run.Count++
	run.Bytes += e.Bytes
	run.Last = e.At
	return true
}

func (c *Conn) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// startReader runs the reply reader on the current connection, beginning
// with bytes already read.
func (c *Conn) startReader(buf []byte) {
	done := make(chan struct{})
	c.mu.Lock()
	c.done = done
	conn := c.conn
	c.mu.Unlock()
	go c.readLoop(conn, buf, done)
}

// readLoop parses replies as they arrive so that a reply, FIN or RST that
// comes while the probe is idle is timestamped when it happens. The bytes
// are judged by a replyReader, so how TCP segments them does not matter.
func (c *Conn) readLoop(conn net.Conn, buf []byte, done chan struct{}) {
	defer close(done)
	defer c.signal()
	var (
		rr    replyReader
		chunk = make([]byte, 4096)
		fault *ProtocolViolation
	)
	emit := func(code int, lines []string) bool {
		stop, pv := c.deliver(NewReply(code, lines, c.Since()))
		fault = pv
		return stop || pv != nil
	}
	// judge feeds b to the reader and reports whether reading ends: a
	// protocol violation, or a reply after which the reader stops (the
	// 220 to STARTTLS), with the bytes after it kept as leftover.
	judge := func(b []byte) bool {
		c.judging.Lock()
		defer c.judging.Unlock()
		rest, stopped, pv := rr.feed(b, emit)
		if pv == nil {
			pv = fault
		}
		if pv != nil {
			c.fail(pv)
			return true
		}
		if stopped {
			c.mu.Lock()
			c.leftover = append([]byte(nil), rest...)
			c.mu.Unlock()
		}
		return stopped
	}
	for {
		if len(buf) > 0 && judge(buf) {
			return
		}
		n, err := conn.Read(chunk)
		buf = chunk[:n]
		if err != nil {
			// Bytes that came with the error are judged first.
			if n > 0 && judge(buf) {
				return
			}
			if p := rr.partial(); p != "" {
				// The peer went away in the middle of a reply; the
				// partial reply is recorded so nothing is lost.
				c.Event(EvError, "incomplete reply before connection end: "+p)
			}
			c.readFailed(err)
			return
		}
	}
}

func isBinary(r rune) bool {
	return r == 0 || (r < 0x20 && r != '\t') || r == 0x7f
}

// MaxUnsolicited bounds the replies nobody asked for that the probe
// keeps; a peer that sends more is not speaking SMTP.
const MaxUnsolicited = 32

// deliver queues a reply and reports whether the reader must stop.
func (c *Conn) deliver(r Reply) (stop bool, pv *ProtocolViolation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kind := EvReply
	if c.pending > 0 {
		c.pending--
	} else {
		r.Unsolicited = true
		kind = EvUnsolicited
		c.unsolicited++
		if c.unsolicited > MaxUnsolicited {
			return true, &ProtocolViolation{Reason: fmt.Sprintf("more than %d replies nobody asked for", MaxUnsolicited), Bytes: []byte(r.String())}
		}
	}
	rr := r
	c.eventLocked(Event{At: r.At, Kind: kind, Reply: &rr})
	c.queue = append(c.queue, r)
	if c.stopAfter && !r.Unsolicited {
		c.stopAfter = false
		stop = true
	}
	c.signal()
	return stop, nil
}

// fail ends the reader with a protocol error.
func (c *Conn) fail(err *ProtocolViolation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eventLocked(Event{Kind: EvError, Text: err.Error()})
	if c.readErr == nil {
		c.readErr = err
	}
}

// readFailed classifies the error that ended reading.
//
// A reset is a reset whichever goroutine meets it first. Linux hands the
// ECONNRESET of an incoming RST to the first system call on the socket:
// when that is a write, the reader's next read returns a plain EOF, just
// as a FIN would. So an EOF is taken as a FIN only when the socket says
// so: TCP_INFO's state is CLOSE_WAIT after a FIN but CLOSE after a reset
// (RFC 9293 §3.3.2), and a write that already met the reset settles it.
func (c *Conn) readFailed(err error) {
	eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	var stateReset bool
	if eof {
		if sc, ok := c.raw.(syscall.Conn); ok {
			stateReset, _ = mtu.Reset(sc)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var e error
	switch {
	case c.closed || errors.Is(err, net.ErrClosed):
		e = errLocalClose
	case eof && c.writeReset != "":
		e = fmt.Errorf("%w: %s (met by a write; the read saw EOF)", ErrReset, c.writeReset)
		c.eventLocked(Event{Kind: EvRST, Text: "read: EOF after the write met " + c.writeReset})
	case eof && stateReset:
		e = fmt.Errorf("%w: the read saw EOF on a socket in TCP state CLOSE (a write met the errno)", ErrReset)
		c.eventLocked(Event{Kind: EvRST, Text: "read: EOF on a reset socket (TCP state CLOSE, not CLOSE_WAIT)"})
	case eof:
		e = ErrClosed
		c.finAt = c.Since()
		c.eventLocked(Event{At: c.finAt, Kind: EvFIN, Text: "peer closed the connection"})
	case isReset(err):
		e = fmt.Errorf("%w: %v", ErrReset, errnoOf(err))
		c.eventLocked(Event{Kind: EvRST, Text: "read: " + errnoOf(err)})
	case isTimeout(err):
		e = fmt.Errorf("read deadline: %w", os.ErrDeadlineExceeded)
		c.eventLocked(Event{Kind: EvDeadline, Text: "read deadline reached"})
	default:
		e = fmt.Errorf("read: %w", err)
		c.eventLocked(Event{Kind: EvError, Text: "read: " + err.Error()})
	}
	if c.readErr == nil {
		c.readErr = e
	}
}

// Ended returns the reader's terminal error once it has ended (FIN, RST,
// a protocol error or its deadline), and nil while it reads or after a
// local close.
func (c *Conn) Ended() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readErr != nil && !errors.Is(c.readErr, errLocalClose) {
		return c.readErr
	}
	return nil
}

// Send writes command lines in one write (several lines for PIPELINING,
// RFC 2920) and records them; each line is owed one reply. The write
// deadline is the earlier of ctx's deadline and timeout from now.
func (c *Conn) Send(ctx context.Context, timeout time.Duration, lines ...string) error {
	var b strings.Builder
	c.judging.Lock() // a reply read before this send is not its reply
	c.mu.Lock()
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
		c.pending++
		c.eventLocked(Event{Kind: EvSend, Text: l})
	}
	c.mu.Unlock()
	c.judging.Unlock()
	return c.write(ctx, timeout, []byte(b.String()))
}

// WriteData writes message bytes (no reply is owed for them) and records
// how many were handed to the kernel.
func (c *Conn) WriteData(ctx context.Context, timeout time.Duration, p []byte) error {
	c.mu.Lock()
	c.eventLocked(Event{Kind: EvData, Bytes: len(p)})
	c.mu.Unlock()
	return c.write(ctx, timeout, p)
}

func (c *Conn) write(ctx context.Context, timeout time.Duration, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dl := c.now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	_ = conn.SetWriteDeadline(dl)
	stop := c.watchWrite(conn, len(p)) // TCP evidence if it blocks (evidence.go)
	n, err := conn.Write(p)
	c.countWrite(conn, n)
	if se := stop(err); se != nil {
		return se
	}
	if err == nil {
		c.quickAck()
		return nil
	}
	switch {
	case isReset(err):
		c.mu.Lock()
		if c.writeReset == "" {
			c.writeReset = errnoOf(err)
		}
		c.eventLocked(Event{Kind: EvRST, Text: "write: " + errnoOf(err)})
		c.mu.Unlock()
		return fmt.Errorf("%w: %v", ErrReset, errnoOf(err))
	case isTimeout(err):
		c.Event(EvDeadline, "write deadline reached")
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("write deadline: %w", os.ErrDeadlineExceeded)
	case errors.Is(err, net.ErrClosed):
		return errLocalClose
	}
	c.Event(EvError, "write: "+err.Error())
	return fmt.Errorf("write: %w", err)
}

// ReadReply returns the next reply, waiting at most timeout (and not past
// ctx). Replies that arrived earlier, including unsolicited ones, are
// returned first, in order.
func (c *Conn) ReadReply(ctx context.Context, timeout time.Duration) (Reply, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			r := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return r, nil
		}
		if err := c.readErr; err != nil {
			c.mu.Unlock()
			return Reply{}, err
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-t.C:
			c.Event(EvDeadline, fmt.Sprintf("no reply within %s", units.Setting(timeout)))
			return Reply{}, ErrReplyTimeout
		case <-ctx.Done():
			c.Event(EvDeadline, "run deadline: "+ctx.Err().Error())
			return Reply{}, ctx.Err()
		}
	}
}

// Pause is the name of a pause in a session's timeline.
type Pause string

// The pauses a probe makes.
const (
	PauseBeforeData Pause = "pause-before-data" // after RCPT, before DATA
	PauseAfterData  Pause = "pause-after-data"  // after the 354, before the body
	ChunkPause      Pause = "chunk-pause"       // between body chunks
	PauseQuiet      Pause = "quiet"             // a timeout probe's wait for the server to close
)

func (c *Conn) pauseEvent(kind EventKind, label Pause, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eventLocked(Event{Kind: kind, Text: text, Pause: label})
}

// Cmd sends one command and reads its reply.
func (c *Conn) Cmd(ctx context.Context, timeout time.Duration, line string) (Reply, error) {
	if err := c.Send(ctx, timeout, line); err != nil {
		return Reply{}, err
	}
	return c.ReadReply(ctx, timeout)
}

// Pause goes quiet for d, recording its start and end under label. The
// peer's replies, FIN or RST during the pause are recorded by the reader
// as they happen and stay queued for ReadReply. If untilPeer is true the
// pause ends early when the peer sends anything or closes; Pause reports
// whether it did.
func (c *Conn) Pause(ctx context.Context, label Pause, d time.Duration, untilPeer bool) (peerActed bool, err error) {
	c.pauseEvent(EvPauseStart, label, fmt.Sprintf("%s %s", label, pauseLen(d)))
	defer c.pauseEvent(EvPauseEnd, label, string(label))
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		acted := c.PeerActed()
		if acted && untilPeer {
			return true, nil
		}
		select {
		case <-t.C:
			return c.PeerActed(), nil
		case <-ctx.Done():
			return acted, ctx.Err()
		case <-c.notify:
		}
	}
}

// PeerActed reports whether a reply is queued or the peer ended the
// connection.
func (c *Conn) PeerActed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The run's own deadline ending a read is not the peer acting.
	return len(c.queue) > 0 || (c.readErr != nil && !errors.Is(c.readErr, errLocalClose) &&
		!errors.Is(c.readErr, os.ErrDeadlineExceeded))
}

// WaitEnd waits up to d for the reader to end (FIN, RST or error) and
// returns its terminal error, or nil if the connection is still open.
// Queued replies are left in place.
func (c *Conn) WaitEnd(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		if err := c.Ended(); err != nil {
			return err
		}
		select {
		case <-t.C:
			return c.Ended()
		case <-ctx.Done():
			return ctx.Err()
		case <-c.notify:
		}
	}
}

// StartTLS issues STARTTLS (RFC 3207) and, on 220, runs the TLS handshake
// on the same connection. A non-220 reply is returned with a nil state and
// the session continues in the clear. Bytes the server sent after its 220
// and before the handshake are a protocol error (the response-injection
// flaw of CVE-2011-0411).
func (c *Conn) StartTLS(ctx context.Context, timeout time.Duration, cfg *tls.Config) (Reply, *tls.ConnectionState, error) {
	c.mu.Lock()
	c.stopAfter = true
	c.mu.Unlock()
	r, err := c.Cmd(ctx, timeout, "STARTTLS")
	c.mu.Lock()
	c.stopAfter = false
	done := c.done
	c.mu.Unlock()
	if err != nil {
		return r, nil, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return r, nil, ctx.Err()
	}
	c.mu.Lock()
	left := c.leftover
	c.leftover = nil
	readErr := c.readErr
	c.mu.Unlock()
	if readErr != nil {
		return r, nil, readErr
	}
	if r.Code != 220 {
		c.startReader(left)
		return r, nil, nil
	}
	if len(left) > 0 {
		pe := &ProtocolViolation{Reason: "bytes after the STARTTLS 220 reply, before the handshake", Bytes: left}
		c.Event(EvError, pe.Error())
		return r, nil, pe
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tc, err := c.handshake(hctx, cfg) // watched through TCP_INFO (evidence.go)
	if err != nil {
		c.Event(EvError, "TLS handshake: "+err.Error())
		return r, nil, &HandshakeError{Err: err}
	}
	c.quickAck()
	st := tc.ConnectionState()
	c.Event(EvTLS, fmt.Sprintf("%s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)))
	c.mu.Lock()
	c.conn = tc
	c.mu.Unlock()
	c.startReader(nil)
	return r, &st, nil
}

// HandshakeError is a failed STARTTLS handshake.
type HandshakeError struct{ Err error }

func (e *HandshakeError) Error() string { return "TLS handshake failed: " + e.Err.Error() }
func (e *HandshakeError) Unwrap() error { return e.Err }

// Abort resets the connection so that neither side keeps retransmitting
// data the path cannot carry, and the server drops the session.
func (c *Conn) Abort() {
	if tc, ok := c.raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// Close closes the connection and waits for the reader to end.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conn, done := c.conn, c.done
	c.eventLocked(Event{Kind: EvClose})
	c.mu.Unlock()
	err := conn.Close()
	if conn != c.raw {
		c.raw.Close()
	}
	<-done
	return err
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// errnoOf names the errno inside err, e.g. "ECONNRESET".
func errnoOf(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		switch en {
		case syscall.ECONNRESET:
			return "ECONNRESET"
		case syscall.EPIPE:
			return "EPIPE"
		case syscall.ECONNREFUSED:
			return "ECONNREFUSED"
		}
		return en.Error()
	}
	return err.Error()
}

// quickAck renews TCP_QUICKACK on the socket (mtu.QuickAck) after a
// write or the TLS handshake, so that the peer's next segments are
// acknowledged at once and a delayed ACK does not stall the timing of its
// next reply.
func (c *Conn) quickAck() {
	if sc, ok := c.raw.(syscall.Conn); ok {
		mtu.QuickAck(sc)
	}
}

// pauseLen spells a pause's length: as set (units.Setting) when it is a
// whole number of milliseconds, else, for a pause computed from a
// deadline ("quiet" until the longest wait ends), as measured
// (units.Duration: "20.000s", not "19.99999979s").
func pauseLen(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return units.Setting(d)
	}
	return units.Duration(d)
}
