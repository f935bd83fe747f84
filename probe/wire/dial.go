package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// DefaultConnectTimeout is Postfix's smtp_connect_timeout.
const DefaultConnectTimeout = 30 * time.Second

// Dialer opens the TCP connection of a session.
type Dialer struct {
	// Timeout bounds the connect; 0 means DefaultConnectTimeout.
	Timeout time.Duration
	// Control, if set, runs on the socket before connect, for options such
	// as IP_MTU_DISCOVER and TCP_MAXSEG (see package mtu).
	Control func(network, address string, c syscall.RawConn) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Allow, if set, is asked about every address right before its
	// socket is created; an address it refuses gets no packet at all.
	Allow func(netip.AddrPort) error
	// Hedge, if set, starts a second connect beside one whose handshake
	// has not completed after Hedge.Delay, and records the handshakes it
	// sees; nil means one connect, whose timing the session reports.
	Hedge *Hedge
}

// PolicyError is an address that the prober's Allow refused: nothing was
// sent to it.
type PolicyError struct {
	Host string // the name it was resolved from, or the literal
	Addr netip.AddrPort
	Err  error
}

func (e *PolicyError) Error() string {
	if e.Host == "" || e.Host == e.Addr.Addr().String() {
		return fmt.Sprintf("address %s: %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("address %s of %s: %v", e.Addr, e.Host, e.Err)
}

func (e *PolicyError) Unwrap() error { return e.Err }

// DialKind is how a connect failed.
type DialKind int

// The ways a connect fails.
const (
	// DialUnreachable: an ICMP unreachable, a route or policy of this
	// host, or a failure nothing else names.
	DialUnreachable DialKind = iota
	DialTimeout              // the SYN went unanswered (4.4.1 No answer from host)
	DialRefused              // an RST answered the SYN
	DialReset                // an RST came right after the handshake completed
)

func (k DialKind) String() string {
	switch k {
	case DialTimeout:
		return "connect-timeout"
	case DialRefused:
		return "refused"
	case DialReset:
		return "reset"
	}
	return "unreachable"
}

// DialError is a failed connect, classified by its Kind.
type DialError struct {
	Kind    DialKind
	Elapsed time.Duration
	Err     error
	// ICMP is the ICMP error that failed the connect, read from the
	// connecting socket's error queue (IP_RECVERR), with its sender.
	ICMP *trace.Reply
}

func (e *DialError) Error() string {
	switch e.Kind {
	case DialTimeout:
		return fmt.Sprintf("no answer to SYN within %s (4.4.1 No answer from host)", units.Duration(e.Elapsed))
	case DialRefused:
		return "connection refused (RST to SYN): " + errnoOf(e.Err)
	case DialReset:
		return "connection reset as it was established (RST after the handshake): " + errnoOf(e.Err)
	}
	if e.ICMP != nil {
		return icmpDialText(e.ICMP)
	}
	return "connect: " + e.Err.Error()
}

func (e *DialError) Unwrap() error { return e.Err }

// icmpDialText is a connect failed by an ICMP error, in words that name
// the error and who sent it.
func icmpDialText(r *trace.Reply) string {
	v6 := r.From.Is6() && !r.From.Is4In6()
	return fmt.Sprintf("connect: ICMP %s (type %d code %d) from %s", trace.ClassWords(trace.Class(v6, r.Type, r.Code)), r.Type, r.Code, r.From)
}

// LocalError is a failure of this host's own socket layer: a socket
// option the kernel refused (the MSS clamp of an mtu probe, say), or no
// file descriptors, buffers or memory for a socket. Nothing was learnt
// about the network or the peer, so it is never a network outcome: the
// probe kinds of package probe return it as their error, and front ends report it as
// UNKNOWN, a local failure (exit 3), with the errno.
type LocalError struct {
	Op  string // what failed: "socket option", "socket"
	Err error
}

func (e *LocalError) Error() string {
	msg := "local " + e.Op + " error (not the network's): " + e.Err.Error()
	if en := e.Errno(); en != 0 && !strings.Contains(e.Err.Error(), errnoName(en)) {
		msg += " (" + errnoName(en) + ")"
	}
	return msg
}

func (e *LocalError) Unwrap() error { return e.Err }

// Errno is the error number under e, or 0.
func (e *LocalError) Errno() syscall.Errno {
	var en syscall.Errno
	if errors.As(e.Err, &en) {
		return en
	}
	return 0
}

// localErrnos are connect failures of this host's resources, not of the
// path: out of descriptors (EMFILE, ENFILE), buffers (ENOBUFS) or memory
// (ENOMEM), or an address family the kernel lacks (EAFNOSUPPORT).
var localErrnos = []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.EAFNOSUPPORT}

// errnoName is an errno's symbolic name for the ones a local failure
// shows, and its number otherwise.
func errnoName(en syscall.Errno) string {
	for _, n := range []struct {
		en   syscall.Errno
		name string
	}{{syscall.EINVAL, "EINVAL"}, {syscall.EPERM, "EPERM"}, {syscall.EACCES, "EACCES"}, {syscall.ENOPROTOOPT, "ENOPROTOOPT"},
		{syscall.EMFILE, "EMFILE"}, {syscall.ENFILE, "ENFILE"}, {syscall.ENOBUFS, "ENOBUFS"}, {syscall.ENOMEM, "ENOMEM"},
		{syscall.EAFNOSUPPORT, "EAFNOSUPPORT"}} {
		if n.en == en {
			return n.name
		}
	}
	return fmt.Sprintf("errno %d", int(en))
}

// LocalFailure returns the *LocalError under a failed connect or session
// step, if the failure was local: the Control func failed (wrapped by
// Dial), or the kernel ran out of a local resource.
func LocalFailure(err error) *LocalError {
	var le *LocalError
	if errors.As(err, &le) {
		return le
	}
	for _, en := range localErrnos {
		if errors.Is(err, en) {
			return &LocalError{Op: "socket", Err: err}
		}
	}
	return nil
}

// Dial connects to addr. Failures are *DialError, or *LocalError when
// this host's socket layer failed (see LocalError), unless ctx itself
// ended, in which case ctx's error is returned.
func (d *Dialer) Dial(ctx context.Context, addr netip.AddrPort) (*Conn, error) {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	if d.Allow != nil {
		if err := d.Allow(addr); err != nil {
			// Unreachable by policy: no SYN leaves. probe.Prober.Run refuses
			// such a run before any session; this is the last line.
			return nil, &DialError{Kind: DialUnreachable, Err: &PolicyError{Addr: addr, Err: err}}
		}
	}
	start := now()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a, err := d.connect(dctx, addr)
	if err != nil {
		if le := LocalFailure(err); le != nil {
			return nil, le
		}
		if dl, ok := ctx.Deadline(); ok && ctx.Err() == nil && !time.Now().Before(dl) {
			// The dialer's own deadline, taken from ctx, can fail the
			// connect a moment before ctx reports that it is done.
			<-ctx.Done()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		de := &DialError{Kind: classifyDial(err, dctx), Elapsed: now().Sub(start), Err: err}
		if a.icmp != nil && de.Kind == DialUnreachable && a.icmp.Kind == trace.Unreachable {
			de.ICMP = a.icmp
		}
		return nil, de
	}
	c := a.c
	if dl, ok := ctx.Deadline(); ok {
		// The reader blocks in Read; the run's deadline bounds it.
		_ = c.SetReadDeadline(dl)
	}
	return newConn(c, start, now, fmt.Sprintf("%s -> %s", c.LocalAddr(), c.RemoteAddr())), nil
}

// attempt is one connect of a Dial: its connection, or its error with the
// ICMP error that failed it (read from its socket's error queue).
type attempt struct {
	c      net.Conn
	err    error
	icmp   *trace.Reply
	eq     *trace.ErrQueue
	took   time.Duration // from its SYN to the connect's return
	second bool          // the hedge's connect
}

// connect runs the connects of one Dial within dctx: one, or with
// d.Hedge a second one after the hedge's delay, at most. The first
// connect to complete wins, and the other is abandoned at once: a
// connect still waiting is closed (a SYN-ACK that comes later meets no
// socket and draws our kernel's RST, so the server keeps no half-open
// connection), and one that completed too is reset (SO_LINGER 0: an RST,
// no TIME_WAIT). A failure that is not a timeout (an RST to the SYN, an
// ICMP error, a local failure) is the answer, whichever connect met it;
// when both time out, the first connect's error is returned.
func (d *Dialer) connect(dctx context.Context, addr netip.AddrPort) (attempt, error) {
	results := make(chan attempt, 2)
	actx, abandon := context.WithCancel(dctx)
	pending := 1
	go d.connectOnce(actx, addr, false, results)
	var hedge <-chan time.Time
	if d.Hedge != nil {
		if delay, ok := d.Hedge.Delay(); ok {
			t := time.NewTimer(delay)
			defer t.Stop()
			hedge = t.C
		}
	}
	var failed *attempt // the first connect's failure, or the first one seen
	finish := func(a attempt) (attempt, error) {
		abandon()
		go drainAttempts(results, pending)
		return a, a.err
	}
	for {
		select {
		case <-hedge:
			hedge = nil
			if failed != nil || dctx.Err() != nil {
				continue // the first connect ran out of time already
			}
			pending++
			d.Hedge.started()
			go d.connectOnce(actx, addr, true, results)
		case a := <-results:
			pending--
			if a.err == nil {
				a.eq.Done()
				if d.Hedge != nil {
					if tc, ok := a.c.(*net.TCPConn); ok {
						_ = tc.SetLinger(-1) // the session closes as it would unhedged
					}
				}
				d.Hedge.Observe(a.took)
				if a.second {
					d.Hedge.wonBySecond()
				}
				return finish(a)
			}
			if r, ok := a.eq.Result(); ok {
				a.icmp = &r
			}
			if a.second && pending > 0 && LocalFailure(a.err) != nil {
				continue // the hedge's own socket failed (no descriptor, say): the first connect goes on alone
			}
			if !isTimeoutFailure(a.err, dctx) || pending == 0 {
				if failed != nil && isTimeoutFailure(a.err, dctx) && !failed.second {
					a = *failed // both timed out: the first connect's error
				}
				return finish(a)
			}
			if failed == nil || !a.second {
				failed = &a
			}
		}
	}
}

// isTimeoutFailure is a failed connect that only ran out of time (its own
// or the Dial's), which the other connect of a hedged Dial may still beat.
func isTimeoutFailure(err error, dctx context.Context) bool {
	if dctx.Err() != nil {
		return true
	}
	return LocalFailure(err) == nil && classifyDial(err, dctx) == DialTimeout
}

// connectOnce is one connect of a Dial, sent to out.
func (d *Dialer) connectOnce(ctx context.Context, addr netip.AddrPort, second bool, out chan<- attempt) {
	eq := trace.NewErrQueue() // the ICMP error of a failed connect
	ctl := eq.Control(d.Control)
	nd := net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		if err := ctl(network, address, c); err != nil {
			return &LocalError{Op: "socket option", Err: err}
		}
		if d.Hedge != nil {
			if err := resetOnClose(c); err != nil {
				return &LocalError{Op: "socket option", Err: err}
			}
		}
		return nil
	}}
	t0 := time.Now()
	c, err := nd.DialContext(ctx, "tcp", addr.String())
	out <- attempt{c: c, err: err, eq: eq, took: time.Since(t0), second: second}
}

