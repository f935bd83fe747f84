//go:build linux

package mtu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ICMP types and codes a DF datagram can draw (RFC 792, RFC 4443).
const (
	icmpUnreach     = 3 // destination unreachable
	icmpPortUnreach = 3 // its code: port unreachable
	icmpFragNeeded  = 4 // its code: fragmentation needed and DF set
	icmp6Unreach    = 1 // destination unreachable
	icmp6PortUnr    = 4 // its code: port unreachable
	icmp6TooBig     = 2 // packet too big
)

// SendDF sends one UDP datagram of IP size size with DF set
// (IP_PMTUDISC_PROBE: DF, and the kernel's cached path MTU ignored up to
// the interface's) to dst:port, and waits up to wait for the ICMP error it
// draws, which IP_RECVERR queues on the socket (as tracepath reads it). The
// error is for this host's socket layer only; what the path did is in the
// reply.
func SendDF(ctx context.Context, dst netip.Addr, port, size int, wait time.Duration) (DFReply, error) {
	rep := DFReply{Size: size, Answer: DFSilent}
	dst = dst.Unmap()
	v6 := dst.Is6()
	var (
		fam, hdr int
		sa       unix.Sockaddr
	)
	switch {
	case v6:
		fam, hdr = unix.AF_INET6, ipv6Header+8
		sa = &unix.SockaddrInet6{Port: port, Addr: dst.As16()}
	case dst.Is4():
		fam, hdr = unix.AF_INET, ipv4Header+8
		sa = &unix.SockaddrInet4{Port: port, Addr: dst.As4()}
	default:
		return rep, errors.New("mtu: SendDF: invalid address")
	}
	if size < hdr {
		return rep, fmt.Errorf("mtu: datagram size %d below the headers (%d)", size, hdr)
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return rep, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if v6 {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1)
		}
	} else {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1)
		}
	}
	if err != nil {
		return rep, os.NewSyscallError("setsockopt", err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		return rep, os.NewSyscallError("connect", err)
	}
	payload := make([]byte, size-hdr)
	start := time.Now()
	if err := unix.Send(fd, payload, 0); err != nil {
		return rep, os.NewSyscallError("send", err)
	}
	deadline := start.Add(wait)
	buf := make([]byte, 64)
	oob := make([]byte, 512)
	for {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return rep, ctx.Err()
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		ms := int(min(left, 20*time.Millisecond) / time.Millisecond)
		if _, err := unix.Poll(pfd, max(ms, 1)); err != nil && !errors.Is(err, unix.EINTR) {
			return rep, os.NewSyscallError("poll", err)
		}
		if pfd[0].Revents&(unix.POLLERR|unix.POLLIN) == 0 {
			continue
		}
		_, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_ERRQUEUE)
		if errors.Is(err, unix.EAGAIN) {
			// POLLIN without an error: a reply datagram from a port that
			// was open after all. The path carried the datagram.
			if n, _, rerr := unix.Recvfrom(fd, buf, 0); rerr == nil && n >= 0 {
				rep.Answer, rep.From, rep.After = DFArrived, dst, time.Since(start)
				return rep, nil
			}
			continue
		}
		if err != nil {
			return rep, os.NewSyscallError("recvmsg MSG_ERRQUEUE", err)
		}
		if parseRecvErr(oob[:oobn], &rep) {
			rep.After = time.Since(start)
			return rep, nil
		}
	}
}

// parseRecvErr reads the struct sock_extended_err (linux/errqueue.h) and
// the offender's address after it from an IP_RECVERR / IPV6_RECVERR
// control message into rep; false when there is none from ICMP.
func parseRecvErr(oob []byte, rep *DFReply) bool {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return false
	}
	ne := binary.NativeEndian
	for _, m := range msgs {
		if !(m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_RECVERR) &&
			!(m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_RECVERR) {
			continue
		}
		d := m.Data
		if len(d) < 16 {
			continue
		}
		origin, typ, code := d[4], int(d[5]), int(d[6])
		info := int(ne.Uint32(d[8:]))
		if origin != unix.SO_EE_ORIGIN_ICMP && origin != unix.SO_EE_ORIGIN_ICMP6 {
			continue
		}
		off := d[16:]
		if len(off) >= 8 && ne.Uint16(off) == unix.AF_INET {
			rep.From = netip.AddrFrom4([4]byte(off[4:8]))
		} else if len(off) >= 24 && ne.Uint16(off) == unix.AF_INET6 {
			rep.From = netip.AddrFrom16([16]byte(off[8:24])).Unmap()
		}
		v6 := origin == unix.SO_EE_ORIGIN_ICMP6
		switch {
		case !v6 && typ == icmpUnreach && code == icmpFragNeeded, v6 && typ == icmp6TooBig:
			rep.Answer, rep.MTU = DFTooBig, info
		case !v6 && typ == icmpUnreach && code == icmpPortUnreach, v6 && typ == icmp6Unreach && code == icmp6PortUnr:
			rep.Answer = DFArrived
		default:
			rep.Answer, rep.Type, rep.Code = DFOther, typ, code
		}
		return true
	}
	return false
}
