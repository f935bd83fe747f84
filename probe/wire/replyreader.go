package wire

import (
	"fmt"
	"strconv"
)

// violationBytes caps the offending bytes a ProtocolViolation keeps.
const violationBytes = 120

// replyReader assembles SMTP replies (RFC 5321 §4.2) from the bytes of a
// connection as they arrive. It judges the stream byte by byte, left to
// right, and a fault is decided by the first byte that makes the stream
// illegal, so the verdict depends only on the bytes and never on how TCP
// cut them into reads: feeding the same bytes in one call or in any
// number of pieces gives the same replies and the same violation.
//
// Line endings: RFC 5321 §2.3.8 says lines end in CRLF. A lone LF is
// accepted as a line end too, as Postfix's and Exim's clients do, because
// it loses nothing and real servers behind broken proxies send it. A CR
// that is not followed by LF is a bare CR inside a line and counts as a
// binary byte.
type replyReader struct {
	line       []byte // the current line so far, without CR and LF
	cr         bool   // the last byte was a CR; the next must be LF
	code       int    // the code of the reply in progress
	lines      []string
	replyBytes int
}

// feed parses p and calls emit for every complete reply. When emit
// returns true, feed stops right after that reply and returns the bytes
// that follow it. A violation ends parsing; the reader must not be fed
// again.
func (rr *replyReader) feed(p []byte, emit func(code int, lines []string) bool) (rest []byte, stopped bool, pv *ProtocolViolation) {
	for i := 0; i < len(p); i++ {
		b := p[i]
		if rr.cr {
			rr.cr = false
			if b != '\n' {
				return nil, false, rr.violation("binary bytes in reply (CR not followed by LF)", append(rr.tail(), '\r', b))
			}
			code, lines, done, pv := rr.endLine()
			if pv != nil {
				return nil, false, pv
			}
			if done && emit(code, lines) {
				return p[i+1:], true, nil
			}
			continue
		}
		switch b {
		case '\r':
			rr.cr = true
			continue
		case '\n':
			code, lines, done, pv := rr.endLine()
			if pv != nil {
				return nil, false, pv
			}
			if done && emit(code, lines) {
				return p[i+1:], true, nil
			}
			continue
		}
		if pv := rr.addByte(b); pv != nil {
			return nil, false, pv
		}
	}
	return nil, false, nil
}

// addByte appends one byte of a line, checking it against what its
// position allows: "Reply-code [ SP textstring ] CRLF" or "Reply-code -
// textstring CRLF" (RFC 5321 §4.2), a code of 2yz to 5yz (§4.2.1), no
// control characters, and at most MaxLineBytes per line (§4.5.3.1.5
// allows 512; the probe is lenient up to MaxLineBytes).
func (rr *replyReader) addByte(b byte) *ProtocolViolation {
	pos := len(rr.line)
	rr.line = append(rr.line, b)
	switch {
	case isBinary(rune(b)):
		return rr.violation("binary bytes in reply", rr.tail())
	case pos < 3 && (b < '0' || b > '9'):
		return rr.violation("reply line does not start with a 3-digit code", rr.line)
	case pos == 2:
		if code, _ := strconv.Atoi(string(rr.line)); code < 200 || code > 599 {
			return rr.violation(fmt.Sprintf("reply code %d out of range 2yz-5yz", code), rr.line)
		}
	case pos == 3 && b != ' ' && b != '-':
		return rr.violation("reply code not followed by space or hyphen", rr.line)
	case pos >= MaxLineBytes:
		return rr.violation(fmt.Sprintf("reply line longer than %d bytes", MaxLineBytes), rr.line)
	}
	return nil
}

// endLine completes the current line and, when it ends a reply, returns
// the reply's code and lines with done set.
func (rr *replyReader) endLine() (code int, lines []string, done bool, pv *ProtocolViolation) {
	line := rr.line
	if len(line) < 3 {
		return 0, nil, false, rr.violation("reply line too short", line)
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(rr.lines) > 0 && code != rr.code {
		return 0, nil, false, rr.violation(fmt.Sprintf("continuation line with code %d inside a %d reply", code, rr.code), line)
	}
	more := len(line) > 3 && line[3] == '-'
	text := ""
	if len(line) > 4 {
		text = string(line[4:])
	}
	rr.code = code
	rr.lines = append(rr.lines, text)
	rr.replyBytes += len(line)
	rr.line = rr.line[:0]
	switch {
	case len(rr.lines) > MaxReplyLines && more:
		return 0, nil, false, rr.violation(fmt.Sprintf("reply never ends: more than %d lines and still going on", MaxReplyLines), line)
	case len(rr.lines) > MaxReplyLines:
		return 0, nil, false, rr.violation(fmt.Sprintf("reply of %d lines, more than the %d allowed", len(rr.lines), MaxReplyLines), line)
	case rr.replyBytes > MaxReplyBytes:
		return 0, nil, false, rr.violation(fmt.Sprintf("reply of more than %d bytes", MaxReplyBytes), line)
	}
	if more {
		return 0, nil, false, nil
	}
	lines = rr.lines
	rr.lines, rr.code, rr.replyBytes = nil, 0, 0
	return code, lines, true, nil
}

// partial reports what was received of a reply that has not ended, for
// a connection that ends in its middle; "" when nothing is pending.
func (rr *replyReader) partial() string {
	if len(rr.lines) == 0 && len(rr.line) == 0 && !rr.cr {
		return ""
	}
	var b []byte
	for _, l := range rr.lines {
		b = append(b, l...)
		b = append(b, '|')
	}
	b = append(b, rr.line...)
	if rr.cr {
		b = append(b, '\r')
	}
	return quote(b, violationBytes)
}

// tail returns the last violationBytes bytes of the current line, so a
// binary byte deep in a long line is shown.
func (rr *replyReader) tail() []byte {
	return append([]byte(nil), rr.line[max(0, len(rr.line)-violationBytes):]...)
}

// violation builds a ProtocolViolation keeping at most violationBytes of b.
func (rr *replyReader) violation(reason string, b []byte) *ProtocolViolation {
	return &ProtocolViolation{Reason: reason, Bytes: append([]byte(nil), b[:min(len(b), violationBytes)]...)}
}