// drainAttempts abandons the n connects of a Dial still under way once it
// has its answer: each is reset if it completed (resetOnClose made the
// dialer's own close of a connect completed too late an RST as well), and
// its socket released.
func drainAttempts(results <-chan attempt, n int) {
	for range n {
		a := <-results
		if a.c != nil {
			abort(a.c)
		}
		a.eq.Done()
	}
}

// abort closes c with an RST (SO_LINGER 0), leaving no TIME_WAIT behind.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// classifyDial names a failed connect. An RST is the peer's TCP, never an
// ICMP unreachable: in answer to the SYN (ECONNREFUSED) it is refused;
// right after the handshake completed, before the connect returned
// (ECONNRESET), it is a reset.
func classifyDial(err error, dctx context.Context) DialKind {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return DialRefused
	case errors.Is(err, syscall.ECONNRESET):
		return DialReset
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM),
		errors.Is(err, syscall.EADDRNOTAVAIL):
		return DialUnreachable
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(dctx.Err(), context.DeadlineExceeded), isTimeout(err):
		return DialTimeout
	}
	return DialUnreachable
}

// DialHost returns a dial function for an HTTP client (such as an MTA-STS
// policy fetch): the host resolved with lookup (never the system
// resolver), each address checked with d.Allow on its port before any
// packet is sent (a refused one is a *PolicyError), the connect bounded
// by d.Timeout. The connection is a plain net.Conn, not a Conn.
func (d *Dialer) DialHost(lookup func(ctx context.Context, host string) ([]netip.Addr, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		port, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("port %q: %w", portStr, err)
		}
		addrs, err := lookup(ctx, host)
		if len(addrs) == 0 {
			if err == nil {
				err = fmt.Errorf("%s has no address", host)
			}
			return nil, err
		}
		timeout := d.Timeout
		if timeout <= 0 {
			timeout = DefaultConnectTimeout
		}
		var errs []error
		for _, a := range addrs {
			ap := netip.AddrPortFrom(a, uint16(port))
			if d.Allow != nil {
				if err := d.Allow(ap); err != nil {
					errs = append(errs, &PolicyError{Host: host, Addr: ap, Err: err})
					continue
				}
			}
			nd := net.Dialer{Timeout: timeout, Control: d.Control}
			c, err := nd.DialContext(ctx, "tcp", ap.String())
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		return nil, errors.Join(errs...)
	}
}
