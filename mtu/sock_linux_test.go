//go:build linux

package mtu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sink listens on addr (host:0) and reads and discards everything on every
// accepted connection.
func sink(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("Listen(%s, %s): %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln
}

func dial(t testing.TB, network string, addr net.Addr, mss int) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Control: Control(mss), Timeout: 5 * time.Second}
	c, err := d.Dial(network, addr.String())
	if err != nil {
		t.Fatalf("Dial(%s, %s) with Control(%d): %v", network, addr, mss, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func getsockoptInt(t testing.TB, c syscall.Conn, level, opt int) int {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := raw.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatalf("getsockopt(%d, %d): %v", level, opt, serr)
	}
	return v
}

func sysctlInt(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func hasIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// TestControlLoopback dials 127.0.0.1 (and ::1) with Control(1000) and checks
// DF, the clamp as TCP_INFO reports it, and the loopback path MTU.
func TestControlLoopback(t *testing.T) {
	ts := sysctlInt(t, "/proc/sys/net/ipv4/tcp_timestamps") != 0
	// IPv4 caps a route's MTU at IP_MAX_MTU, 65535 (ipv4_mtu in
	// net/ipv4/route.c), though lo's MTU is 65536; IPv6 does not.
	for _, tc := range []struct {
		network, addr       string
		v6                  bool
		level, opt, wantOpt int
		pmtu                int
	}{
		{"tcp4", "127.0.0.1:0", false, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO, 65535},
		{"tcp6", "[::1]:0", true, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO, 65536},
	} {
		t.Run(tc.network, func(t *testing.T) {
			if tc.v6 && !hasIPv6Loopback() {
				if os.Getenv("CI") == "true" {
					t.Fatal("no IPv6 loopback (CI=true: not skipping)")
				}
				t.Skip("no IPv6 loopback")
			}
			ln := sink(t, tc.network, tc.addr)
			c := dial(t, tc.network, ln.Addr(), 1000)

			if got := getsockoptInt(t, c, tc.level, tc.opt); got != tc.wantOpt {
				t.Errorf("getsockopt MTU_DISCOVER = %d, want %d (PMTUDISC_DO)", got, tc.wantOpt)
			}
			info, err := TCPInfo(c)
			if err != nil {
				t.Fatalf("TCPInfo: %v", err)
			}
			if info.Timestamps() != ts {
				t.Errorf("Info.Timestamps() = %v, want %v (net.ipv4.tcp_timestamps)", info.Timestamps(), ts)
			}
			want := MSSForPacket(1000+Overhead(tc.v6, false), tc.v6, ts)
			if info.SndMSS != want {
				t.Errorf("Info.SndMSS = %d, want %d (TCP_MAXSEG 1000, timestamps %v)", info.SndMSS, want, ts)
			}
			if got, want := PacketSize(info, tc.v6), 1000+Overhead(tc.v6, false); got != want {
				t.Errorf("PacketSize(Info) = %d, want %d", got, want)
			}
			// getsockopt TCP_MAXSEG on a connected socket reports the send MSS.
			if got := getsockoptInt(t, c, unix.IPPROTO_TCP, unix.TCP_MAXSEG); got != info.SndMSS {
				t.Errorf("getsockopt TCP_MAXSEG = %d, want tcpi_snd_mss %d", got, info.SndMSS)
			}
			if info.State != StateEstablished {
				t.Errorf("Info.State = %d, want %d", info.State, StateEstablished)
			}
			if info.BytesAcked != 1 {
				t.Errorf("Info.BytesAcked = %d after connect, want 1 (the SYN)", info.BytesAcked)
			}
			mtu, err := PathMTU(c)
			if err != nil || mtu != tc.pmtu {
				t.Errorf("PathMTU(loopback) = %d, %v, want %d", mtu, err, tc.pmtu)
			}
			if info.PMTU != tc.pmtu {
				t.Errorf("Info.PMTU = %d, want %d", info.PMTU, tc.pmtu)
			}
			t.Logf("TCP_MAXSEG 1000, timestamps %v: tcpi_snd_mss %d, rcv_mss %d, pmtu %d, rto %v", ts, info.SndMSS, info.RcvMSS, info.PMTU, info.RTO)
		})
	}
}

func TestControlBadMSS(t *testing.T) {
	ln := sink(t, "tcp4", "127.0.0.1:0")
	d := net.Dialer{Control: Control(10)} // below Linux's TCP_MIN_MSS 88
	if c, err := d.Dial("tcp4", ln.Addr().String()); err == nil {
		c.Close()
		t.Errorf("Dial with Control(10) succeeded, want EINVAL")
	} else if !errors.Is(err, unix.EINVAL) {
		t.Errorf("Dial with Control(10) error = %v, want EINVAL", err)
	}
}

// TestSetMSSLive records that TCP_MAXSEG on an established connection does
// not change its send MSS.
func TestSetMSSLive(t *testing.T) {
	ln := sink(t, "tcp4", "127.0.0.1:0")
	c := dial(t, "tcp4", ln.Addr(), 1000)
	before, err := TCPInfo(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := SetMSS(c, 600); err != nil {
		t.Fatalf("SetMSS(600): %v", err)
	}
	if _, err := c.Write(make([]byte, 10000)); err != nil {
		t.Fatal(err)
	}
	after, err := TCPInfo(c)
	if err != nil {
		t.Fatal(err)
	}
	if after.SndMSS != before.SndMSS {
		t.Errorf("SndMSS after SetMSS(600) on a live socket = %d, want unchanged %d", after.SndMSS, before.SndMSS)
	}
}

func TestWatchDelivered(t *testing.T) {
	ln := sink(t, "tcp4", "127.0.0.1:0")
	for _, byOutq := range []bool{false, true} {
		t.Run(fmt.Sprintf("outq=%v", byOutq), func(t *testing.T) {
			c := dial(t, "tcp4", ln.Addr(), 1000)
			before, err := TCPInfo(c)
			if err != nil {
				t.Fatal(err)
			}
			const n = 100 << 10
			if _, err := c.Write(make([]byte, n)); err != nil {
				t.Fatal(err)
			}
			want := before.BytesAcked + n
			if byOutq {
				want = 0
			}
			start := time.Now()
			v, info, err := Watch(t.Context(), c, want, WatchOptions{MaxWait: 5 * time.Second})
			elapsed := time.Since(start)
			if err != nil || v != Delivered {
				t.Fatalf("Watch(100 KB to a reading peer) = %v, %v, want delivered", v, err)
			}
			if info.BytesAcked < before.BytesAcked+n {
				t.Errorf("Info.BytesAcked = %d, want >= %d", info.BytesAcked, before.BytesAcked+n)
			}
			if elapsed > time.Second {
				t.Errorf("Watch took %v, want well under 1s on loopback", elapsed)
			}
			t.Logf("delivered in %v, bytes_sent %d, retrans %d", elapsed, info.BytesSent, info.TotalRetrans)
		})
	}
}

func TestWatchContext(t *testing.T) {
	ln := sink(t, "tcp4", "127.0.0.1:0")
	c := dial(t, "tcp4", ln.Addr(), 0)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	// Nothing written: bytes_acked never reaches want, nothing retransmits.
	v, _, err := Watch(ctx, c, 1<<40, WatchOptions{})
	if !errors.Is(err, context.DeadlineExceeded) || v != Unknown {
		t.Errorf("Watch(ctx ends) = %v, %v, want unknown, DeadlineExceeded", v, err)
	}
	v, _, err = Watch(t.Context(), c, 1<<40, WatchOptions{MaxWait: 20 * time.Millisecond})
	if err != nil || v != TimedOut {
		t.Errorf("Watch(MaxWait passes) = %v, %v, want timed-out, nil", v, err)
	}
}

func TestInterfaceAndRouteMTU(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		ifMTU    int // lo is 65536, capped at MaxIP
		routeMTU int // IPv4 caps at IP_MAX_MTU
	}{{"127.0.0.1", 65535, 65535}, {"::1", 65535, 65536}} {
		a := netip.MustParseAddr(tc.addr)
		if a.Is6() && !hasIPv6Loopback() {
			continue
		}
		if got, err := InterfaceMTU(a); err != nil || got != tc.ifMTU {
			t.Errorf("InterfaceMTU(%s) = %d, %v, want %d", a, got, err, tc.ifMTU)
		}
		if got, err := RouteMTU(a); err != nil || got != tc.routeMTU {
			t.Errorf("RouteMTU(%s) = %d, %v, want %d", a, got, err, tc.routeMTU)
		}
	}
	if _, err := InterfaceMTU(netip.Addr{}); err == nil {
		t.Errorf("InterfaceMTU(invalid) succeeded, want an error")
	}
}

// TestMTUProbing compares MTUProbing with the sysctl as sysctl(8) reads it;
// the namespace helper (MTUProbingTracks) also sets every value and reads
// it back.
func TestMTUProbing(t *testing.T) {
	v, err := MTUProbing()
	if err != nil {
		t.Fatalf("MTUProbing() error = %v", err)
	}
	path, err := exec.LookPath("sysctl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no sysctl(8) to compare with (CI=true: the procps package must be installed): %v", err)
		}
		t.Skip("no sysctl(8) to compare with")
	}
	out, err := exec.Command(path, "-n", "net.ipv4.tcp_mtu_probing").Output()
	if err != nil {
		t.Fatalf("sysctl -n net.ipv4.tcp_mtu_probing: %v", err)
	}
	if want, err := strconv.Atoi(strings.TrimSpace(string(out))); err != nil || v != want {
		t.Errorf("MTUProbing() = %d, want %q (sysctl -n net.ipv4.tcp_mtu_probing)", v, out)
	}
}

