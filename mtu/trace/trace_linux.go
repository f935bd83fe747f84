//go:build linux

package trace

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TCPProbe is the sweep's ProbeFunc on Linux: one non-blocking TCP
// connect to dst whose SYN leaves with TTL (hop limit) ttl, on a socket
// with IP_RECVERR / IPV6_RECVERR. In SYN-SENT, Linux aborts the connect on
// any ICMP error about the SYN (net/ipv4/tcp_ipv4.c tcp_v4_err, time
// exceeded included) and, with RECVERR, first queues it with the sender's
// address; a SYN-ACK completes the connect (which is then reset at once,
// SO_LINGER 0), an RST refuses it. Silence lasts until ctx is done.
func TCPProbe(ctx context.Context, dst netip.AddrPort, ttl int, sent func()) Reply {
	start := time.Now()
	v6 := is6(dst.Addr())
	fd, err := socketFor(v6)
	if err != nil {
		sent()
		return Reply{Kind: LocalError, Err: err}
	}
	f := os.NewFile(uintptr(fd), "trace-probe")
	reset := false
	defer func() {
		if reset {
			_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		}
		f.Close()
	}()
	if err := setTTL(fd, v6, ttl); err != nil {
		sent()
		return Reply{Kind: LocalError, Err: err}
	}
	if err := setRecvErr(fd, v6, true); err != nil {
		sent()
		return Reply{Kind: LocalError, Err: err}
	}
	err = unix.Connect(fd, sockaddr(dst))
	sent()
	switch {
	case err == nil:
	case errors.Is(err, unix.EINPROGRESS):
		rc, cerr := f.SyscallConn()
		if cerr != nil {
			return Reply{Kind: LocalError, Err: cerr}
		}
		stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
		defer stop()
		werr := rc.Write(func(uintptr) bool { return connectDone(fd) })
		if werr != nil {
			if ctx.Err() != nil || errors.Is(werr, os.ErrDeadlineExceeded) {
				// One last look: an answer that raced the deadline.
				if !connectDone(fd) {
					return Reply{Kind: Silent}
				}
			} else {
				return Reply{Kind: LocalError, Err: werr}
			}
		}
	default:
		// Refused before a packet left (no route here, EACCES from a
		// local firewall): the error queue may still name a local error.
		if r, ok := readErrQueue(fd); ok {
			r.RTT = time.Since(start)
			return r
		}
		return Reply{Kind: LocalError, Err: os.NewSyscallError("connect", err), RTT: time.Since(start)}
	}
	rtt := time.Since(start)
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return Reply{Kind: LocalError, Err: os.NewSyscallError("getsockopt SO_ERROR", err)}
	}
	switch e := syscall.Errno(soerr); {
	case e == 0:
		reset = true
		return Reply{Kind: SynAck, From: dst.Addr(), RTT: rtt}
	case e == unix.ECONNREFUSED:
		return Reply{Kind: Reset, From: dst.Addr(), RTT: rtt}
	default:
		if r, ok := readErrQueue(fd); ok {
			r.RTT = rtt
			return r
		}
		return Reply{Kind: LocalError, Err: os.NewSyscallError("connect", e), RTT: rtt}
	}
}

// connectDone reports whether a non-blocking connect on fd has ended
// (writable, or an error pending), without consuming the error.
func connectDone(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n > 0 && pfd[0].Revents&(unix.POLLOUT|unix.POLLERR|unix.POLLHUP) != 0
}

func socketFor(v6 bool) (int, error) {
	fam := unix.AF_INET
	if v6 {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if is6(ap.Addr()) {
		return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
}

func setTTL(fd int, v6 bool, ttl int) error {
	if v6 {
		return os.NewSyscallError("setsockopt IPV6_UNICAST_HOPS", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl))
	}
	return os.NewSyscallError("setsockopt IP_TTL", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl))
}

func setRecvErr(fd int, v6 bool, on bool) error {
	v := 0
	if on {
		v = 1
	}
	if v6 {
		return os.NewSyscallError("setsockopt IPV6_RECVERR", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, v))
	}
	return os.NewSyscallError("setsockopt IP_RECVERR", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, v))
}

// readErrQueue reads one entry of fd's error queue (MSG_ERRQUEUE).
func readErrQueue(fd int) (Reply, bool) {
	buf := make([]byte, 64)
	oob := make([]byte, 512)
	_, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if err != nil {
		return Reply{}, false
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return Reply{}, false
	}
	for _, m := range msgs {
		if (m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_RECVERR) ||
			(m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_RECVERR) {
			e, err := ParseExtErr(m.Data)
			if err != nil {
				return Reply{}, false
			}
			r := ReplyFromExtErr(e)
			if r.Kind == LocalError {
				r.Err = syscall.Errno(e.Errno)
			}
			return r, true
		}
	}
	return Reply{}, false
}

// ErrQueue reads the ICMP error that failed a dial on the dialing socket
// itself: Control sets IP_RECVERR / IPV6_RECVERR before connect and keeps a
// duplicate of the descriptor, so that the error queue can still be read
// after the dialer closed its own. Call Result or Done exactly once.
type ErrQueue struct {
	mu sync.Mutex
	fd int
	v6 bool
}

// NewErrQueue returns an ErrQueue with no socket yet.
func NewErrQueue() *ErrQueue { return &ErrQueue{fd: -1} }

// Control wraps next (which may be nil) as a net.Dialer Control func.
func (q *ErrQueue) Control(next func(network, address string, c syscall.RawConn) error) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		if next != nil {
			if err := next(network, address, c); err != nil {
				return err
			}
		}
		v6 := network == "tcp6"
		var serr error
		err := c.Control(func(fd uintptr) {
			if serr = setRecvErr(int(fd), v6, true); serr != nil {
				return
			}
			d, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				serr = os.NewSyscallError("dup", err)
				return
			}
			q.mu.Lock()
			if q.fd >= 0 {
				unix.Close(q.fd)
			}
			q.fd, q.v6 = d, v6
			q.mu.Unlock()
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// Result reads the error queue of a failed dial and releases the socket.
func (q *ErrQueue) Result() (Reply, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fd < 0 {
		return Reply{}, false
	}
	r, ok := readErrQueue(q.fd)
	unix.Close(q.fd)
	q.fd = -1
	return r, ok
}

// Done is for a dial that succeeded (or timed out): it turns RECVERR off
// again, so that a transient ICMP error cannot abort the established
// connection (tcp_v4_err makes such errors fatal with RECVERR), and
// releases the duplicate (which would otherwise keep a timed-out connect
// retransmitting its SYN).
func (q *ErrQueue) Done() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fd < 0 {
		return
	}
	_ = setRecvErr(q.fd, q.v6, false)
	unix.Close(q.fd)
	q.fd = -1
}
