package wire

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// readOutcome is everything a replyReader decides about a byte stream.
type readOutcome struct {
	Replies   []string // "code|line|line"
	Violation string   // Reason and Bytes
	Rest      string   // bytes after the reply the reader stopped after
	Stopped   bool
	Partial   string // an unfinished reply at the end
}

// readAll feeds pieces to a fresh replyReader, stopping after reply
// number stopAt (0: never), as the STARTTLS reader does.
func readAll(pieces [][]byte, stopAt int) readOutcome {
	var (
		rr  replyReader
		out readOutcome
	)
	emit := func(code int, lines []string) bool {
		out.Replies = append(out.Replies, fmt.Sprintf("%d|%s", code, strings.Join(lines, "|")))
		return stopAt > 0 && len(out.Replies) == stopAt
	}
	for i, p := range pieces {
		rest, stopped, pv := rr.feed(p, emit)
		if pv != nil {
			out.Violation = pv.Reason + ": " + quote(pv.Bytes, 200)
			return out
		}
		if stopped {
			out.Stopped = true
			var b []byte
			b = append(b, rest...)
			for _, q := range pieces[i+1:] {
				b = append(b, q...)
			}
			out.Rest = string(b)
			return out
		}
	}
	out.Partial = rr.partial()
	return out
}

// cutAt splits data at the given offsets.
func cutAt(data []byte, offs ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, o := range offs {
		if o < prev || o > len(data) {
			continue
		}
		out = append(out, data[prev:o])
		prev = o
	}
	return append(out, data[prev:])
}

func TestReplyReader(t *testing.T) {
	long := "250 " + strings.Repeat("x", MaxLineBytes-4) // exactly MaxLineBytes
	multi := func(n int, last bool) string {
		var b strings.Builder
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, "250-line %d\r\n", i)
		}
		if last {
			fmt.Fprintf(&b, "250 line %d\r\n", n)
		} else {
			fmt.Fprintf(&b, "250-line %d\r\n", n)
		}
		return b.String()
	}
	tests := []struct {
		name        string
		in          string
		wantReplies int
		wantViol    string // substring of the violation, "" for none
	}{
		{"one line", "220 mx.example.com ESMTP\r\n", 1, ""},
		{"multi-line", "250-mx\r\n250-PIPELINING\r\n250 SIZE 100\r\n", 1, ""},
		{"code only", "250\r\n", 1, ""},
		{"two replies", "250 a\r\n354 b\r\n", 2, ""},
		{"line of exactly MaxLineBytes", long + "\r\n", 1, ""},
		{"line one byte over", long + "y\r\n", 0, "longer than 4096 bytes"},
		{"lone LF accepted", "250-a\n250 b\n", 1, ""},
		{"bare CR", "250 a\rb\r\n", 0, "binary bytes"},
		{"NUL", "250 a\x00b\r\n", 0, "binary bytes"},
		{"TLS record instead of a reply", "\x16\x03\x01\x00", 0, "binary bytes"},
		{"HTTP", "HTTP/1.1 400 Bad Request\r\n", 0, "3-digit code"},
		{"code out of range", "199 no\r\n", 0, "out of range"},
		{"bad separator", "250_x\r\n", 0, "space or hyphen"},
		{"short line", "25\r\n", 0, "too short"},
		{"empty line", "\r\n", 0, "too short"},
		{"code changes inside a reply", "250-a\r\n251 b\r\n", 0, "continuation line"},
		{"200 lines is fine", multi(MaxReplyLines, true), 1, ""},
		{"201 lines is too many", multi(MaxReplyLines+1, true), 0, "reply of 201 lines, more than the 200 allowed"},
		{"a reply that never ends", multi(MaxReplyLines+1, false), 0, "never ends"},
		{"UTF-8 text", "250 Grüße\r\n", 1, ""},
	}
	for _, tc := range tests {
		data := []byte(tc.in)
		whole := readAll([][]byte{data}, 0)
		if len(whole.Replies) != tc.wantReplies || !strings.Contains(whole.Violation, tc.wantViol) || (tc.wantViol == "") != (whole.Violation == "") {
			t.Errorf("replyReader(%s) = %d replies, violation %q; want %d, %q", tc.name, len(whole.Replies), whole.Violation, tc.wantReplies, tc.wantViol)
		}
		// Every cut into two pieces, and (for short inputs) one byte per
		// read, must give the same outcome.
		for i := 0; i <= len(data); i++ {
			if got := readAll(cutAt(data, i), 0); !reflect.DeepEqual(got, whole) {
				t.Errorf("replyReader(%s) cut at %d = %+v, want %+v as in one read", tc.name, i, got, whole)
				break
			}
		}
		if len(data) < 20000 {
			var bytewise [][]byte
			for i := range data {
				bytewise = append(bytewise, data[i:i+1])
			}
			if got := readAll(bytewise, 0); !reflect.DeepEqual(got, whole) {
				t.Errorf("replyReader(%s) byte by byte = %+v, want %+v", tc.name, got, whole)
			}
		}
	}
}

