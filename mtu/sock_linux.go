//go:build linux

package mtu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Control returns a net.Dialer Control func that, before connect, sets DF
// (IP_MTU_DISCOVER=IP_PMTUDISC_DO for tcp4; IPV6_MTU_DISCOVER=IPV6_PMTUDISC_DO
// for tcp6) and, if mss > 0, TCP_MAXSEG=mss.
//
// IP_PMTUDISC_PROBE is deliberately not used: it does not set DF on TCP
// segments. With IP_PMTUDISC_DO every segment carries DF (RFC 1191 §3) and
// the kernel still honours ICMP "fragmentation needed" (RFC 1191 §4) and
// ICMPv6 "packet too big" (RFC 8201 §4) by lowering the socket's path MTU,
// which PathMTU and Info.PMTU then show.
//
// mss is the TCP_MAXSEG value, which like the MSS option (RFC 9293 §3.7.1)
// excludes TCP options: use ClampForPacket to get it from an IP packet size.
// Linux accepts 88..32767.
func Control(mss int) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var level, opt, val int
		switch network {
		case "tcp4":
			level, opt, val = unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO
		case "tcp6":
			level, opt, val = unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO
		default:
			return fmt.Errorf("mtu: Control: network %q, want tcp4 or tcp6", network)
		}
		var serr error
		err := c.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), level, opt, val); serr != nil {
				serr = os.NewSyscallError("setsockopt IP_MTU_DISCOVER", serr)
				return
			}
			if mss > 0 {
				if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, mss); serr != nil {
					serr = fmt.Errorf("mtu: TCP_MAXSEG=%d: %w", mss, os.NewSyscallError("setsockopt", serr))
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// TCPInfo reads TCP_INFO of c.
func TCPInfo(c syscall.Conn) (Info, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Info{}, err
	}
	return tcpInfo(raw)
}

func tcpInfo(raw syscall.RawConn) (Info, error) {
	var ti unix.TCPInfo
	var n uint32
	var serr error
	if err := raw.Control(func(fd uintptr) {
		n, serr = getTCPInfo(int(fd), &ti)
	}); err != nil {
		return Info{}, err
	}
	if serr != nil {
		return Info{}, os.NewSyscallError("getsockopt TCP_INFO", serr)
	}
	return infoFrom(&ti, n), nil
}

// getTCPInfo is getsockopt(TCP_INFO) that also returns how many bytes the
// kernel filled in: an older kernel copies only its own, shorter struct
// (tcpi_rcv_ooopack arrived in Linux 5.4), and the zeroed rest would read
// as "none" rather than "not reported".
func getTCPInfo(fd int, ti *unix.TCPInfo) (uint32, error) {
	n := uint32(unsafe.Sizeof(*ti))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_INFO,
		uintptr(unsafe.Pointer(ti)), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return 0, e
	}
	return n, nil
}

// infoFrom converts the kernel's struct tcp_info, of which n bytes were
// filled in. The struct is zeroed before the call and the kernel copies at
// most its own length, so fields an older kernel lacks stay 0.
func infoFrom(ti *unix.TCPInfo, n uint32) Info {
	us := func(v uint32) time.Duration { return time.Duration(v) * time.Microsecond }
	msd := func(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }
	has := func(off, size uintptr) bool { return uintptr(n) >= off+size }
	return Info{
		State:         ti.State,
		RTT:           us(ti.Rtt),
		RTTVar:        us(ti.Rttvar),
		RTO:           us(ti.Rto),
		SndMSS:        int(ti.Snd_mss),
		RcvMSS:        int(ti.Rcv_mss),
		AdvMSS:        int(ti.Advmss),
		PMTU:          int(ti.Pmtu),
		Unacked:       int(ti.Unacked),
		Sacked:        int(ti.Sacked),
		Retransmits:   int(ti.Retransmits),
		Backoff:       int(ti.Backoff),
		Retrans:       int(ti.Retrans),
		TotalRetrans:  int(ti.Total_retrans),
		Lost:          int(ti.Lost),
		Reordering:    int(ti.Reordering),
		RcvOOOPack:    int(ti.Rcv_ooopack),
		HasRcvOOOPack: has(unsafe.Offsetof(ti.Rcv_ooopack), unsafe.Sizeof(ti.Rcv_ooopack)),
		BytesAcked:    ti.Bytes_acked,
		BytesReceived: ti.Bytes_received,
		BytesSent:     ti.Bytes_sent,
		BytesRetrans:  ti.Bytes_retrans,
		SegsOut:       int(ti.Segs_out),
		SegsIn:        int(ti.Segs_in),
		DataSegsOut:   int(ti.Data_segs_out),
		DataSegsIn:    int(ti.Data_segs_in),
		LastDataSent:  msd(ti.Last_data_sent),
		LastDataRecv:  msd(ti.Last_data_recv),
		LastAckRecv:   msd(ti.Last_ack_recv),
		SndCwnd:       int(ti.Snd_cwnd),
		NotSentBytes:  int(ti.Notsent_bytes),
		Options:       ti.Options,
	}
}

