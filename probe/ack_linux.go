package probe

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// waitAcked polls TCP_INFO until the socket has no unacknowledged and no
// unsent bytes, or the peer reset the connection, or timeout passes.
func waitAcked(ctx context.Context, c *Conn, timeout time.Duration) error {
	sc, ok := c.Raw().(syscall.Conn)
	if !ok {
		return fmt.Errorf("not a TCP socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		var (
			info  *unix.TCPInfo
			soErr int
			gerr  error
		)
		if err := rc.Control(func(fd uintptr) {
			info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			if gerr == nil {
				soErr, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
			}
		}); err != nil {
			return err
		}
		if gerr != nil {
			return gerr
		}
		if soErr != 0 {
			e := syscall.Errno(soErr)
			c.Event(EvRST, "socket error: "+errnoOf(e))
			return fmt.Errorf("%w: %v", ErrReset, errnoOf(e))
		}
		if info.State == unix.BPF_TCP_CLOSE {
			c.Event(EvRST, "socket closed by RST")
			return fmt.Errorf("%w: connection closed", ErrReset)
		}
		if info.Unacked == 0 && info.Notsent_bytes == 0 {
			c.Event(EvData, fmt.Sprintf("all bytes acknowledged (TCP_INFO: %d bytes acked, %d retransmits)", info.Bytes_acked, info.Total_retrans))
			return nil
		}
		if time.Now().After(deadline) {
			c.Event(EvDeadline, fmt.Sprintf("bytes still unacknowledged after %s (TCP_INFO: %d segments unacked, %d retransmits)", timeout, info.Unacked, info.Total_retrans))
			return fmt.Errorf("body not acknowledged within %s: %w", timeout, ErrReplyTimeout)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
}
