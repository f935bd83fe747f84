package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// connRead runs a Conn's reader over pieces written by a peer on a
// net.Pipe, one write per piece, and returns every reply (code, lines,
// unsolicited) and how reading ended.
func connRead(tb testing.TB, pieces [][]byte) []string {
	tb.Helper()
	client, server := net.Pipe()
	c := newConn(client, time.Now(), nil, "pipe")
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for _, p := range pieces {
			if _, err := server.Write(p); err != nil {
				return
			}
		}
		server.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	for i := 0; i < 10*MaxUnsolicited; i++ {
		r, err := c.ReadReply(ctx, 5*time.Second)
		if err != nil {
			var pv *ProtocolViolation
			end := endKind(err)
			if errors.As(err, &pv) {
				end += ": " + pv.Error()
			} else if errors.Is(err, ErrReplyTimeout) || ctx.Err() != nil {
				tb.Fatalf("Conn reader stalled: %v", err)
			}
			out = append(out, "end "+end)
			break
		}
		out = append(out, fmt.Sprintf("%d %q unsolicited=%v", r.Code, r.Lines, r.Unsolicited))
	}
	c.Close()
	server.Close()
	<-wrote
	return out
}

// endKind names how reading ended, in probe.Classify's words.
func endKind(err error) string {
	var pv *ProtocolViolation
	switch {
	case errors.As(err, &pv):
		return "protocol-error"
	case errors.Is(err, ErrReset):
		return "reset"
	case errors.Is(err, ErrClosed):
		return "closed"
	}
	return "other: " + err.Error()
}

// FuzzConnSegmentation is FuzzReplyReader through a whole Conn: the
// reader goroutine, its reply queue, the bound on unsolicited replies and
// the end of the connection. One write and the same bytes in pieces must
// give the same replies and the same end.
func FuzzConnSegmentation(f *testing.F) {
	f.Add([]byte("220 mx ESMTP\r\n250 unasked\r\n"), []byte{3})
	f.Add([]byte("220-mx\r\n220 ESMTP\r\n421 4.4.2 timeout\r\n"), []byte{1})
	f.Add([]byte("220 "+string(make([]byte, 10))+"\r\n"), []byte{5, 1})
	f.Add([]byte("220 mx\n250 a\n"), []byte{2, 9})
	f.Add([]byte("220 mx\r\n"+strings.Repeat("250 keepalive\r\n", MaxUnsolicited+5)), []byte{7, 200})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		if len(data) > 64<<10 {
			return
		}
		whole := connRead(t, [][]byte{data})
		var pieces [][]byte
		rest := data
		for i := 0; len(rest) > 0; i++ {
			n := 1
			if len(cuts) > 0 {
				n = max(int(cuts[i%len(cuts)]), 1)
			}
			n = min(n, len(rest))
			pieces = append(pieces, rest[:n])
			rest = rest[n:]
		}
		if got := connRead(t, pieces); !reflect.DeepEqual(got, whole) {
			t.Fatalf("Conn(%q) in pieces %v = %q, want %q as in one write", data, cuts, got, whole)
		}
	})
}
