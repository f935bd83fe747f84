package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"crypto/rand"
	"encoding/hex"
)

// listen4 is a listener on 127.0.0.1:0 whose accepted connections are
// sent to the returned channel.
func listen4(t *testing.T) (netip.AddrPort, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			conns <- c
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), conns
}

// A connect that has not completed after the hedge's delay gets a second
// one beside it, and the first to complete wins. The first connect here
// is held back before its SYN (a Control that sleeps): the second's
// connection is the session, and the first, abandoned, either never
// connects or is reset at once, so the server is left with exactly one
// live connection.
func TestHedgeSlowFirstConnect(t *testing.T) {
	t.Parallel()
	addr, conns := listen4(t)
	var calls atomic.Int32
	h := &Hedge{Unmeasured: 30 * time.Millisecond}
	d := &Dialer{Timeout: 5 * time.Second, Hedge: h, Control: func(network, address string, c syscall.RawConn) error {
		if calls.Add(1) == 1 {
			time.Sleep(400 * time.Millisecond)
		}
		return nil
	}}
	start := time.Now()
	c, err := d.Dial(t.Context(), addr)
	if err != nil {
		t.Fatalf("Dial = %v", err)
	}
	defer c.Close()
	if el := time.Since(start); el > 300*time.Millisecond {
		t.Errorf("Dial took %s, want the second connect's (about 30ms)", el)
	}
	if s, w := h.Stats(); s != 1 || w != 1 {
		t.Errorf("Stats() = %d started, %d won; want 1, 1", s, w)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("Control ran %d times, want 2 (one per connect)", got)
	}
	// The session is the second connect's: it carries data. The
	// abandoned first connect never reached the server, or was reset.
	if _, err := c.Raw().Write([]byte("EHLO x\r\n")); err != nil {
		t.Fatalf("write on the winning connection: %v", err)
	}
	var won bool
	timeout := time.After(1500 * time.Millisecond)
	for !won {
		var srv net.Conn
		select {
		case srv = <-conns:
		case <-timeout:
			t.Fatalf("the winning connection %s never reached the server", c.LocalAddr())
		}
		buf := make([]byte, 8)
		srv.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := srv.Read(buf)
		if srv.RemoteAddr().String() == c.LocalAddr().String() {
			if err != nil || string(buf[:n]) != "EHLO x\r\n" {
				t.Fatalf("the server read %q, %v on the winning connection", buf[:n], err)
			}
			won = true
			continue
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("the abandoned connect reached the server and read = %q, %v there, want ECONNRESET (an RST)", buf[:n], err)
		}
	}
	select {
	case late := <-conns:
		late.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := late.Read(make([]byte, 8)); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("the abandoned connect reached the server and read = %v there, want ECONNRESET (an RST)", err)
		}
	case <-time.After(time.Second):
	}
}

// When both connects time out the Dial is a connect timeout after the
// connect timeout, as without a hedge; an RST to the first SYN is the
// answer at once, with no second connect.
func TestHedgeFailures(t *testing.T) {
	t.Parallel()
	t.Run("both time out", func(t *testing.T) {
		t.Parallel()
		addr := blackholed(t)
		h := &Hedge{Unmeasured: 30 * time.Millisecond}
		start := time.Now()
		_, err := (&Dialer{Timeout: 300 * time.Millisecond, Hedge: h}).Dial(t.Context(), addr)
		var de *DialError
		if !errors.As(err, &de) || de.Kind != DialTimeout {
			t.Fatalf("Dial(blackholed, hedged) = %v, want a connect-timeout DialError", err)
		}
		if el := time.Since(start); el < 300*time.Millisecond || el > 3*time.Second || de.Elapsed < 300*time.Millisecond {
			t.Errorf("Dial(blackholed, 300ms, hedged) took %s (Elapsed %s), want about 300ms", el, de.Elapsed)
		}
		if s, w := h.Stats(); s != 1 || w != 0 {
			t.Errorf("Stats() = %d started, %d won; want 1, 0", s, w)
		}
	})
	t.Run("port-closed", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := netip.MustParseAddrPort(ln.Addr().String())
		ln.Close()
		h := &Hedge{Unmeasured: 30 * time.Millisecond}
		_, err = (&Dialer{Timeout: 5 * time.Second, Hedge: h}).Dial(t.Context(), addr)
		var de *DialError
		if !errors.As(err, &de) || de.Kind != DialRefused {
			t.Fatalf("Dial(closed port, hedged) = %v, want a refused DialError", err)
		}
		time.Sleep(50 * time.Millisecond)
		if s, _ := h.Stats(); s != 0 {
			t.Errorf("Stats() = %d started, want 0: an RST answered the first SYN", s)
		}
	})
	t.Run("ctx cancelled", func(t *testing.T) {
		t.Parallel()
		addr := blackholed(t)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := (&Dialer{Timeout: 30 * time.Second, Hedge: &Hedge{Unmeasured: 30 * time.Millisecond}}).Dial(ctx, addr)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial(blackholed, hedged, cancelled after 200ms) = %v, want context.Canceled", err)
		}
	})
}

