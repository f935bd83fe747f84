package wire

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smtpprobe/smtpprobe/mtu"
)

// blackholed returns a loopback address whose SYNs go unanswered: a
// listener with a backlog of 0 whose accept queue is filled and never
// drained, so that Linux drops further SYNs (tcp_conn_request drops a SYN
// when the accept queue is full). Nothing leaves loopback.
func blackholed(tb testing.TB) netip.AddrPort {
	tb.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		tb.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	// Fill the queue until a connect no longer completes.
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", ap.String(), 150*time.Millisecond)
		if err != nil {
			return ap
		}
		tb.Cleanup(func() { c.Close() })
	}
	tb.Fatalf("blackholed(): %s still accepts connections after 8", ap)
	return ap
}

func TestDialTimeoutIsBoundedByContext(t *testing.T) {
	t.Parallel()
	addr := blackholed(t)
	t.Run("connect timeout", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		_, err := (&Dialer{Timeout: 300 * time.Millisecond}).Dial(context.Background(), addr)
		var de *DialError
		if !errors.As(err, &de) || de.Kind != DialTimeout {
			t.Fatalf("Dial(blackholed, 300ms) = %v, want a connect-timeout DialError", err)
		}
		if el := time.Since(start); el < 300*time.Millisecond || el > 3*time.Second {
			t.Errorf("Dial(blackholed, 300ms) took %s, want about 300ms", el)
		}
	})
	t.Run("run deadline before the connect timeout", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := (&Dialer{Timeout: 30 * time.Second}).Dial(ctx, addr)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Dial(blackholed, ctx 300ms, connect 30s) = %v, want context.DeadlineExceeded", err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("Dial(blackholed, ctx 300ms) took %s, want the run's deadline to bound it", el)
		}
	})
	t.Run("cancelled while connecting", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := (&Dialer{Timeout: 30 * time.Second}).Dial(ctx, addr)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial(blackholed, cancelled after 200ms) = %v, want context.Canceled", err)
		}
	})
}

// An RST during the connect is the peer's TCP: refused (RST to the SYN)
// or reset (RST right after the handshake), never unreachable (issue 9
// item 3).
func TestClassifyDial(t *testing.T) {
	op := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	tests := []struct {
		err  error
		want DialKind
	}{
		{op(syscall.ECONNREFUSED), DialRefused},
		{op(syscall.ECONNRESET), DialReset},
		{op(syscall.EHOSTUNREACH), DialUnreachable},
		{op(syscall.ENETUNREACH), DialUnreachable},
		{op(syscall.ETIMEDOUT), DialTimeout},
	}
	for _, tc := range tests {
		if got := classifyDial(tc.err, context.Background()); got != tc.want {
			t.Errorf("classifyDial(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// A failure of this host's socket layer is a *LocalError with its errno,
// never a network outcome: a Control func's error (a socket option the
// kernel refused) and the resource errnos of a connect.
func TestLocalError(t *testing.T) {
	op := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	ctl := &net.OpError{Op: "dial", Net: "tcp", Err: &LocalError{Op: "socket option", Err: os.NewSyscallError("setsockopt", syscall.EINVAL)}}
	for _, tc := range []struct {
		err   error
		local bool
		errno syscall.Errno
	}{
		{ctl, true, syscall.EINVAL},
		{op(syscall.EMFILE), true, syscall.EMFILE},
		{op(syscall.ENOBUFS), true, syscall.ENOBUFS},
		{op(syscall.ECONNREFUSED), false, 0},
		{op(syscall.EHOSTUNREACH), false, 0},
		{op(syscall.ETIMEDOUT), false, 0},
	} {
		le := LocalFailure(tc.err)
		if (le != nil) != tc.local {
			t.Errorf("LocalFailure(%v) = %v, want local %v", tc.err, le, tc.local)
			continue
		}
		if le != nil && le.Errno() != tc.errno {
			t.Errorf("LocalFailure(%v).Errno() = %v, want %v", tc.err, le.Errno(), tc.errno)
		}
	}
}

// The MSS clamp of an mtu probe at a loopback-sized packet (65535 bytes:
// TCP_MAXSEG 65495, above Linux's 32767) is refused by the kernel: Dial
// says so as a *LocalError with EINVAL, not as unreachable.
func TestDialRefusedClampIsLocal(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	_, err = (&Dialer{Control: mtu.Control(mtu.ClampForPacket(65535, false))}).Dial(t.Context(), addr)
	var le *LocalError
	if !errors.As(err, &le) || le.Errno() != syscall.EINVAL {
		t.Fatalf("Dial(with TCP_MAXSEG 65495) = %v, want a *LocalError with EINVAL", err)
	}
	var de *DialError
	if errors.As(err, &de) {
		t.Errorf("Dial(with TCP_MAXSEG 65495) = %v, a *DialError (%s); want only the local error", err, de.Kind)
	}
	if !strings.Contains(err.Error(), "TCP_MAXSEG=65495") || !strings.Contains(err.Error(), "EINVAL") {
		t.Errorf("Dial error %q, want the option, its value and EINVAL", err)
	}
}
