package probe

// The two close classifications of explainClose that a session against a
// well-behaved server does not reach: a 4yz nobody asked for while the
// client writes the body (no pause, no FIN) stays the rejection it is,
// and a FIN that comes after a pause ended, before the client said
// anything more, is the server's idle timeout over that pause.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

func TestSessionUnsolicitedWhileSending(t *testing.T) {
	t.Parallel()
	addr := scriptPeer(t, func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
		for _, cmd := range []string{"EHLO", "MAIL", "RCPT", "DATA"} {
			if !expect(r, cmd) {
				return
			}
			reply := map[string]string{"EHLO": "250 mx.example.com\r\n", "DATA": "354 go ahead\r\n"}[cmd]
			if reply == "" {
				reply = "250 2.1.0 Ok\r\n"
			}
			fmt.Fprint(c, reply)
		}
		// The first body line has come: say no more to this client while
		// it writes the rest, which fills the socket buffers (no reading
		// for a while), and keep the connection open.
		r.ReadString('\n')
		fmt.Fprint(c, "451 4.3.0 Local trouble, come back later\r\n")
		time.Sleep(300 * time.Millisecond)
		io.Copy(io.Discard, r)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p := &Prober{ReplyTimeout: 3 * time.Second, Helo: "probe.example.com"}
	r, err := p.Session(ctx, Target{Host: "mx.example.com", Addr: addr, Preference: -1},
		SessionOptions{Size: 4 << 20, To: []string{"postmaster@example.com"}})
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	if r.Outcome != Rejected || r.Reply == nil || r.Reply.Code != 451 || !r.Reply.Unsolicited || r.IdleTimeout != nil {
		t.Fatalf("Session(451 nobody asked for, during the body) = %s (%s), reply %+v, idle timeout %v; want rejected by the unsolicited 451 and no idle timeout%s",
			r.Outcome, r.Error, r.Reply, r.IdleTimeout, dump(r.Timeline))
	}
	if !inOrder(r.Timeline, []wire.EventKind{wire.EvData, wire.EvUnsolicited}) && !inOrder(r.Timeline, []wire.EventKind{wire.EvUnsolicited, wire.EvData}) {
		t.Errorf("Session timeline lacks the body and the unsolicited 451:%s", dump(r.Timeline))
	}
}

// A FIN after the pause before DATA has ended, before the client sent
// DATA: the client was idle since the RCPT reply, so it is the server's
// idle timeout, and the pause that was too long is named. The dialogue is
// driven step by step, so that the FIN surely lands between the pause's
// end and the next command.
func TestExplainCloseAfterPause(t *testing.T) {
	t.Parallel()
	closeNow := make(chan struct{})
	addr := scriptPeer(t, func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
		<-closeNow
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p := &Prober{ReplyTimeout: 3 * time.Second, Helo: "probe.example.com"}
	res := newResult(Target{Host: "mx.example.com", Addr: addr, Preference: -1})
	d := p.begin(ctx, Target{Host: "mx.example.com", Addr: addr, Preference: -1}, &res)
	if d == nil {
		t.Fatalf("begin: %s (%s)", res.Outcome, res.Error)
	}
	defer d.end()
	if _, err := d.c.ReadReply(ctx, time.Second); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	const pause = 50 * time.Millisecond
	if _, err := d.c.Pause(ctx, wire.PauseBeforeData, pause, false); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	close(closeNow)
	for i := 0; i < 500 && !d.c.PeerActed(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if _, fin := d.c.FINAt(); !fin {
		t.Fatalf("no FIN within 5s of the peer's close")
	}
	res.Outcome, res.Error = Closed, "connection closed"
	if !d.explainClose(SessionOptions{PauseBeforeData: pause}) {
		t.Fatalf("explainClose = false, want the story of the close%s", dump(d.c.Timeline()))
	}
	if res.Outcome != ServerTimeout || res.IdleTimeout == nil || !hasFinding(res.Findings, dnscheck.CodePauseExceedsServerTimeout) {
		t.Fatalf("after a FIN just after the pause: %s (%s), idle timeout %v, findings %+v; want server-timeout naming the pause%s",
			res.Outcome, res.Error, res.IdleTimeout, res.Findings, dump(d.c.Timeline()))
	}
	for _, f := range res.Findings {
		if f.Code == dnscheck.CodePauseExceedsServerTimeout && f.Option != "pause_before_data" {
			t.Errorf("finding %s names option %q, want pause_before_data", f.Code, f.Option)
		}
	}
	if !strings.Contains(res.Error, "(FIN during the pause-before-data)") {
		t.Errorf("Error = %q, want it to name the FIN and the pause-before-data", res.Error)
	}
}
