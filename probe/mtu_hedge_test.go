package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// greetServer listens on 127.0.0.1:0 and greets each connection after the
// delay for its number (from 0; none given: at once). Every connection's
// end is sent to ends: the error of its write or read (io.EOF for a
// close).
func greetServer(t *testing.T, delays ...time.Duration) (netip.AddrPort, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ends := make(chan error, 4)
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := int(n.Add(1)) - 1
			go func() {
				defer c.Close()
				if i < len(delays) {
					time.Sleep(delays[i])
				}
				// A reset is reported once: to the write, or the read.
				if _, err := c.Write([]byte("220 mx.example ESMTP\r\n")); err != nil {
					ends <- err
					return
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := c.Read(make([]byte, 64))
				ends <- err
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), ends
}

// A session whose greeting has not come after wire.GreetFloor gets a second
// one beside it (a lost last ACK of the handshake keeps a server from
// greeting for 1 s); the first greeting wins and the other session is
// reset. Without a hedge the first session waits.
func TestGreeted(t *testing.T) {
	t.Parallel()
	t.Run("hedged: the second greets first", func(t *testing.T) {
		t.Parallel()
		addr, ends := greetServer(t, 3*time.Second)
		p := &Prober{}
		start := time.Now()
		c, err := wire.Greeted(t.Context(), &wire.Hedge{}, 5*time.Second, func(ctx context.Context) (*wire.Conn, error) { return p.Dial(ctx, addr) })
		if err != nil {
			t.Fatalf("greeted = %v", err)
		}
		el := time.Since(start)
		c.Abort()
		c.Close()
		if el < wire.GreetFloor || el > wire.GreetFloor+time.Second {
			t.Errorf("greeted took %s, want about %s (the second session's greeting)", el, wire.GreetFloor)
		}
		for range 2 {
			select {
			case err := <-ends:
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("a session ended with %v at the server, want ECONNRESET (both are reset)", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a session never ended at the server")
			}
		}
	})
	t.Run("no hedge: the first session waits", func(t *testing.T) {
		t.Parallel()
		addr, _ := greetServer(t, 600*time.Millisecond)
		p := &Prober{}
		start := time.Now()
		c, err := wire.Greeted(t.Context(), nil, 5*time.Second, func(ctx context.Context) (*wire.Conn, error) { return p.Dial(ctx, addr) })
		if err != nil {
			t.Fatalf("greeted = %v", err)
		}
		c.Close()
		if el := time.Since(start); el < 600*time.Millisecond {
			t.Errorf("greeted without a hedge took %s, want the first session's 600ms", el)
		}
	})
	t.Run("both fail", func(t *testing.T) {
		t.Parallel()
		addr, _ := greetServer(t, 3*time.Second, 3*time.Second)
		p := &Prober{}
		_, err := wire.Greeted(t.Context(), &wire.Hedge{}, 400*time.Millisecond, func(ctx context.Context) (*wire.Conn, error) { return p.Dial(ctx, addr) })
		if !errors.Is(err, wire.ErrReplyTimeout) {
			t.Fatalf("wire.Greeted(no greeting within 400ms on either) = %v, want a reply timeout", err)
		}
	})
	t.Run("refused: no second session", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := netip.MustParseAddrPort(ln.Addr().String())
		ln.Close()
		var dials atomic.Int32
		p := &Prober{}
		_, err = wire.Greeted(t.Context(), &wire.Hedge{}, time.Second, func(ctx context.Context) (*wire.Conn, error) {
			dials.Add(1)
			return p.Dial(ctx, addr)
		})
		if Classify(err) != Refused {
			t.Errorf("wire.Greeted(closed port) = %v (%s), want refused", err, Classify(err))
		}
		time.Sleep(wire.GreetFloor + 100*time.Millisecond)
		if n := dials.Load(); n != 1 {
			t.Errorf("%d sessions opened, want 1", n)
		}
	})
}
