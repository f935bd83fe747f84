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
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want Outcome
	}{
		{nil, OK},
		{wire.ErrClosed, Closed},
		{fmt.Errorf("%w: ECONNRESET", wire.ErrReset), Reset},
		{&wire.ProtocolViolation{Reason: "binary bytes in reply"}, ProtocolError},
		{&wire.HandshakeError{Err: errors.New("bad certificate")}, TLSError},
		{fmt.Errorf("read: %w", tls.AlertError(20)), TLSError},
		{wire.ErrReplyTimeout, ReplyTimeout},
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
		{&wire.DialError{Kind: wire.DialTimeout}, ConnectTimeout},
		{&wire.DialError{Kind: wire.DialRefused}, Refused},
		{&wire.DialError{Kind: wire.DialReset}, Reset},
		{&wire.DialError{Kind: wire.DialUnreachable}, Unreachable},
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
		r := wire.NewReply(tc.code, tc.lines, 0)
		if r.Transient != tc.transient || isGreylisting(r) != tc.grey {
			t.Errorf("wire.NewReply(%d %q) = transient %v, greylisting %v; want %v, %v", tc.code, tc.lines, r.Transient, isGreylisting(r), tc.transient, tc.grey)
		}
		b, _ := json.Marshal(r)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if got, _ := m["transient"].(bool); got != tc.transient {
			t.Errorf("json(%d reply) transient = %v, want %v: %s", tc.code, m["transient"], tc.transient, b)
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
	var data []wire.Event
	for _, e := range r.Timeline {
		if e.Kind == wire.EvData && e.Count > 0 {
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

func TestPauseOption(t *testing.T) {
	for _, tc := range []struct {
		p    wire.Pause
		want string
	}{
		{wire.PauseBeforeData, "pause_before_data"},
		{wire.PauseAfterData, "pause_after_data"},
		{wire.ChunkPause, "chunk_pause"},
		{wire.PauseQuiet, ""},
		{"other", ""},
	} {
		if got := pauseOption(tc.p); got != tc.want {
			t.Errorf("pauseOption(%q) = %q, want %q", tc.p, got, tc.want)
		}
	}
}
