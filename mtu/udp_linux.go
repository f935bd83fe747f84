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
//
// For IPv4, where the kernel cannot forget one destination's cached path
// MTU (ForgetPMTU), a host allowed raw sockets (CAP_NET_RAW) sends the
// datagram itself and reads the ICMP from a raw ICMP socket instead
// (sendDFRaw4): no UDP socket owns the datagram, so the kernel has nobody
// to tell of the packet-too-big and caches nothing, and the next run's
// SYNs still advertise the interface's MSS. Otherwise the packet-too-big
// refreshes the cache like any other (Raw says which way it went).
func SendDF(ctx context.Context, dst netip.Addr, port, size int, wait time.Duration) (DFReply, error) {
	dst = dst.Unmap()
	if dst.Is4() {
		rep, err := sendDFRaw4(ctx, dst, port, size, wait)
		if !errors.Is(err, os.ErrPermission) {
			return rep, err
		}
	}
	return sendDFSocket(ctx, dst, port, size, wait)
}

// sendDFSocket is SendDF through a UDP socket with IP_RECVERR.
func sendDFSocket(ctx context.Context, dst netip.Addr, port, size int, wait time.Duration) (DFReply, error) {
	rep := DFReply{Size: size, Answer: DFSilent}
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

// sendDFRaw4 is SendDF for IPv4 through raw sockets: the IPv4 and UDP
// headers built here (RFC 791: DF set, the kernel fills in the source
// address, the ID and the header checksum for IP_HDRINCL; RFC 768: a zero
// UDP checksum means none), sent on an IPPROTO_RAW socket, and the answer
// read from an IPPROTO_ICMP socket, which gets a copy of every ICMP message,
// matched by the quoted UDP header. os.ErrPermission without CAP_NET_RAW.
func sendDFRaw4(ctx context.Context, dst netip.Addr, port, size int, wait time.Duration) (DFReply, error) {
	rep := DFReply{Size: size, Answer: DFSilent, Raw: true}
	const hdr = ipv4Header + 8
	if size < hdr || size > 65535 {
		return rep, fmt.Errorf("mtu: datagram size %d out of range", size)
	}
	rx, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_ICMP)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return rep, os.ErrPermission
		}
		return rep, os.NewSyscallError("socket raw icmp", err)
	}
	defer unix.Close(rx)
	tx, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return rep, os.ErrPermission
		}
		return rep, os.NewSyscallError("socket raw", err)
	}
	defer unix.Close(tx)
	// Ignore the cached path MTU: the kernel would refuse a datagram
	// above it before it left.
	if err := unix.SetsockoptInt(tx, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE); err != nil {
		return rep, os.NewSyscallError("setsockopt IP_MTU_DISCOVER", err)
	}
	// A source port no socket owns: the port unreachable and the
	// packet-too-big find no one to tell in the kernel.
	var rnd [2]byte
	if _, err := unix.Getrandom(rnd[:], 0); err != nil {
		return rep, os.NewSyscallError("getrandom", err)
	}
	sport := 49152 + int(binary.BigEndian.Uint16(rnd[:]))%16384
	pkt := make([]byte, size)
	be := binary.BigEndian
	pkt[0] = 0x45 // version 4, IHL 5
	be.PutUint16(pkt[2:], uint16(size))
	be.PutUint16(pkt[6:], 0x4000) // DF
	pkt[8] = 64                   // TTL
	pkt[9] = unix.IPPROTO_UDP
	d4 := dst.As4()
	copy(pkt[16:20], d4[:])
	u := pkt[ipv4Header:]
	be.PutUint16(u[0:], uint16(sport))
	be.PutUint16(u[2:], uint16(port))
	be.PutUint16(u[4:], uint16(size-ipv4Header))
	start := time.Now()
	if err := unix.Sendto(tx, pkt, 0, &unix.SockaddrInet4{Addr: d4}); err != nil {
		if errors.Is(err, unix.EMSGSIZE) {
			return rep, fmt.Errorf("mtu: datagram of %d bytes is above the interface MTU: %w", size, err)
		}
		return rep, os.NewSyscallError("sendto raw", err)
	}
	deadline := start.Add(wait)
	buf := make([]byte, 1500)
	for {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return rep, ctx.Err()
		}
		pfd := []unix.PollFd{{Fd: int32(rx), Events: unix.POLLIN}}
		ms := int(min(left, 20*time.Millisecond) / time.Millisecond)
		if _, err := unix.Poll(pfd, max(ms, 1)); err != nil && !errors.Is(err, unix.EINTR) {
			return rep, os.NewSyscallError("poll", err)
		}
		for {
			n, _, err := unix.Recvfrom(rx, buf, 0)
			if err != nil {
				break // EAGAIN: poll again
			}
			if matchICMP4(buf[:n], d4, sport, port, &rep) {
				rep.After = time.Since(start)
				return rep, nil
			}
		}
	}
}

// matchICMP4 reads an IPv4 packet carrying ICMP (as a raw socket delivers
// it) into rep when it is an error about our datagram: its quoted IPv4
// header is towards dst, and the quoted UDP header has our ports.
func matchICMP4(p []byte, dst [4]byte, sport, dport int, rep *DFReply) bool {
	if len(p) < ipv4Header || p[0]>>4 != 4 {
		return false
	}
	ihl := int(p[0]&0x0f) * 4
	if len(p) < ihl+8 {
		return false
	}
	from := netip.AddrFrom4([4]byte(p[12:16]))
	icmp := p[ihl:]
	typ, code := int(icmp[0]), int(icmp[1])
	if typ != icmpUnreach && typ != 11 && typ != 12 {
		return false // not an error about a datagram
	}
	in := icmp[8:]
	if len(in) < ipv4Header || in[0]>>4 != 4 {
		return false
	}
	iihl := int(in[0]&0x0f) * 4
	if len(in) < iihl+8 || in[9] != unix.IPPROTO_UDP || [4]byte(in[16:20]) != dst {
		return false
	}
	be := binary.BigEndian
	if int(be.Uint16(in[iihl:])) != sport || int(be.Uint16(in[iihl+2:])) != dport {
		return false
	}
	rep.From = from
	switch {
	case typ == icmpUnreach && code == icmpFragNeeded:
		rep.Answer, rep.MTU = DFTooBig, int(be.Uint16(icmp[6:]))
	case typ == icmpUnreach && code == icmpPortUnreach:
		rep.Answer = DFArrived
	default:
		rep.Answer, rep.Type, rep.Code = DFOther, typ, code
	}
	return true
}
