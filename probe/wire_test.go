package probe

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want Outcome
	}{
		{nil, OK},
		{ErrClosed, Closed},
		{fmt.Errorf("%w: ECONNRESET", ErrReset), Reset},
		{&ProtocolViolation{Reason: "binary bytes in reply"}, ProtocolError},
		{&HandshakeError{Err: errors.New("bad certificate")}, TLSError},
		{fmt.Errorf("read: %w", tls.AlertError(20)), TLSError},
		{ErrReplyTimeout, ReplyTimeout},
		{context.DeadlineExceeded, ReplyTimeout},
		// Cancellation is not the peer's doing; see Classify.
		{context.Canceled, ReplyTimeout},
		{fmt.Errorf("read: %w", syscall.ETIMEDOUT), ReplyTimeout},
		{fmt.Errorf("write: %w", syscall.ECONNABORTED), Reset},
		{fmt.Errorf("read: %w", syscall.EHOSTUNREACH), Unreachable},
		// Unknown errors are not passed off as a FIN nobody saw.
		{fmt.Errorf("write: %w", syscall.ENOBUFS), ReplyTimeout},
		{errors.New("something else"), ReplyTimeout},
		{io.ErrShortWrite, ReplyTimeout},
	}
	for _, tc := range tests {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestReplyTransient(t *testing.T) {
	tests := []struct {
		code      int
		lines     []string
		transient bool
		grey      bool
	}{
		{450, []string{"4.2.0 <a@example.com>: Recipient address rejected: Greylisted"}, true, true},
		{451, []string{"4.7.1 Please try again later"}, true, true},
		{450, []string{"4.2.1 Mailbox busy, greylist in effect"}, true, true},
		{451, []string{"4.3.0 Temporary lookup failure"}, true, false},
		{421, []string{"4.4.2 mx Error: timeout exceeded"}, true, false},
		{550, []string{"5.7.1 greylisted forever"}, false, false},
		{250, []string{"2.0.0 Ok"}, false, false},
	}
	for _, tc := range tests {
		r := newReply(tc.code, tc.lines, 0)
		if r.Transient != tc.transient || IsGreylisting(r) != tc.grey {
			t.Errorf("newReply(%d %q) = transient %v, greylisting %v; want %v, %v", tc.code, tc.lines, r.Transient, IsGreylisting(r), tc.transient, tc.grey)
		}
		b, _ := json.Marshal(r)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if got, _ := m["transient"].(bool); got != tc.transient {
			t.Errorf("json(%d reply) transient = %v, want %v: %s", tc.code, m["transient"], tc.transient, b)
		}
	}
}

// A transient rejection is WARNING, not CRITICAL, unless --critical
// transient=N says so (issue 8 item 6).
func TestStatusTransient(t *testing.T) {
	grey := newReply(450, []string{"4.2.0 Greylisted"}, 0)
	perm := newReply(550, []string{"5.1.1 User unknown"}, 0)
	res := func(o Outcome, rp *Reply) Result {
		return Result{Address: "192.0.2.1", Outcome: o, Reply: rp}
	}
	tests := []struct {
		name       string
		results    []Result
		warn, crit string
		want       Status
	}{
		{"one address greylisted", []Result{res(Rejected, &grey)}, "", "", StatusWarning},
		{"all addresses greylisted", []Result{res(Rejected, &grey), res(Rejected, &grey)}, "", "", StatusWarning},
		{"permanent rejection", []Result{res(Rejected, &perm)}, "", "", StatusCritical},
		{"greylisted and refused", []Result{res(Rejected, &grey), res(Refused, nil)}, "", "", StatusCritical},
		{"greylisted and ok", []Result{res(Rejected, &grey), res(OK, nil)}, "", "", StatusWarning},
		{"--critical transient=1", []Result{res(Rejected, &grey)}, "", "transient=1", StatusCritical},
		{"--critical transient=2 with one", []Result{res(Rejected, &grey), res(OK, nil)}, "", "transient=2", StatusWarning},
	}
	for _, tc := range tests {
		rep := &Report{Command: "session", Results: tc.results}
		outs := []Outcome{}
		for _, r := range tc.results {
			outs = append(outs, r.Outcome)
		}
		rep.Outcome = Worst(outs...)
		w, _ := ParseThresholds(tc.warn)
		c, err := ParseThresholds(tc.crit)
		if err != nil {
			t.Fatal(err)
		}
		rep.ApplyThresholds(w, c)
		if got := rep.Status(); got != tc.want {
			t.Errorf("Status(%s) = %s, want %s (findings %+v)", tc.name, got, tc.want, rep.Findings)
		}
	}
}

// TestTimelineCoalesced writes a body one byte at a time: the timeline
// holds one data event with a count, not one per write (issue 9 item 8).
// SMTPPROBE_BODY_BYTES sets the body size (1048576 to measure the
// --chunk-size 1 figure of the issue); the default keeps the test fast.
func TestTimelineCoalesced(t *testing.T) {
	t.Parallel()
	size := 64 << 10
	if v := os.Getenv("SMTPPROBE_BODY_BYTES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("SMTPPROBE_BODY_BYTES=%q: %v", v, err)
		}
		size = n
	}
	addr := startSMTP(t, probetest.SMTPOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := &Prober{ReplyTimeout: 30 * time.Second, Helo: "probe.example.com"}
	r, err := p.Session(ctx, Target{Host: "mx.example.com", Addr: addr, Preference: -1},
		SessionOptions{Size: size, ChunkSize: 1, To: []string{"postmaster@example.com"}})
	if err != nil || r.Outcome != OK {
		t.Fatalf("Session(chunk 1) = %s (%s), %v", r.Outcome, r.Error, err)
	}
	var data []Event
	for _, e := range r.Timeline {
		if e.Kind == EvData && e.Count > 0 {
			data = append(data, e)
		}
	}
	if len(data) != 1 || data[0].Count != r.MessageBytes || data[0].Bytes != r.MessageBytes {
		t.Fatalf("data events = %+v, want one with count and bytes %d", data, r.MessageBytes)
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(js) > 8<<10 {
		t.Errorf("json(result) = %d bytes, want a few KB", len(js))
	}
	t.Logf("%d B body in 1 B chunks: %d timeline events, %d B of JSON; data event %q", r.MessageBytes, len(r.Timeline), len(js), data[0].Text)
}

// Chunks of one size separated by chunk pauses coalesce; a pause in which
// the peer acted does not.
func TestMergeData(t *testing.T) {
	c := &Conn{start: time.Now(), now: time.Now, run: -1, finAt: -1, notify: make(chan struct{}, 1)}
	c.mu.Lock()
	c.eventLocked(Event{Kind: EvReply, Reply: &Reply{Code: 354}})
	for i := 0; i < 3; i++ {
		c.eventLocked(Event{Kind: EvPauseStart, Text: "chunk-pause 1ms", Pause: ChunkPause})
		c.eventLocked(Event{Kind: EvPauseEnd, Text: "chunk-pause", Pause: ChunkPause})
		c.eventLocked(Event{Kind: EvData, Bytes: 10})
	}
	c.eventLocked(Event{Kind: EvPauseStart, Text: "chunk-pause 1ms", Pause: ChunkPause})
	c.eventLocked(Event{Kind: EvPauseEnd, Text: "chunk-pause", Pause: ChunkPause})
	c.eventLocked(Event{Kind: EvData, Bytes: 4}) // the short last chunk
	c.eventLocked(Event{Kind: EvPauseStart, Text: "chunk-pause 1ms", Pause: ChunkPause})
	c.eventLocked(Event{Kind: EvUnsolicited, Reply: &Reply{Code: 421}})
	c.eventLocked(Event{Kind: EvPauseEnd, Text: "chunk-pause", Pause: ChunkPause})
	c.eventLocked(Event{Kind: EvData, Bytes: 10})
	c.mu.Unlock()
	tl := c.Timeline()
	var kinds []EventKind
	for _, e := range tl {
		kinds = append(kinds, e.Kind)
	}
	want := []EventKind{EvReply, EvPauseStart, EvPauseEnd, EvData, EvPauseStart, EvUnsolicited, EvPauseEnd, EvData}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("Timeline() kinds = %v, want %v", kinds, want)
	}
	if d := tl[3]; d.Count != 4 || d.Bytes != 34 || !d.short {
		t.Errorf("coalesced event = %+v, want 4 writes (the pause before the run stays), 34 bytes, short", d)
	}
}

func TestPauseOption(t *testing.T) {
	for _, tc := range []struct {
		p    Pause
		want string
	}{
		{PauseBeforeData, "pause_before_data"},
		{PauseAfterData, "pause_after_data"},
		{ChunkPause, "chunk_pause"},
		{PauseQuiet, ""},
		{"other", ""},
	} {
		if got := tc.p.Option(); got != tc.want {
			t.Errorf("Pause(%q).Option() = %q, want %q", tc.p, got, tc.want)
		}
	}
}

// Only a chunk pause, told by the event's Pause label and not by its
// text, joins the writes on either side into one data event.
func TestMergeDataPauseLabel(t *testing.T) {
	for _, tc := range []struct {
		label Pause
		text  string
		want  int // data events
	}{
		{ChunkPause, "chunk-pause 1ms", 1},
		{ChunkPause, "", 1},
		{PauseAfterData, "chunk-pause 1ms", 2},
		{PauseQuiet, "chunk-pause 1ms", 2},
		{"", "chunk-pause 1ms", 2},
	} {
		c := &Conn{start: time.Now(), now: time.Now, run: -1, finAt: -1, notify: make(chan struct{}, 1)}
		c.mu.Lock()
		c.eventLocked(Event{Kind: EvData, Bytes: 10})
		c.eventLocked(Event{Kind: EvPauseStart, Text: tc.text, Pause: tc.label})
		c.eventLocked(Event{Kind: EvPauseEnd, Text: tc.text, Pause: tc.label})
		c.eventLocked(Event{Kind: EvData, Bytes: 10})
		c.mu.Unlock()
		n := 0
		for _, e := range c.Timeline() {
			if e.Kind == EvData {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("two writes around pause %q (text %q): %d data events, want %d", tc.label, tc.text, n, tc.want)
		}
	}
}

// When a write met the reset first, the reader's EOF is that reset, not
// a FIN (issue 9 item 3: "the reset seems to be consumed on the write
// side, so the reader sees EOF").
func TestReadEOFAfterWriteReset(t *testing.T) {
	for _, tc := range []struct {
		writeReset string
		want       error
		kind       EventKind
	}{
		{"ECONNRESET", ErrReset, EvRST},
		{"EPIPE", ErrReset, EvRST},
		{"", ErrClosed, EvFIN},
	} {
		c := &Conn{start: time.Now(), now: time.Now, run: -1, finAt: -1, notify: make(chan struct{}, 1), writeReset: tc.writeReset}
		c.readFailed(io.EOF)
		tl := c.Timeline()
		if !errors.Is(c.readErr, tc.want) || len(tl) != 1 || tl[0].Kind != tc.kind {
			t.Errorf("readFailed(EOF) after write %q = %v, %v; want %v and a %s event", tc.writeReset, c.readErr, tl, tc.want, tc.kind)
		}
		if _, fin := c.FINAt(); fin != (tc.kind == EvFIN) {
			t.Errorf("readFailed(EOF) after write %q: FINAt set = %v, want %v", tc.writeReset, fin, tc.kind == EvFIN)
		}
	}
}