// ---- a real lost SYN, in a throwaway network namespace ----------------------
//
// TestHedgeNetns re-runs this test binary under "ip netns exec" in a
// namespace that has only loopback (nothing can leave it), where nftables
// drops the first SYN to a port, as random loss does; the kernel would
// send its second SYN after its 1 s initial retransmission timeout.

const hedgeHelperEnv = "SMTPPROBE_WIRE_HEDGE_NETNS_HELPER"

func TestHedgeNetns(t *testing.T) {
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
	if len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("network namespace test needs %s (CI=true: not skipping)", strings.Join(missing, ", "))
		}
		t.Skipf("network namespace test needs %s", strings.Join(missing, ", "))
	}
	b := make([]byte, 4)
	rand.Read(b)
	ns := "smtpprobe-hedgetest-" + hex.EncodeToString(b)
	runCmd(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
		}
	})
	runCmd(t, "ip", "-n", ns, "link", "set", "lo", "up")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, exe, "-test.run=^TestHedgeNetnsHelper$", "-test.v", "-test.count=1", "-test.timeout=50s")
	cmd.Env = append(os.Environ(), hedgeHelperEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("helper in %s: %v", ns, err)
	}
	if !strings.Contains(string(out), "--- PASS: TestHedgeNetnsHelper") {
		t.Fatalf("helper in %s did not pass (skipped?)", ns)
	}
}

func runCmd(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// dropFirstSYN makes nftables (in the helper's namespace) drop the first
// SYN to port, and answer every later one with then: "" (let it pass) or
// an ICMP type for reject ("host-unreachable"). It returns a func that
// reads how many SYNs were dropped.
func dropFirstSYN(t *testing.T, port uint16, then string) func() int {
	t.Helper()
	table := fmt.Sprintf("hedge%d", port)
	rules := fmt.Sprintf("add table inet %[1]s\n"+
		"add chain inet %[1]s in { type filter hook input priority 0; }\n"+
		"add rule inet %[1]s in tcp dport %[2]d tcp flags & (syn|ack) == syn limit rate 1/hour burst 1 packets counter drop\n", table, port)
	if then != "" {
		rules += fmt.Sprintf("add rule inet %s in tcp dport %d tcp flags & (syn|ack) == syn counter reject with icmpx type %s\n", table, port, then)
	}
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s\n%s", err, rules, out)
	}
	return func() int {
		out, err := exec.Command("nft", "list", "chain", "inet", table, "in").CombinedOutput()
		if err != nil {
			t.Fatalf("nft list: %v\n%s", err, out)
		}
		// The first rule's counter: "... counter packets N bytes M drop".
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "limit rate") {
				var n int
				if i := strings.Index(line, "counter packets "); i >= 0 {
					fmt.Sscanf(line[i+len("counter packets "):], "%d", &n)
				}
				return n
			}
		}
		t.Fatalf("no drop rule in\n%s", out)
		return 0
	}
}