// TestTCPInfoFields checks the TCP_INFO fields beyond the MSS against what
// the test itself sent and received over loopback.
func TestTCPInfoFields(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	const n = 5000
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(make([]byte, n))
		io.Copy(io.Discard, c)
	}()
	c := dial(t, "tcp4", ln.Addr(), 1000)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	before, err := TCPInfo(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, 3000)); err != nil {
		t.Fatal(err)
	}
	v, info, err := Watch(t.Context(), c, before.BytesAcked+3000, WatchOptions{MaxWait: 5 * time.Second})
	if err != nil || v != Delivered {
		t.Fatalf("Watch = %v, %v, want delivered", v, err)
	}
	if !info.HasRcvOOOPack {
		t.Errorf("Info.HasRcvOOOPack = false on Linux %s, want true (tcpi_rcv_ooopack since 5.4)", kernelRelease(t))
	}
	for _, c := range []struct {
		name      string
		got, want uint64
		atLeast   bool
	}{
		{"BytesReceived", info.BytesReceived, n, false},
		{"BytesAcked", info.BytesAcked, 3001, false},
		{"AdvMSS", uint64(info.AdvMSS), uint64(MSSForPacket(1040, false, info.Timestamps())), false},
		{"RcvOOOPack", uint64(info.RcvOOOPack), 0, false},
		{"Unacked", uint64(info.Unacked), 0, false},
		{"DataSegsIn", uint64(info.DataSegsIn), 5, true}, // 5000 bytes at rcv MSS <= 1000
		{"DataSegsOut", uint64(info.DataSegsOut), 3, true},
		{"SegsOut", uint64(info.SegsOut), uint64(info.DataSegsOut), true},
		{"SegsIn", uint64(info.SegsIn), uint64(info.DataSegsIn), true},
		{"RcvMSS", uint64(info.RcvMSS), 536, true},
	} {
		if c.atLeast && c.got < c.want || !c.atLeast && c.got != c.want {
			rel := "="
			if c.atLeast {
				rel = ">="
			}
			t.Errorf("Info.%s = %d, want %s %d", c.name, c.got, rel, c.want)
		}
	}
	if info.RTT <= 0 || info.RTO < 200*time.Millisecond || info.LastAckRecv > 5*time.Second || info.LastDataRecv > 5*time.Second {
		t.Errorf("Info RTT %v, RTO %v, LastAckRecv %v, LastDataRecv %v: want RTT > 0, RTO >= 200ms, both ages < 5s", info.RTT, info.RTO, info.LastAckRecv, info.LastDataRecv)
	}
	t.Logf("%+v", info)
}