// sockFamily returns AF_INET or AF_INET6 for a socket.
func sockFamily(fd int) (int, error) {
	return unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
}

// PathMTU returns IP_MTU (IPv4) or IPV6_MTU (IPv6) of a connected socket: the
// kernel's current path MTU towards the peer (IPv4 caps it at 65535, so
// 127.0.0.1 gives 65535 and ::1 65536), lowered by ICMP "fragmentation
// needed" / "packet too big" and cached per destination for about 10 minutes
// (net.ipv4.route.mtu_expires, 600 s).
func PathMTU(c syscall.Conn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var mtu int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		var fam int
		if fam, serr = sockFamily(int(fd)); serr != nil {
			return
		}
		if fam == unix.AF_INET6 {
			mtu, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU)
		} else {
			mtu, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU)
		}
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, os.NewSyscallError("getsockopt IP_MTU", serr)
	}
	return mtu, nil
}

// SetMSS sets TCP_MAXSEG on c. On Linux this only changes the clamp used when
// a connection is set up (tcp_connect_init copies it into the MSS clamp):
// on an established connection it does not change the send MSS (see
// TestSetMSSLive), so clamp before connect with Control instead. It is
// useful on a listener, whose accepted connections inherit it.
func SetMSS(c syscall.Conn, mss int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, mss)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("mtu: TCP_MAXSEG=%d: %w", mss, os.NewSyscallError("setsockopt", serr))
	}
	return nil
}

// InterfaceMTU returns the MTU of the interface the kernel routes dst
// through (netlink RTM_GETROUTE, then the interface's MTU), capped at MaxIP
// so that it can be a Search's Max as is (lo's MTU is 65536). It ignores
// any path MTU learned from ICMP, which RouteMTU reports, and an "mtu" set
// on the route itself.
func InterfaceMTU(dst netip.Addr) (int, error) {
	idx, err := routeOIF(dst)
	if err != nil {
		return 0, err
	}
	ifi, err := net.InterfaceByIndex(idx)
	if err != nil {
		return 0, fmt.Errorf("mtu: route to %s: %w", dst, err)
	}
	return min(ifi.MTU, MaxIP), nil
}

// routeOIF asks the kernel, like "ip route get", for the outgoing interface
// towards dst.
func routeOIF(dst netip.Addr) (int, error) {
	ri, err := routeGet(dst)
	if err != nil {
		return 0, err
	}
	if ri.oif == 0 {
		return 0, fmt.Errorf("mtu: route to %s has no outgoing interface", dst)
	}
	return ri.oif, nil
}

// routeInfo is what RTM_GETROUTE says about the route towards one address.
type routeInfo struct {
	oif     int           // RTA_OIF
	mtu     int           // RTA_METRICS RTAX_MTU: the route's MTU or a learned path MTU; 0 if none
	expires time.Duration // RTA_CACHEINFO rta_expires: when a learned path MTU expires; 0 if never
	cloned  bool          // RTM_F_CLONED: a route exception (cached entry)
}

// userHZ is the unit of rta_cacheinfo's times (clock_t, USER_HZ): 100 on
// every Linux architecture that Go supports.
const userHZ = 100

