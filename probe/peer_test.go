package probe

import (
	"bufio"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// scriptPeer accepts connections on 127.0.0.1:0 and runs script on each;
// it is for peers that misbehave in ways no real server library will.
func scriptPeer(tb testing.TB, script func(c net.Conn, r *bufio.Reader)) netip.AddrPort {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				script(c, bufio.NewReader(c))
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// expect reads one command line and reports whether it starts with prefix.
func expect(r *bufio.Reader, prefix string) bool {
	l, err := r.ReadString('\n')
	return err == nil && strings.HasPrefix(strings.ToUpper(l), prefix)
}

// resetConn makes Close send RST instead of FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// closedPort returns a loopback address where nothing listens.
func closedPort(tb testing.TB) netip.AddrPort {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ap := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	return ap
}