// TestHedgeNetnsHelper runs only inside the namespace made by
// TestHedgeNetns.
func TestHedgeNetnsHelper(t *testing.T) {
	if os.Getenv(hedgeHelperEnv) == "" {
		t.Skip("runs only inside the namespace made by TestHedgeNetns")
	}
	t.Run("no hedge: the lost SYN costs the 1s retransmission", func(t *testing.T) {
		addr, _ := listen4(t)
		dropped := dropFirstSYN(t, addr.Port(), "")
		start := time.Now()
		c, err := (&Dialer{Timeout: 5 * time.Second}).Dial(t.Context(), addr)
		el := time.Since(start)
		if err != nil {
			t.Fatalf("Dial = %v", err)
		}
		c.Close()
		if el < 900*time.Millisecond || dropped() != 1 {
			t.Fatalf("Dial took %s with %d SYNs dropped: want the first SYN dropped and about 1s", el, dropped())
		}
	})
	t.Run("hedged: the second SYN wins", func(t *testing.T) {
		addr, conns := listen4(t)
		dropped := dropFirstSYN(t, addr.Port(), "")
		h := &Hedge{Unmeasured: 50 * time.Millisecond}
		start := time.Now()
		c, err := (&Dialer{Timeout: 5 * time.Second, Hedge: h}).Dial(t.Context(), addr)
		el := time.Since(start)
		if err != nil {
			t.Fatalf("Dial = %v", err)
		}
		defer c.Close()
		if el < 50*time.Millisecond || el > 500*time.Millisecond {
			t.Errorf("Dial took %s, want about 50ms (the hedge's delay and a handshake)", el)
		}
		if n := dropped(); n != 1 {
			t.Errorf("%d SYNs dropped, want 1", n)
		}
		if s, w := h.Stats(); s != 1 || w != 1 {
			t.Errorf("Stats() = %d started, %d won; want 1, 1", s, w)
		}
		<-conns
		// The abandoned connect was closed: its socket sends no second
		// SYN at the 1 s retransmission, so no other connection comes.
		select {
		case <-conns:
			t.Errorf("a second connection reached the server: the abandoned connect retransmitted its SYN")
		case <-time.After(1500 * time.Millisecond):
		}
		// And the handshake it saw is what the next delay is made of.
		if d, _ := h.Delay(); d != HedgeFloor {
			t.Errorf("Delay() after a loopback handshake = %s, want the floor %s", d, HedgeFloor)
		}
	})
	t.Run("hedged: an ICMP error to the second SYN is the answer", func(t *testing.T) {
		addr, _ := listen4(t)
		dropFirstSYN(t, addr.Port(), "host-unreachable")
		h := &Hedge{Unmeasured: 50 * time.Millisecond}
		start := time.Now()
		_, err := (&Dialer{Timeout: 5 * time.Second, Hedge: h}).Dial(t.Context(), addr)
		el := time.Since(start)
		var de *DialError
		if !errors.As(err, &de) || de.Kind != DialUnreachable {
			t.Fatalf("Dial = %v, want an unreachable DialError", err)
		}
		if de.ICMP == nil || de.ICMP.From != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("DialError.ICMP = %+v, want the host-unreachable from 127.0.0.1", de.ICMP)
		} else if !strings.Contains(de.Error(), "host unreachable") {
			t.Errorf("DialError = %q, want it to name the ICMP host unreachable", de.Error())
		}
		if el > 900*time.Millisecond {
			t.Errorf("Dial took %s, want the second SYN's answer (about 50ms), not the first's retransmission", el)
		}
	})
}

// A hedge whose own socket fails (a local error: no descriptor, say)
// leaves the first connect to go on alone.
func TestHedgeLocalFailureOfTheSecond(t *testing.T) {
	t.Parallel()
	addr, _ := listen4(t)
	var calls atomic.Int32
	h := &Hedge{Unmeasured: 30 * time.Millisecond}
	d := &Dialer{Timeout: 5 * time.Second, Hedge: h, Control: func(network, address string, c syscall.RawConn) error {
		if calls.Add(1) == 1 {
			time.Sleep(300 * time.Millisecond)
			return nil
		}
		return os.NewSyscallError("socket", syscall.EMFILE)
	}}
	c, err := d.Dial(t.Context(), addr)
	if err != nil {
		t.Fatalf("Dial = %v, want the first connect's connection", err)
	}
	c.Close()
	if s, w := h.Stats(); s != 1 || w != 0 {
		t.Errorf("Stats() = %d started, %d won; want 1, 0", s, w)
	}
}