// netlinkRoute sends one rtnetlink request (an rtmsg with rtm_flags flags
// and RTA_DST dst) and hands each reply message of its sequence to each.
// With ack, the request asks for an acknowledgement and a zero error ends
// the exchange.
func netlinkRoute(dst netip.Addr, typ uint16, flags uint32, table uint8, ack bool, each func(*syscall.NetlinkMessage) (bool, error)) error {
	dst = dst.Unmap()
	if !dst.IsValid() {
		return errors.New("mtu: route lookup: invalid address")
	}
	fam := unix.AF_INET
	if dst.Is6() {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return os.NewSyscallError("socket AF_NETLINK", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval((2 * time.Second).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return os.NewSyscallError("setsockopt SO_RCVTIMEO", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return os.NewSyscallError("bind AF_NETLINK", err)
	}

	addr := dst.AsSlice()
	attrLen := unix.SizeofRtAttr + len(addr) // 4-byte aligned for 4 and 16
	msg := make([]byte, unix.SizeofNlMsghdr+unix.SizeofRtMsg+attrLen)
	ne := binary.NativeEndian
	const seq = 1
	nlFlags := uint16(unix.NLM_F_REQUEST)
	if ack {
		nlFlags |= unix.NLM_F_ACK
	}
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], typ)
	ne.PutUint16(msg[6:], nlFlags)
	ne.PutUint32(msg[8:], seq)
	rt := msg[unix.SizeofNlMsghdr:]
	rt[0] = byte(fam)           // rtm_family
	rt[1] = byte(len(addr) * 8) // rtm_dst_len
	rt[4] = table               // rtm_table
	ne.PutUint32(rt[8:], flags) // rtm_flags
	a := rt[unix.SizeofRtMsg:]
	ne.PutUint16(a[0:], uint16(attrLen))
	ne.PutUint16(a[2:], unix.RTA_DST)
	copy(a[unix.SizeofRtAttr:], addr)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return os.NewSyscallError("sendto netlink", err)
	}

	buf := make([]byte, 1<<16)
	for range 8 { // a reply is one message (and an ack); skip at most a few strays
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return os.NewSyscallError("recvfrom netlink", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("mtu: netlink: %w", err)
		}
		for i := range msgs {
			m := &msgs[i]
			if m.Header.Seq != seq {
				continue
			}
			if m.Header.Type == unix.NLMSG_ERROR {
				if len(m.Data) < 4 {
					return errors.New("mtu: netlink: short error message")
				}
				if errno := -int32(ne.Uint32(m.Data)); errno != 0 {
					return syscall.Errno(errno)
				}
				if ack {
					return nil
				}
				continue
			}
			done, err := each(m)
			if err != nil || done {
				return err
			}
		}
	}
	return fmt.Errorf("mtu: netlink request for %s: no answer", dst)
}

// routeGet asks the kernel, like "ip route get", for the route towards dst.
func routeGet(dst netip.Addr) (routeInfo, error) {
	var ri routeInfo
	ne := binary.NativeEndian
	err := netlinkRoute(dst, unix.RTM_GETROUTE, 0, 0, false, func(m *syscall.NetlinkMessage) (bool, error) {
		if m.Header.Type != unix.RTM_NEWROUTE {
			return false, nil
		}
		if len(m.Data) >= unix.SizeofRtMsg {
			ri.cloned = ne.Uint32(m.Data[8:])&unix.RTM_F_CLONED != 0
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return true, fmt.Errorf("mtu: route lookup: %w", err)
		}
		for _, at := range attrs {
			switch {
			case at.Attr.Type == unix.RTA_OIF && len(at.Value) >= 4:
				ri.oif = int(ne.Uint32(at.Value))
			case at.Attr.Type == unix.RTA_METRICS:
				ri.mtu = metricMTU(at.Value)
			case at.Attr.Type == unix.RTA_CACHEINFO && len(at.Value) >= 12:
				// struct rta_cacheinfo: clntref, lastuse, expires (int32, clock_t)
				if e := int32(ne.Uint32(at.Value[8:])); e > 0 {
					ri.expires = time.Duration(e) * time.Second / userHZ
				}
			}
		}
		return true, nil
	})
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return ri, fmt.Errorf("mtu: no route to %s: %w", dst, err)
		}
		return ri, err
	}
	return ri, nil
}

