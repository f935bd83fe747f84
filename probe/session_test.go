package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/mta"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

func TestSession(t *testing.T) {
	t.Parallel()
	type peer func(tb testing.TB) (netip.AddrPort, *probetest.SMTPServer)
	gosmtp := func(opt probetest.SMTPOptions) peer {
		return func(tb testing.TB) (netip.AddrPort, *probetest.SMTPServer) {
			s, err := probetest.StartSMTP("127.0.0.1:0", opt)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { s.Close() })
			return s.Addr, s
		}
	}
	script := func(f func(c net.Conn, r *bufio.Reader)) peer {
		return func(tb testing.TB) (netip.AddrPort, *probetest.SMTPServer) { return scriptPeer(tb, f), nil }
	}
	// upToData answers the greeting, EHLO, MAIL, RCPT and DATA.
	upToData := func(c net.Conn, r *bufio.Reader) bool {
		fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
		if !expect(r, "EHLO") {
			return false
		}
		fmt.Fprint(c, "250-mx.example.com\r\n250 PIPELINING\r\n")
		for _, want := range []string{"MAIL", "RCPT"} {
			if !expect(r, want) {
				return false
			}
			fmt.Fprint(c, "250 2.1.0 Ok\r\n")
		}
		if !expect(r, "DATA") {
			return false
		}
		fmt.Fprint(c, "354 go ahead\r\n")
		return true
	}
	tests := []struct {
		name         string
		peer         peer
		opt          SessionOptions
		want         Outcome
		wantMessages int64 // messages the go-smtp peer accepted
		wantQueueID  bool
		wantEvents   []wire.EventKind // in this order, among others
		wantFinding  string
		wantError    string // a regexp Result.Error matches
		wantCapErr   string
		wantField    string // CapabilityError.Field
	}{{
		name:       "abandoned without the dot",
		peer:       gosmtp(probetest.SMTPOptions{}),
		opt:        SessionOptions{Size: 5000},
		want:       OK,
		wantEvents: []wire.EventKind{wire.EvReply, wire.EvData, wire.EvData, wire.EvClose},
	}, {
		name:         "delivered with the dot",
		peer:         gosmtp(probetest.SMTPOptions{}),
		opt:          SessionOptions{Size: 5000, Deliver: true, Pipelining: true},
		want:         OK,
		wantMessages: 1,
		wantQueueID:  true,
	}, {
		name:       "chunks with pauses",
		peer:       gosmtp(probetest.SMTPOptions{}),
		opt:        SessionOptions{Size: 3000, ChunkSize: 1000, ChunkPause: 50 * time.Millisecond},
		want:       OK,
		wantEvents: []wire.EventKind{wire.EvData}, // one event, count 3 (see TestTimelineCoalesced)
	}, {
		name:         "BDAT delivered",
		peer:         gosmtp(probetest.SMTPOptions{}),
		opt:          SessionOptions{Size: 3000, ChunkSize: 1000, BDAT: true, Deliver: true},
		want:         OK,
		wantMessages: 1,
		wantQueueID:  true,
	}, {
		name:       "BDAT abandoned with RSET",
		peer:       gosmtp(probetest.SMTPOptions{}),
		opt:        SessionOptions{Size: 3000, ChunkSize: 1000, BDAT: true},
		want:       OK,
		wantEvents: []wire.EventKind{wire.EvSend, wire.EvReply, wire.EvSend, wire.EvReply},
	}, {
		// go-smtp's idle timeout inside DATA takes two read timeouts:
		// the body read fails ("554 5.0.0 Error: transaction failed"),
		// the session goes on, and the next command read fails ("421
		// 4.4.2 Idle timeout", then FIN), so both come about 600 ms
		// into the pause. The pause outlasts that by 1.4 s: with 800 ms
		// a loaded machine once ran go-smtp 216 ms late, the body met
		// the command reader, and the 421 never came.
		name:        "idle 421 during pause after DATA, then RST",
		peer:        gosmtp(probetest.SMTPOptions{ReadTimeout: 300 * time.Millisecond}),
		opt:         SessionOptions{Size: 2000, Pipelining: true, PauseAfterData: 2 * time.Second},
		want:        ServerTimeout,
		wantEvents:  []wire.EventKind{wire.EvReply, wire.EvPauseStart, wire.EvUnsolicited, wire.EvUnsolicited, wire.EvFIN, wire.EvPauseEnd, wire.EvData, wire.EvRST},
		wantFinding: dnscheck.CodePauseExceedsServerTimeout,
		wantError:   `during the pause-after-data\), FIN at .*; the late write at .* met RST`,
	}, {
		name: "silent close (FIN, no 421) during the pause",
		peer: script(func(c net.Conn, r *bufio.Reader) {
			if upToData(c, r) {
				time.Sleep(200 * time.Millisecond)
			}
		}),
		opt:         SessionOptions{Size: 2000, PauseAfterData: 1500 * time.Millisecond}, // 1.3 s past the FIN, for load
		want:        ServerTimeout,
		wantEvents:  []wire.EventKind{wire.EvPauseStart, wire.EvFIN, wire.EvPauseEnd, wire.EvData},
		wantFinding: dnscheck.CodePauseExceedsServerTimeout,
	}, {
		name: "reset while the body is sent",
		peer: script(func(c net.Conn, r *bufio.Reader) {
			if upToData(c, r) {
				r.ReadString('\n')
				resetConn(c)
			}
		}),
		opt:        SessionOptions{Size: 200000, ChunkSize: 20000, ChunkPause: 20 * time.Millisecond},
		want:       Reset,
		wantEvents: []wire.EventKind{wire.EvData, wire.EvRST},
	}, {
		name:       "BDAT without CHUNKING",
		peer:       script(func(c net.Conn, r *bufio.Reader) { upToData(c, r) }),
		opt:        SessionOptions{Size: 100, BDAT: true},
		want:       OK,
		wantCapErr: "CHUNKING",
		wantField:  "bdat",
	}, {
		name:       "message above SIZE",
		peer:       gosmtp(probetest.SMTPOptions{MaxBytes: 1000}),
		opt:        SessionOptions{Size: 5000},
		want:       OK,
		wantCapErr: "exceeds the server's advertised SIZE 1000",
		wantField:  "size",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, srv := tc.peer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			p := &Prober{ReplyTimeout: 3 * time.Second, Helo: "probe.example.com"}
			opt := tc.opt
			opt.To = []string{"postmaster@example.com"}
			r, err := p.Session(ctx, Target{Host: "mx.example.com", Addr: addr, Preference: -1}, opt)
			var ce *CapabilityError
			if tc.wantCapErr != "" {
				if !errors.As(err, &ce) || !strings.Contains(ce.Error(), tc.wantCapErr) || ce.Field != tc.wantField {
					t.Fatalf("Session(%s) error = %#v, want a CapabilityError for %q with %q", tc.name, err, tc.wantField, tc.wantCapErr)
				}
				if strings.Contains(ce.Error(), "--") {
					t.Errorf("Session(%s) error = %q, want no flag spelling in the engine", tc.name, ce.Error())
				}
				return
			}
			if err != nil {
				t.Fatalf("Session(%s) error = %v", tc.name, err)
			}
			if r.Outcome != tc.want {
				t.Fatalf("Session(%s).Outcome = %s (%s), want %s%s", tc.name, r.Outcome, r.Error, tc.want, dump(r.Timeline))
			}
			if tc.want == OK && !opt.BDAT && !r.Acked && !opt.Deliver {
				t.Errorf("Session(%s).Acked = false, want true", tc.name)
			}
			if got := r.QueueID != ""; got != tc.wantQueueID {
				t.Errorf("Session(%s).QueueID = %q, want set = %v", tc.name, r.QueueID, tc.wantQueueID)
			}
			if srv != nil {
				// go-smtp counts a message when the final dot (or BDAT
				// LAST) arrived; give it a moment to finish.
				time.Sleep(50 * time.Millisecond)
				if got := srv.Messages(); got != tc.wantMessages {
					t.Errorf("Session(%s) delivered %d messages, want %d", tc.name, got, tc.wantMessages)
				}
			}
			if !inOrder(r.Timeline, tc.wantEvents) {
				t.Errorf("Session(%s) timeline lacks %v in order:%s", tc.name, tc.wantEvents, dump(r.Timeline))
			}
			for _, f := range r.Findings {
				if f.Code == dnscheck.CodePauseExceedsServerTimeout && f.Option != "pause_after_data" {
					t.Errorf("Session(%s) finding %s has Option %q, want pause_after_data", tc.name, f.Code, f.Option)
				}
			}
			if !regexp.MustCompile(tc.wantError).MatchString(r.Error) {
				t.Errorf("Session(%s).Error = %q, want it to match %q", tc.name, r.Error, tc.wantError)
			}
			if tc.wantFinding != "" && !hasFinding(r.Findings, tc.wantFinding) {
				t.Errorf("Session(%s).Findings = %+v, want %s", tc.name, r.Findings, tc.wantFinding)
			}
		})
	}
}

