package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smtpprobe/smtpprobe/mtu"
)

// waitAcked waits until TCP has acknowledged every byte written on c
// (mtu.Watch over TCP_INFO and SIOCOUTQ), the peer reset the connection,
// the segments are lost (retransmissions without ACK progress), or
// timeout passes.
func waitAcked(ctx context.Context, c *Conn, timeout time.Duration) error {
	sc, ok := c.Raw().(syscall.Conn)
	if !ok {
		return errors.ErrUnsupported
	}
	v, info, err := mtu.Watch(ctx, sc, 0, mtu.WatchOptions{MaxWait: timeout})
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
	c.Event(EvDeadline, fmt.Sprintf("bytes still unacknowledged after %s (%d segments unacked)", timeout, info.Unacked))
	return fmt.Errorf("body not acknowledged within %s: %w", timeout, ErrReplyTimeout)
}

// quickAck asks the kernel to acknowledge the next segments at once
// (TCP_QUICKACK) instead of delaying the ACK up to 40 ms. Without it a
// server that sends TLS 1.3 session tickets and then, under Nagle's
// algorithm, holds its next reply until those are acknowledged adds a
// delayed-ACK stall to the probe's timing of that reply. The mode is not
// sticky, so it is renewed after each write.
func quickAck(c *Conn) {
	sc, ok := c.Raw().(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
}

// tcpReset reports whether the socket under c is in TCP state CLOSE,
// which after a read's EOF means the peer reset the connection (a FIN
// leaves it in CLOSE_WAIT).
func tcpReset(c net.Conn) (bool, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, errors.ErrUnsupported
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	var (
		info *unix.TCPInfo
		gerr error
	)
	if err := raw.Control(func(fd uintptr) {
		info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return false, err
	}
	if gerr != nil {
		return false, gerr
	}
	return info.State == tcpStateClose, nil
}

// tcpStateClose is TCP_CLOSE in include/net/tcp_states.h.
const tcpStateClose = 7