// metricMTU finds RTAX_MTU in the nested attributes of RTA_METRICS.
func metricMTU(b []byte) int {
	ne := binary.NativeEndian
	for len(b) >= unix.SizeofRtAttr {
		l := int(ne.Uint16(b[0:]))
		typ := ne.Uint16(b[2:])
		if l < unix.SizeofRtAttr || l > len(b) {
			return 0
		}
		if typ == unix.RTAX_MTU && l >= unix.SizeofRtAttr+4 {
			return int(ne.Uint32(b[unix.SizeofRtAttr:]))
		}
		l = (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if l > len(b) {
			return 0
		}
		b = b[l:]
	}
	return 0
}

// CachedPMTU reports the path MTU the kernel learned from ICMP towards dst
// (RFC 1191 §4, RFC 8201 §4) and still keeps, as "ip route get" shows it
// ("cache expires 512sec mtu 1400"): a route exception that lowers the
// MSS our SYNs advertise and caps the segments we send, for every
// connection to dst, until it expires (net.ipv4.route.mtu_expires, 600 s,
// for IPv6 too). The zero PMTUCache means none is cached.
func CachedPMTU(dst netip.Addr) (PMTUCache, error) {
	ri, err := routeGet(dst)
	if err != nil {
		return PMTUCache{}, err
	}
	if ri.mtu == 0 || ri.expires == 0 {
		return PMTUCache{}, nil // no exception, or a route's own (permanent) mtu
	}
	return PMTUCache{MTU: ri.mtu, Expires: ri.expires}, nil
}

// ForgetPMTU deletes the path MTU the kernel learned towards dst, and only
// that one (RTM_DELROUTE with RTM_F_CLONED: a route exception, never a
// route; "ip -6 route flush cache DST/128" does the same for IPv6). It
// needs CAP_NET_ADMIN. IPv4 has no such request (the kernel flushes its
// exceptions only all at once), so for IPv4 it returns
// errors.ErrUnsupported without asking.
func ForgetPMTU(dst netip.Addr) error {
	dst = dst.Unmap()
	if !dst.Is6() {
		return fmt.Errorf("mtu: forgetting the path MTU towards %s: %w", dst, errors.ErrUnsupported)
	}
	err := netlinkRoute(dst, unix.RTM_DELROUTE, unix.RTM_F_CLONED, unix.RT_TABLE_MAIN, true, func(*syscall.NetlinkMessage) (bool, error) { return false, nil })
	switch {
	case errors.Is(err, syscall.ESRCH):
		return nil // nothing cached
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return fmt.Errorf("mtu: forgetting the path MTU towards %s: %w", dst, os.ErrPermission)
	case err != nil:
		return fmt.Errorf("mtu: forgetting the path MTU towards %s: %w", dst, err)
	}
	return nil
}

// RouteMTU returns the MTU the kernel uses towards dst right now: the route's
// MTU (for IPv4 at most 65535, IP_MAX_MTU), lowered by a path MTU learned from ICMP and still cached (about 10
// minutes, net.ipv4.route.mtu_expires). It connects a UDP socket, which sends
// nothing, and reads IP_MTU or IPV6_MTU. Read it before probing: a value
// below InterfaceMTU is a cached PMTU worth reporting.
func RouteMTU(dst netip.Addr) (int, error) {
	dst = dst.Unmap()
	var (
		fam, level, opt int
		sa              unix.Sockaddr
	)
	switch {
	case dst.Is4():
		fam, level, opt = unix.AF_INET, unix.IPPROTO_IP, unix.IP_MTU
		sa = &unix.SockaddrInet4{Port: 25, Addr: dst.As4()}
	case dst.Is6():
		fam, level, opt = unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_MTU
		sa6 := &unix.SockaddrInet6{Port: 25, Addr: dst.As16()}
		if z := dst.Zone(); z != "" {
			if ifi, err := net.InterfaceByName(z); err == nil {
				sa6.ZoneId = uint32(ifi.Index)
			}
		}
		sa = sa6
	default:
		return 0, errors.New("mtu: RouteMTU: invalid address")
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil {
		return 0, fmt.Errorf("mtu: route to %s: %w", dst, os.NewSyscallError("connect", err))
	}
	mtu, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		return 0, os.NewSyscallError("getsockopt IP_MTU", err)
	}
	return mtu, nil
}

// MTUProbing reads /proc/sys/net/ipv4/tcp_mtu_probing (of the calling
// process's network namespace): 0 off, 1 on after a black hole is detected,
// 2 always (RFC 4821 packetization-layer PMTUD). With 1 or 2 the kernel
// lowers the MSS by itself after repeated RTO timeouts (net.ipv4.tcp_retries1,
// 3 by default, i.e. after about 7 RTOs), which hides a black hole from a
// slow prober; Watch decides after RTOs (default 2) without progress, before
// that. The setting applies to IPv6 too.
func MTUProbing() (int, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_mtu_probing")
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("mtu: tcp_mtu_probing: %w", err)
	}
	return v, nil
}