func kernelRelease(t testing.TB) string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// ---- tests in a throwaway network namespace -------------------------------
//
// The namespace tests re-exec this test binary under "ip netns exec" rather
// than switching the test's own threads with setns(2): setns changes only
// the calling OS thread, so every goroutine that creates a socket (the
// listener's, the dialer's, os/exec's) would have to stay on one locked
// thread, and a missed LockOSThread puts a socket — or an nft rule — in the
// host's namespace. In the child the whole process lives in the namespace,
// sysctls and nft rules it changes are the namespace's own, and the host
// is untouched even if the child crashes. The parent only creates and
// deletes the namespace (t.Cleanup, so also on failure).

const helperEnv = "SMTPPROBE_MTU_NETNS_HELPER"

// requireNetns skips (or, under CI=true, fails) when the namespace tests
// cannot run.
func requireNetns(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("network namespace test; -short")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, cmd := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(cmd); err != nil {
			missing = append(missing, cmd)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("network namespace test needs %s (CI=true: not skipping)", strings.Join(missing, ", "))
	}
	t.Skipf("network namespace test needs %s", strings.Join(missing, ", "))
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// netns creates a namespace with lo up and a veth pair v0/v1, v0 with MTU
// vethMTU and 198.18.0.1/24, 2001:db8::1/64 (RFC 2544 and documentation
// ranges, RFC 2544 and RFC 3849), and deletes it at cleanup.
// vethMTU is v0's MTU: on no plateau (Plateaus), so that a plateau the
// code might fall back to cannot pass for the interface's MTU.
const vethMTU = 1436

func netns(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	ns := "smtpprobe-mtutest-" + hex.EncodeToString(b)
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
		}
	})
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	run(t, "ip", "-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	run(t, "ip", "-n", ns, "link", "set", "v0", "mtu", strconv.Itoa(vethMTU), "up")
	run(t, "ip", "-n", ns, "link", "set", "v1", "up")
	run(t, "ip", "-n", ns, "addr", "add", "198.18.0.1/24", "dev", "v0")
	run(t, "ip", "-n", ns, "addr", "add", "2001:db8::1/64", "dev", "v0", "nodad")
	return ns
}

