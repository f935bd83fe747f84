package probe

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// message builds a synthetic test message of at least size bytes (the
// headers alone may be larger) in RFC 5322 form: realistic headers and a
// plain-text body of 76-character lines. No line starts with ".", so the
// body needs no dot-stuffing (RFC 5321 §4.5.2), and it ends with CRLF.
func message(from, to, helo string, size int, now time.Time) []byte {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	host := strings.Trim(helo, "[]")
	if from == "" {
		from = "postmaster@" + host
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: smtpprobe <%s>\r\n", from)
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	fmt.Fprintf(&b, "Subject: smtpprobe synthetic test message (%d bytes)\r\n", size)
	fmt.Fprintf(&b, "Message-ID: <%s.smtpprobe@%s>\r\n", hex.EncodeToString(id), host)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=us-ascii\r\n")
	b.WriteString("X-Smtpprobe: synthetic test; safe to discard\r\n")
	b.WriteString("\r\n")
	const line = "This is filler text from smtpprobe, an SMTP path and timeout tester. 0123"
	for i := 0; b.Len() < size; i++ {
		left := size - b.Len()
		switch {
		case left >= len(line)+2:
			b.WriteString(line)
			b.WriteString("\r\n")
		case left > 2:
			b.WriteString(strings.Repeat("x", left-2))
			b.WriteString("\r\n")
		default:
			b.WriteString("\r\n")
		}
	}
	if !strings.HasSuffix(b.String(), "\r\n") {
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}