// inOrder reports whether kinds appear in tl in this order (not
// necessarily adjacent).
func inOrder(tl []wire.Event, kinds []wire.EventKind) bool {
	i := 0
	for _, e := range tl {
		if i < len(kinds) && e.Kind == kinds[i] {
			i++
		}
	}
	return i == len(kinds)
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	idle := 300 * time.Millisecond
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{ReadTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p := &Prober{ReplyTimeout: 3 * time.Second, Helo: "probe.example.com"}
	tgt := Target{Host: "mx.example.com", Addr: s.Addr, Preference: -1}
	// go-smtp refuses the bare "postmaster" that RFC 5321 §4.1.1.3 says
	// every server must accept, so name a domain. (The phases run at once
	// in a front end; job's TestRunTimeoutPhasesAtOnce times that.)
	rs := timeoutPhases(ctx, p, tgt, TimeoutPhases, TimeoutOptions{MaxWait: 5 * time.Second, To: "postmaster@example.com",
		Pauses: map[wire.Pause]time.Duration{wire.PauseAfterData: time.Second}})
	if len(rs) != len(TimeoutPhases) {
		t.Fatalf("timeoutPhases returned %d results, want %d", len(rs), len(TimeoutPhases))
	}
	below := 0
	for i, r := range rs {
		// In DATA, go-smtp answers its read timeout with "554 5.0.0
		// Error: transaction failed" and keeps the session open.
		wantBy := ClosedBy421
		if r.Phase == "data" || r.Phase == "body" {
			wantBy = "554"
		}
		if r.Phase != TimeoutPhases[i] || r.Outcome != ServerTimeout || r.Timeout == nil || r.ClosedBy != wantBy {
			t.Errorf("Timeout(%s) = phase %q, %s (%s), timeout %v, closed by %q; want a measured %s%s", TimeoutPhases[i], r.Phase, r.Outcome, r.Error, r.Timeout, r.ClosedBy, wantBy, dump(r.Timeline))
			continue
		}
		// go-smtp's clock at phase data and body runs from its read
		// of the DATA line, which came after the RCPT was sent.
		sendsBack := 1
		if r.Phase == "data" || r.Phase == "body" {
			sendsBack = 2
		}
		checkMeasured(t, "Timeout("+r.Phase+")", r, idle, sendsBack)
		if !r.Good() {
			t.Errorf("Timeout(%s).Good() = false, want true", r.Phase)
		}
		for _, f := range r.Findings {
			if f.Code == dnscheck.CodeServerTimeoutBelowRFC {
				below++
			}
		}
	}
	if below != 1 {
		t.Errorf("the phases gave %d server-timeout-below-rfc findings, want 1 merged", below)
	}
	for _, f := range rs[4].Findings {
		if f.Code == dnscheck.CodePauseExceedsServerTimeout && f.Option != "pause_after_data" {
			t.Errorf("Timeout(data) finding %s has Option %q, want pause_after_data", f.Code, f.Option)
		}
	}
	// The peer is go-smtp, whose banner and 421 name no software: no
	// log line is claimed for it, and the advice is neutral.
	for _, r := range rs {
		if r.ServerLog != "" || r.Server == nil || r.Server.Software != mta.SoftwareUnknown {
			t.Errorf("Timeout(%s) = log %q, server %+v; want no log line from an unknown server", r.Phase, r.ServerLog, r.Server)
		}
	}
	if !hasFinding(rs[4].Findings, dnscheck.CodePauseExceedsServerTimeout) {
		t.Errorf("Timeout(data) findings %+v; want pause-exceeds-server-timeout", rs[4].Findings)
	}
	for _, f := range rs[4].Findings {
		if f.Code == dnscheck.CodePauseExceedsServerTimeout && (strings.Contains(f.Message, "Postfix") || !strings.Contains(f.Message, "to 300s")) {
			t.Errorf("Timeout(data) advice %q; want neutral words and RFC 5321's 5 minutes (one timer for commands and data)", f.Message)
		}
	}
}

func TestTimeoutClosedBy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script func(c net.Conn, r *bufio.Reader)
		want   ClosedBy
	}{
		{"fin", func(c net.Conn, r *bufio.Reader) {
			fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
			time.Sleep(200 * time.Millisecond)
		}, ClosedByFIN},
		{"rst", func(c net.Conn, r *bufio.Reader) {
			fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
			time.Sleep(200 * time.Millisecond)
			resetConn(c)
		}, ClosedByRST},
	}
	for _, tc := range tests {
		addr := scriptPeer(t, tc.script)
		r, _ := (&Prober{ReplyTimeout: time.Second}).Timeout(context.Background(), Target{Host: "mx", Addr: addr, Preference: -1}, TimeoutOptions{Phase: "banner", MaxWait: 3 * time.Second})
		if r.ClosedBy != tc.want || r.Timeout == nil {
			t.Errorf("Timeout(%s peer) = closed by %q, timeout %v (%s); want %s%s", tc.name, r.ClosedBy, r.Timeout, r.Error, tc.want, dump(r.Timeline))
			continue
		}
		checkMeasured(t, "Timeout("+tc.name+" peer)", r, 200*time.Millisecond, 0)
	}
	// A server that keeps quiet longer than MaxWait: ok, with a note.
	addr := scriptPeer(t, func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
		time.Sleep(time.Second)
	})
	r, _ := (&Prober{}).Timeout(context.Background(), Target{Host: "mx", Addr: addr, Preference: -1}, TimeoutOptions{Phase: "banner", MaxWait: 200 * time.Millisecond})
	if r.Outcome != OK || r.Timeout != nil || !hasFinding(r.Findings, dnscheck.CodeNoTimeoutWithinMaxWait) {
		t.Errorf("Timeout(patient peer) = %s, %v, %+v; want ok with no-timeout-within-max-wait", r.Outcome, r.Timeout, r.Findings)
	}
}