// outq returns SIOCOUTQ: bytes written but not yet acknowledged.
func outq(raw syscall.RawConn) (int, error) {
	var n int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		n, serr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, os.NewSyscallError("ioctl SIOCOUTQ", serr)
	}
	return n, nil
}

// Watch polls TCP_INFO of c until every byte written so far is acknowledged
// (Delivered), or retransmissions happen with no ACK progress for longer than
// a limit scaled by the measured RTO (Lost), or MaxWait passes (TimedOut), or
// ctx ends. It returns the verdict and the last Info.
//
// want is the tcpi_bytes_acked value that means "delivered": Info.BytesAcked
// read before the write plus the bytes written (bytes_acked also counts the
// SYN, and the FIN, as one byte each). want 0 means every byte written so
// far, by SIOCOUTQ reaching 0; the Info returned is then read after
// SIOCOUTQ was 0.
//
// The loss rule. Linux retransmits a segment after the RTO, which is
// srtt + 4·rttvar but at least 200 ms (TCP_RTO_MIN; RFC 6298 §2.4 asks for
// 1 s), and doubles the RTO on every further
// timeout (tcpi_rto shows the backed-off value, so the smallest RTO seen
// during the watch is the base). A tail loss probe may retransmit earlier,
// after about two RTTs. Watch declares Lost when there is retransmission
// evidence since the last ACK progress (tcpi_retransmits > 0, tcpi_lost > 0
// or tcpi_total_retrans grew) and tcpi_bytes_acked has not grown for
// max(MinWait, RTOs × base RTO). With the default of 2 RTOs the first RTO
// retransmission has had a whole RTO, more than an RTT, to be acknowledged.
// On a black hole this takes 2 × RTO after the write: about 400-420 ms on a
// short path (measured on loopback, see TestWatchLost), RTOs × (srtt +
// 4·rttvar) on a long one. Segments that vanish without any retransmission
// (a zero window, say) end as TimedOut, not Lost.
//
// Bytes written but not acknowledged stay in the send buffer: on a black
// hole Write blocks once it is full, so give the write a deadline or make
// SO_SNDBUF larger than the probe.
//
// With working PMTUD the ICMP makes the kernel resegment and the data is
// Delivered anyway, with Info.PMTU below the size that was probed; the
// caller compares the two.
func Watch(ctx context.Context, c syscall.Conn, want uint64, opt WatchOptions) (Verdict, Info, error) {
	opt = opt.withDefaults()
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, Info{}, err
	}
	start := time.Now()
	info, err := tcpInfo(raw)
	if err != nil {
		return 0, info, err
	}
	lastAcked, lastProgress := info.BytesAcked, start
	retransBase := info.TotalRetrans
	baseRTO := info.RTO
	poll := time.NewTicker(opt.Poll)
	defer poll.Stop()
	deadline := time.NewTimer(opt.MaxWait)
	defer deadline.Stop()
	for {
		done := false
		if opt.AnyProgress && (info.BytesAcked > opt.AckedBefore || info.Sacked > 0) {
			return Delivered, info, nil
		}
		if want > 0 {
			done = info.BytesAcked >= want
		} else {
			n, err := outq(raw)
			if err != nil {
				return 0, info, err
			}
			if done = n == 0; done {
				// info was read before SIOCOUTQ: read it again, so
				// that the Info returned shows every byte acknowledged
				// (snd_una only grows).
				if info, err = tcpInfo(raw); err != nil {
					return 0, info, err
				}
			}
		}
		if done {
			return Delivered, info, nil
		}
		if info.State == StateClose {
			return 0, info, ErrClosed
		}
		now := time.Now()
		if info.BytesAcked > lastAcked {
			lastAcked, lastProgress = info.BytesAcked, now
			retransBase = info.TotalRetrans
		}
		if info.RTO > 0 && (baseRTO <= 0 || info.RTO < baseRTO) {
			baseRTO = info.RTO
		}
		rto := baseRTO
		if rto <= 0 {
			rto = 200 * time.Millisecond
		}
		retrans := info.Retransmits > 0 || info.Lost > 0 || info.TotalRetrans > retransBase
		if retrans && now.Sub(lastProgress) >= max(opt.MinWait, time.Duration(opt.RTOs)*rto) {
			return Lost, info, nil
		}
		if opt.LostAfter != nil {
			if d := opt.LostAfter(); d > 0 && now.Sub(lastProgress) >= d {
				return Lost, info, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, info, ctx.Err()
		case <-deadline.C:
			return TimedOut, info, nil
		case <-poll.C:
		}
		if info, err = tcpInfo(raw); err != nil {
			return 0, info, err
		}
	}
}