// TestNetns runs TestNetnsHelper inside a fresh namespace, once with TCP
// timestamps on and once off (net.ipv4.tcp_timestamps is per namespace).
func TestNetns(t *testing.T) {
	requireNetns(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range []string{"1", "0"} {
		t.Run("timestamps="+ts, func(t *testing.T) {
			ns := netns(t)
			run(t, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.tcp_timestamps="+ts)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			args := []string{"netns", "exec", ns, exe, "-test.run=^TestNetnsHelper$", "-test.v", "-test.count=1", "-test.timeout=50s"}
			cmd := exec.CommandContext(ctx, "ip", args...)
			cmd.Env = append(os.Environ(), helperEnv+"="+ts)
			out, err := cmd.CombinedOutput()
			t.Logf("in %s:\n%s", ns, out)
			if err != nil {
				t.Fatalf("helper in %s: %v", ns, err)
			}
		})
	}
}

// TestNetnsHelper runs only inside the namespace made by TestNetns.
func TestNetnsHelper(t *testing.T) {
	tsEnv := os.Getenv(helperEnv)
	if tsEnv == "" {
		t.Skip("runs only inside the namespace made by TestNetns")
	}
	ts := tsEnv == "1"
	if got := sysctlInt(t, "/proc/sys/net/ipv4/tcp_timestamps") != 0; got != ts {
		t.Fatalf("tcp_timestamps in the namespace = %v, want %v", got, ts)
	}

	t.Run("MTUProbingTracks", func(t *testing.T) {
		const p = "/proc/sys/net/ipv4/tcp_mtu_probing"
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.WriteFile(p, orig, 0o644) })
		for _, want := range []int{2, 1, 0} {
			if err := os.WriteFile(p, []byte(strconv.Itoa(want)), 0o644); err != nil {
				t.Fatal(err)
			}
			if got, err := MTUProbing(); err != nil || got != want {
				t.Errorf("MTUProbing() after writing %d = %d, %v, want %d", want, got, err, want)
			}
		}
	})

	t.Run("InterfaceMTU", func(t *testing.T) {
		for _, a := range []string{"198.18.0.2", "2001:db8::2"} {
			if got, err := InterfaceMTU(netip.MustParseAddr(a)); err != nil || got != vethMTU {
				t.Errorf("InterfaceMTU(%s) = %d, %v, want %d (veth v0)", a, got, err, vethMTU)
			}
			if got, err := RouteMTU(netip.MustParseAddr(a)); err != nil || got != vethMTU {
				t.Errorf("RouteMTU(%s) = %d, %v, want %d", a, got, err, vethMTU)
			}
		}
		if _, err := InterfaceMTU(netip.MustParseAddr("192.0.2.1")); !errors.Is(err, unix.ENETUNREACH) {
			t.Errorf("InterfaceMTU(192.0.2.1, no route) error = %v, want ENETUNREACH", err)
		}
	})

	// The MSS rule on the wire: with TCP_MAXSEG 1000, one full segment must
	// pass an nftables rule that drops packets longer than the predicted
	// size and vanish under one that drops packets one byte shorter.
	for _, fam := range []struct {
		network, addr string
		v6            bool
	}{{"tcp4", "127.0.0.1:0", false}, {"tcp6", "[::1]:0", true}} {
		t.Run("MSSRule/"+fam.network, func(t *testing.T) {
			ln := sink(t, fam.network, fam.addr)
			port := ln.Addr().(*net.TCPAddr).Port
			pkt := 1000 + Overhead(fam.v6, false) // TCP_MAXSEG + 40 / + 60
			for _, tc := range []struct {
				limit int
				want  Verdict
			}{{pkt, Delivered}, {pkt - 1, Lost}} {
				dropLongerThan(t, port, tc.limit)
				c := dial(t, fam.network, ln.Addr(), 1000)
				info, err := TCPInfo(c)
				if err != nil {
					t.Fatal(err)
				}
				if info.Timestamps() != ts {
					t.Errorf("Info.Timestamps() = %v, want %v", info.Timestamps(), ts)
				}
				if want := MSSForPacket(pkt, fam.v6, ts); info.SndMSS != want {
					t.Errorf("tcpi_snd_mss = %d, want %d (TCP_MAXSEG 1000, timestamps %v)", info.SndMSS, want, ts)
				}
				// One write of exactly one MSS is one segment of one skb,
				// so nft sees its real length (no GSO aggregate).
				if _, err := c.Write(make([]byte, info.SndMSS)); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				v, after, err := Watch(t.Context(), c, info.BytesAcked+uint64(info.SndMSS), WatchOptions{MaxWait: 5 * time.Second})
				if err != nil || v != tc.want {
					t.Errorf("%s segment of %d payload bytes, drop > %d: Watch = %v, %v, want %v", fam.network, info.SndMSS, tc.limit, v, err, tc.want)
				}
				t.Logf("%s timestamps=%v TCP_MAXSEG=1000 snd_mss=%d: drop length > %d -> %v after %v (rto %v, retrans %d)",
					fam.network, ts, info.SndMSS, tc.limit, v, time.Since(start).Round(time.Millisecond), after.RTO, after.TotalRetrans)
			}
		})
	}

	// A black hole: a peer whose big packets are dropped, 100 KB written.
	t.Run("WatchLost", func(t *testing.T) {
		ln := sink(t, "tcp4", "127.0.0.1:0")
		dropLongerThan(t, ln.Addr().(*net.TCPAddr).Port, 600)
		c := dial(t, "tcp4", ln.Addr(), 1000)
		before, err := TCPInfo(c)
		if err != nil {
			t.Fatal(err)
		}
		// The unacknowledged bytes must fit the send buffer, or Write
		// blocks on the black hole; the deadline is a guard.
		if err := c.SetWriteBuffer(1 << 20); err != nil {
			t.Fatal(err)
		}
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(make([]byte, 100<<10)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		v, info, err := Watch(t.Context(), c, before.BytesAcked+100<<10, WatchOptions{MaxWait: 5 * time.Second})
		elapsed := time.Since(start)
		if err != nil || v != Lost {
			t.Fatalf("Watch(black hole) = %v, %v, want lost", v, err)
		}
		if info.BytesAcked != before.BytesAcked {
			t.Errorf("bytes_acked moved from %d to %d through a black hole", before.BytesAcked, info.BytesAcked)
		}
		if elapsed < 2*200*time.Millisecond || elapsed > 2*time.Second {
			t.Errorf("Watch(black hole) took %v, want about 2 RTOs (>= 400 ms, < 2 s)", elapsed)
		}
		t.Logf("black hole: lost after %v (rto %v, backoff %d, retransmits %d, total_retrans %d, lost %d, unacked %d)",
			elapsed.Round(time.Millisecond), info.RTO, info.Backoff, info.Retransmits, info.TotalRetrans, info.Lost, info.Unacked)
	})
}

// dropLongerThan replaces the namespace's nftables ruleset with one that
// drops TCP packets to port longer than limit bytes (IP header included):
// a PMTU black hole, no ICMP.
//
// The rule is in the input hook, where the peer receives. A drop in the
// output hook is not a black hole: ip_local_out then fails with EPERM, TCP
// keeps the segment as unsent (tcp_write_xmit stops), nothing is ever
// retransmitted and the socket buffer fills — measured: 5 s with
// tcpi_total_retrans 0.
func dropLongerThan(t testing.TB, port, limit int) {
	t.Helper()
	rules := fmt.Sprintf(`flush ruleset
table inet mtutest {
	chain in {
		type filter hook input priority 0; policy accept;
		tcp dport %d meta length > %d drop
	}
}
`, port, limit)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
}

// Reset tells a peer's RST (state CLOSE) from its FIN (CLOSE-WAIT) once a
// read has met the end of the connection.
func TestReset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(*net.TCPConn)
		want  bool
	}{
		{"fin", func(c *net.TCPConn) { c.Close() }, false},
		{"rst", func(c *net.TCPConn) { c.SetLinger(0); c.Close() }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan *net.TCPConn, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c.(*net.TCPConn)
			}()
			c := dial(t, "tcp4", ln.Addr(), 0)
			peer, ok := <-accepted
			if !ok {
				t.Fatal("Accept failed")
			}
			tc.close(peer)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Read(make([]byte, 1)) // EOF or ECONNRESET: the close has arrived
			got, err := Reset(c)
			if err != nil || got != tc.want {
				t.Errorf("Reset(after peer %s) = %v, %v, want %v", tc.name, got, err, tc.want)
			}
		})
	}
}