// checkMeasured checks a timeout probe's measured idle timeout against
// its own timeline, for a peer that closes idle sessions after idle.
//
// The measurement is the client's: from the last thing it sent or heard
// to the close it read. On a loaded machine both ends of that may be
// read late, by different amounts (this test once saw 268 ms for a 300 ms
// timeout, and 411 ms for 200 ms), so the value itself is only checked
// for what the evidence proves:
//   - exactly: the measured span ends at the close event and starts
//     between the client's last send, reply or data and the start of
//     its quiet wait;
//   - the peer's clock started no earlier than the client's sendsBack-th
//     send from the end (dial start for 0), so the close came at least
//     idle after it;
//   - loosely: no more than idle+1s, so that it is the peer's timeout and
//     not the probe's wait (MaxWait, quitTimeout) that was measured.
func checkMeasured(t *testing.T, what string, r Result, idle time.Duration, sendsBack int) {
	t.Helper()
	var (
		from, wait, closeAt time.Duration
		sends               []time.Duration
		waiting, closed     bool
	)
	for _, e := range r.Timeline {
		switch {
		case !waiting && e.Kind == wire.EvPauseStart && e.Pause == wire.PauseQuiet:
			wait, waiting = e.At, true
		case !waiting && (e.Kind == wire.EvReply || e.Kind == wire.EvData):
			from = e.End()
		case !waiting && e.Kind == wire.EvSend:
			from = e.At
			sends = append(sends, e.At)
		case waiting && !closed && (e.Kind == wire.EvFIN || e.Kind == wire.EvRST ||
			e.Kind == wire.EvUnsolicited && e.Reply != nil && !e.Reply.OK()):
			closeAt, closed = e.At, true
		}
	}
	if !waiting || !closed {
		t.Errorf("%s timeline has no quiet wait ended by a close:%s", what, dump(r.Timeline))
		return
	}
	got := *r.Timeout
	if start := closeAt - got; start < from || start > wait {
		t.Errorf("%s.Timeout = %s measures from %s; want from the last activity at %s (before the wait at %s) to the close at %s%s",
			what, got, start, from, wait, closeAt, dump(r.Timeline))
	}
	var anchor time.Duration
	if sendsBack > 0 && len(sends) >= sendsBack {
		anchor = sends[len(sends)-sendsBack]
	}
	if closeAt-anchor < idle {
		t.Errorf("%s: close at %s, %s after the peer's clock could start at %s; want at least its %s timeout%s",
			what, closeAt, closeAt-anchor, anchor, idle, dump(r.Timeline))
	}
	if got > idle+time.Second {
		t.Errorf("%s.Timeout = %s, want about %s (at most a second late)", what, got, idle)
	}
}

