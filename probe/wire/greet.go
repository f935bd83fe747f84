package wire

import (
	"context"
	"fmt"
	"time"
)

// GreetFloor is the least a hedged session waits for the server's
// greeting before a second session starts beside it: above the server's
// own minimum retransmission timeout for a lost greeting segment (200 ms
// on Linux, RFC 6298 §2.4 allows 1 s), which the first session recovers
// from by itself, and well below the 1 s after which a server resends a
// SYN-ACK whose ACK (our handshake's last segment) was lost: until then it
// has not accepted the connection and sends no greeting at all.
const GreetFloor = 250 * time.Millisecond

// Greeted opens a session with dial and reads the server's greeting
// (within rt). With a hedge h, when no greeting has come after
// max(GreetFloor, h's connect delay), a second session opens beside the
// first; the first greeting wins and the other session is reset. At most
// two sessions; when both fail, the first failure is returned.
func Greeted(ctx context.Context, h *Hedge, rt time.Duration, dial func(context.Context) (*Conn, error)) (*Conn, error) {
	type session struct {
		i   int
		c   *Conn
		err error
	}
	out := make(chan session, 2)
	var cancels [2]context.CancelFunc
	open := func(i int) {
		sctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		go func() {
			c, err := dial(sctx)
			if err == nil {
				if _, err = c.ReadReply(sctx, rt); err != nil {
					c.Abort()
					c.Close()
					c, err = nil, fmt.Errorf("banner: %w", err)
				}
			}
			out <- session{i, c, err}
		}()
	}
	open(0)
	opened, pending := 1, 1
	var hedge <-chan time.Time
	if h != nil {
		d, _ := h.Delay()
		t := time.NewTimer(max(GreetFloor, d))
		defer t.Stop()
		hedge = t.C
	}
	var failed error
	for {
		select {
		case <-hedge:
			hedge = nil
			if failed == nil {
				open(opened)
				opened++
				pending++
			}
		case s := <-out:
			pending--
			if s.err == nil {
				for i, cancel := range cancels[:opened] {
					if i != s.i {
						cancel()
					}
				}
				go func(n int) { // the other session, if any: reset it
					for range n {
						if l := <-out; l.c != nil {
							l.c.Abort()
							l.c.Close()
						}
					}
				}(pending)
				return s.c, nil
			}
			if failed == nil || s.i == 0 {
				failed = s.err
			}
			if pending == 0 {
				for _, cancel := range cancels[:opened] {
					cancel()
				}
				return nil, failed
			}
		}
	}
}