// QuickAck switches the socket into quick-ACK mode, which TCP_QUICKACK
// reads back as 1.
func TestQuickAck(t *testing.T) {
	ln := sink(t, "tcp4", "127.0.0.1:0")
	c := dial(t, "tcp4", ln.Addr(), 0)
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 0) })
	if got := getsockoptInt(t, c, unix.IPPROTO_TCP, unix.TCP_QUICKACK); got != 0 {
		t.Fatalf("TCP_QUICKACK after setting 0 = %d, want 0", got)
	}
	QuickAck(c)
	if got := getsockoptInt(t, c, unix.IPPROTO_TCP, unix.TCP_QUICKACK); got != 1 {
		t.Errorf("TCP_QUICKACK after QuickAck = %d, want 1", got)
	}
}

// WaitAcked is Watch for everything written: 100 KB to a reading peer is
// delivered.
func TestWaitAcked(t *testing.T) {
	ln := sink(t, "tcp4", "127.0.0.1:0")
	c := dial(t, "tcp4", ln.Addr(), 0)
	if _, err := c.Write(make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	if v, _, err := WaitAcked(t.Context(), c, 5*time.Second); err != nil || v != Delivered {
		t.Errorf("WaitAcked(100 KB to a reading peer) = %v, %v, want delivered", v, err)
	}
}