// CheckSocketOptions creates an unconnected TCP socket of the family and
// sets the options Control sets, so that a prober can tell up front, with
// the option's name, when this process may not set them (a seccomp filter
// or a restricted container, say).
func CheckSocketOptions(v6 bool) error {
	domain, level, opt, name := unix.AF_INET, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, "IP_MTU_DISCOVER=IP_PMTUDISC_DO"
	val := unix.IP_PMTUDISC_DO
	if v6 {
		domain, level, opt, name = unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, "IPV6_MTU_DISCOVER=IPV6_PMTUDISC_DO"
		val = unix.IPV6_PMTUDISC_DO
	}
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("creating a TCP socket: %w", os.NewSyscallError("socket", err))
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, level, opt, val); err != nil {
		return fmt.Errorf("setting %s (DF on every segment): %w", name, os.NewSyscallError("setsockopt", err))
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_MAXSEG, 536); err != nil {
		return fmt.Errorf("setting TCP_MAXSEG (the per-session MSS clamp): %w", os.NewSyscallError("setsockopt", err))
	}
	return nil
}

// WaitAcked waits until TCP has acknowledged every byte written on c
// (Watch with no byte count: SIOCOUTQ empty), the connection closed
// (ErrClosed), the segments are lost (Lost: retransmissions without ACK
// progress), or timeout passes (Unknown).
func WaitAcked(ctx context.Context, c syscall.Conn, timeout time.Duration) (Verdict, Info, error) {
	return Watch(ctx, c, 0, WatchOptions{MaxWait: timeout})
}

// QuickAck asks the kernel to acknowledge the next segments on c at once
// (TCP_QUICKACK, tcp(7)) instead of delaying the ACK up to 40 ms
// (RFC 9293 §3.8.6.3 allows delayed ACKs). Without it a server that
// sends TLS 1.3 session tickets and then, under Nagle's algorithm
// (RFC 896), holds its next reply until those are acknowledged adds a
// delayed-ACK stall to a probe's timing of that reply. The mode is not
// sticky, so a caller renews it after each write. Errors are ignored: the
// ACKs then stay delayed.
func QuickAck(c syscall.Conn) {
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
}

// Reset reports whether the socket c is in TCP state CLOSE, which after a
// read's EOF means the peer reset the connection (RFC 9293 §3.10.7.4: an
// RST closes it at once), while a FIN leaves it in CLOSE-WAIT.
func Reset(c syscall.Conn) (bool, error) {
	raw, err := c.SyscallConn()
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

// tcpStateClose is TCP_CLOSE in the kernel's include/net/tcp_states.h.
const tcpStateClose = 7