// The two cases of issue 9 item 6: a 4,096-byte line whose CR and LF
// arrive in different reads, and two legal lines that end at a read
// boundary.
func TestReplyReaderIssue9Cases(t *testing.T) {
	line := []byte("250 " + strings.Repeat("x", MaxLineBytes-4) + "\r\n")
	got := readAll(cutAt(line, len(line)-1), 0)
	if got.Violation != "" || len(got.Replies) != 1 {
		t.Errorf("replyReader(4096-byte line, CR|LF split) = %+v, want one reply", got)
	}
	two := []byte("250-first\r\n250 second\r\n")
	got = readAll([][]byte{two, []byte("354 go on\r\n")}, 0)
	if got.Violation != "" || len(got.Replies) != 2 {
		t.Errorf("replyReader(two lines at a read boundary) = %+v, want two replies", got)
	}
}

func TestReplyReaderStop(t *testing.T) {
	data := []byte("250 a\r\n220 go ahead\r\n\x16\x03\x01")
	whole := readAll([][]byte{data}, 2)
	if !whole.Stopped || whole.Rest != "\x16\x03\x01" {
		t.Fatalf("replyReader(stop after 2) = %+v, want the TLS bytes left over", whole)
	}
	for i := 0; i <= len(data); i++ {
		if got := readAll(cutAt(data, i), 2); !reflect.DeepEqual(got, whole) {
			t.Errorf("replyReader(stop after 2) cut at %d = %+v, want %+v", i, got, whole)
		}
	}
}

// FuzzReplyReader checks that one read and any segmentation of the same
// bytes give the same replies, the same violation and the same leftover
// (issue 9: "Reads are classified by the bytes, never by their
// segmentation"). cuts gives the piece lengths (each byte one piece
// length, 0 meaning 1); stop is the reply after which the reader stops.
func FuzzReplyReader(f *testing.F) {
	seeds := []string{
		"220 mx.example.com ESMTP\r\n",
		"250-mx.example.com\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
		"421 4.4.2 mx Error: timeout exceeded\r\n",
		"250 ok\n354 go\n",
		"250 a\rb\r\n",
		"\x16\x03\x01\x02\x00",
		"250-a\r\n251 b\r\n",
		"220 go ahead\r\n250 injected\r\n",
		"250 " + strings.Repeat("x", MaxLineBytes-4) + "\r\n",
		"250 " + strings.Repeat("x", MaxLineBytes-3) + "\r\n",
		strings.Repeat("250-x\r\n", MaxReplyLines) + "250 x\r\n",
		"HTTP/1.1 400 Bad Request\r\n\r\n",
		"250 \xff\xfe\r\n",
		"",
	}
	for i, s := range seeds {
		f.Add([]byte(s), []byte{byte(i), 1, 3, 7}, uint8(i%3))
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte, stop uint8) {
		whole := readAll([][]byte{data}, int(stop))
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
		if got := readAll(pieces, int(stop)); !reflect.DeepEqual(got, whole) {
			t.Fatalf("replyReader(%q) in pieces %v = %+v, want %+v as in one read", data, cuts, got, whole)
		}
		// A line the reader accepted is no longer than the limit and
		// holds no control bytes.
		for _, r := range whole.Replies {
			for _, l := range strings.Split(r, "|") {
				if len(l) > MaxLineBytes || bytes.ContainsAny([]byte(l), "\x00\r\n") {
					t.Fatalf("replyReader(%q) accepted line %q", data, l)
				}
			}
		}
	})
}
