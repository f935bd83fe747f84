package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// The field reports' story (a pause past smtpd_timeout): the server's idle timeout fires
// while the client pauses; the 421 and the FIN are noticed when they
// arrive, not at the next write, and the late write meets a reset.
func TestConnIdle421ThenFINThenRST(t *testing.T) {
	t.Parallel()
	idle := 400 * time.Millisecond
	addr := startSMTP(t, probetest.SMTPOptions{ReadTimeout: idle})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := &Prober{ConnectTimeout: time.Second, ReplyTimeout: 2 * time.Second}
	c, err := p.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadReply(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	ehlo, err := c.Cmd(ctx, time.Second, "EHLO probe.example.com")
	if err != nil || ehlo.Code != 250 {
		t.Fatalf("EHLO = %v, %v; want 250", ehlo, err)
	}
	pauseStart := c.Since()
	acted, err := c.Pause(ctx, "quiet", 2*time.Second, false)
	if err != nil || !acted {
		t.Fatalf("Pause(2s) = %v, %v; want the peer to act", acted, err)
	}
	r, err := c.ReadReply(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != 421 || r.Enhanced != "4.4.2" || !r.Unsolicited {
		t.Errorf("reply during pause = %+v, want unsolicited 421 4.4.2", r)
	}
	// The 421 is timestamped at arrival, about idle after the last
	// command, not at the end of the 2 s pause. go-smtp's clock starts
	// after it answered the EHLO, so after the EHLO was sent: that bound
	// is hard. Above, a loaded machine reads late (216 ms seen), so
	// allow a second, still well before the pause's end.
	var ehloSent time.Duration
	for _, e := range c.Timeline() {
		if e.Kind == EvSend && strings.HasPrefix(e.Text, "EHLO") {
			ehloSent = e.At
		}
	}
	if got := r.At - ehloSent; got < idle || r.At-ehlo.At > idle+time.Second {
		t.Errorf("421 arrived %s after EHLO was sent, %s after its reply; want about %s", got, r.At-ehlo.At, idle)
	}
	fin, ok := c.FINAt()
	if !ok || fin < r.At || fin-pauseStart > idle+time.Second {
		t.Errorf("FINAt() = %s, %v; want a FIN right after the 421 at %s", fin, ok, r.At)
	}
	// The late write: the peer's socket is gone, so it answers RST;
	// the second write or the read reports it.
	var werr error
	for i := 0; i < 20 && werr == nil; i++ {
		werr = c.WriteData(ctx, time.Second, []byte("Subject: late\r\n\r\nbody\r\n"))
		time.Sleep(20 * time.Millisecond)
	}
	if !errors.Is(werr, ErrReset) {
		t.Errorf("late write error = %v, want ErrReset", werr)
	}
	if Classify(werr) != Reset {
		t.Errorf("Classify(%v) = %s, want reset", werr, Classify(werr))
	}
	kinds := map[EventKind]bool{}
	for _, e := range c.Timeline() {
		kinds[e.Kind] = true
	}
	for _, k := range []EventKind{EvConnect, EvPauseStart, EvUnsolicited, EvFIN, EvPauseEnd, EvRST} {
		if !kinds[k] {
			t.Errorf("timeline lacks %s: %s", k, dump(c.Timeline()))
		}
	}
}

func TestConnPipelining(t *testing.T) {
	t.Parallel()
	addr := startSMTP(t, probetest.SMTPOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := (&Prober{}).Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadReply(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cmd(ctx, time.Second, "EHLO probe.example.com"); err != nil {
		t.Fatal(err)
	}
	// RFC 2920: MAIL, RCPT and DATA in one write; three replies follow.
	if err := c.Send(ctx, time.Second, "MAIL FROM:<>", "RCPT TO:<postmaster@example.com>", "DATA"); err != nil {
		t.Fatal(err)
	}
	want := []int{250, 250, 354}
	for i, w := range want {
		r, err := c.ReadReply(ctx, time.Second)
		if err != nil || r.Code != w || r.Unsolicited {
			t.Fatalf("pipelined reply %d = %+v, %v; want solicited %d", i, r, err, w)
		}
	}
}

func TestConnUnsolicitedNon421(t *testing.T) {
	t.Parallel()
	addr := scriptPeer(t, func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
		expect(r, "EHLO")
		fmt.Fprint(c, "250 mx.example.com\r\n250 surprise\r\n")
		time.Sleep(time.Second)
	})
	p := &Prober{ReplyTimeout: 2 * time.Second, Helo: "probe.example.com"}
	r := p.MX(context.Background(), Target{Host: "mx.example.com", Addr: addr, Preference: -1})
	if r.Outcome != ProtocolError {
		t.Errorf("MX(unsolicited 250).Outcome = %s (%s), want protocol-error", r.Outcome, r.Error)
	}
}