// The smtpd_timeout that pause-exceeds-server-timeout advises: a third
// more than the pause, rounded up to ten seconds, in both the session
// and the timeout probe.
func TestAdvisedServerTimeout(t *testing.T) {
	tests := []struct {
		pause time.Duration
		want  int
	}{
		{300 * time.Second, 400},
		{301 * time.Second, 410},
		{90 * time.Second, 120},
		{200 * time.Second, 270},
		{7500 * time.Millisecond, 10},
		{time.Millisecond, 10},
		{800 * time.Millisecond, 10},
		{30 * time.Second, 40},
		{10 * time.Minute, 800},
	}
	for _, tc := range tests {
		if got := advisedServerTimeout(tc.pause); got != tc.want {
			t.Errorf("advisedServerTimeout(%v) = %d, want %d", tc.pause, got, tc.want)
		}
	}
}

// A RangeError names the option neutrally; the front end spells it.
func TestRangeErrorText(t *testing.T) {
	e := &RangeError{Field: "min", Value: 1500, Limit: 1400, Dst: netip.MustParseAddr("192.0.2.1")}
	if got, want := e.Error(), "min 1500 is above the interface MTU towards 192.0.2.1 (1400)"; got != want {
		t.Errorf("RangeError.Error() = %q, want %q", got, want)
	}
	if got, want := e.Reason(), "above the interface MTU towards 192.0.2.1 (1400)"; got != want {
		t.Errorf("RangeError.Reason() = %q, want %q", got, want)
	}
}

// timeoutPhases measures phases of t, each in a session of its own and
// all at once (as a front end does: job's timeout kind), and judges them
// together as Run does for one address (mergeBelowRFC).
func timeoutPhases(ctx context.Context, p *Prober, t Target, phases []string, opt TimeoutOptions) []Result {
	out := make([]Result, len(phases))
	var wg sync.WaitGroup
	for i, ph := range phases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opt
			o.Phase = ph
			out[i], _ = p.Timeout(ctx, t, o)
		}()
	}
	wg.Wait()
	mergeBelowRFC(out, who(t, t.Addr.Addr().String()))
	return out
}
