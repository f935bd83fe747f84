package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// Reply is one complete SMTP reply (RFC 5321 §4.2), possibly multi-line.
type Reply struct {
	Code     int      `json:"code"`
	Enhanced string   `json:"enhanced,omitempty"` // RFC 3463 status code, e.g. "4.4.2"
	Text     string   `json:"text"`               // the text of all lines, joined by "\n", enhanced code stripped from the first
	Lines    []string `json:"-"`                  // the raw text after "ddd-" / "ddd " of every line

	// Transient is true for a 4yz reply: a transient negative completion
	// (RFC 5321 §4.2.1, "the command was not accepted ... but the error
	// condition is temporary"), which a sender retries.
	Transient bool `json:"transient,omitempty"`

	// At is the arrival time of the reply's last line, from connect.
	At time.Duration `json:"-"`
	// Unsolicited is true when no command was waiting for this reply, such
	// as a 421 sent by a server closing an idle session (RFC 5321 §4.2.2).
	Unsolicited bool `json:"unsolicited,omitempty"`
}

// Class returns the first digit of the code (2, 3, 4 or 5).
func (r Reply) Class() int { return r.Code / 100 }

// OK reports whether the reply is positive: 2yz or 3yz (RFC 5321 §4.2.1).
func (r Reply) OK() bool { return r.Code >= 200 && r.Code < 400 }

// Err returns the reply as go-smtp's typed error when it is a 4yz or 5yz
// reply, and nil otherwise.
func (r Reply) Err() *smtp.SMTPError {
	if r.OK() {
		return nil
	}
	e := &smtp.SMTPError{Code: r.Code, Message: r.Text}
	if c, ok := parseEnhanced(r.Enhanced); ok {
		e.EnhancedCode = c
	}
	return e
}

// Keywords returns the keywords of an EHLO reply (RFC 5321 §4.1.1.1): every line
// after the first, keyword upper-cased, parameters as sent.
func (r Reply) Keywords() []string {
	if len(r.Lines) < 2 {
		return nil
	}
	caps := make([]string, 0, len(r.Lines)-1)
	for _, l := range r.Lines[1:] {
		kw, params, _ := strings.Cut(strings.TrimSpace(l), " ")
		c := strings.ToUpper(kw)
		if params != "" {
			c += " " + params
		}
		caps = append(caps, c)
	}
	return caps
}

// String renders the reply as it would appear on one line.
func (r Reply) String() string {
	s := strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	first, _, _ := strings.Cut(r.Text, "\n")
	if first != "" {
		s += " " + first
	}
	return s
}

// parseLine splits one reply line into code, continuation flag and text
// (RFC 5321 §4.2: "Reply-code [ SP textstring ] CRLF" or "Reply-code -
// textstring CRLF").
func parseLine(line string) (code int, more bool, text string, err error) {
	if len(line) < 3 {
		return 0, false, "", fmt.Errorf("reply line too short")
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, false, "", fmt.Errorf("reply line does not start with a 3-digit code")
		}
	}
	code, _ = strconv.Atoi(line[:3])
	if code < 200 || code > 599 {
		return 0, false, "", fmt.Errorf("reply code %d out of range 2yz-5yz", code)
	}
	if len(line) == 3 {
		return code, false, "", nil
	}
	switch line[3] {
	case '-':
		more = true
	case ' ':
	default:
		return 0, false, "", fmt.Errorf("reply code not followed by space or hyphen")
	}
	return code, more, line[4:], nil
}

// splitEnhanced removes an RFC 3463 enhanced status code from the start of
// text when its class matches the reply code's (RFC 2034 §4).
func splitEnhanced(code int, text string) (enh, rest string) {
	word, rest, _ := strings.Cut(text, " ")
	c, ok := parseEnhanced(word)
	if !ok || c[0] != code/100 {
		return "", text
	}
	return word, rest
}

// parseEnhanced parses "class.subject.detail" (RFC 3463 §2): class is 2, 4
// or 5, subject and detail are 1 to 3 digits.
func parseEnhanced(s string) (smtp.EnhancedCode, bool) {
	var c smtp.EnhancedCode
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return c, false
	}
	for i, p := range parts {
		if len(p) < 1 || len(p) > 3 || (i == 0 && len(p) != 1) {
			return c, false
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return c, false
		}
		c[i] = n
	}
	if c[0] != 2 && c[0] != 4 && c[0] != 5 {
		return c, false
	}
	return c, true
}

// NewReply assembles a reply from the text of its lines (what follows
// "ddd-" or "ddd "); at is when its last line arrived. The enhanced status
// code is split off the first line (RFC 2034 §4), and a 4yz reply is
// Transient.
func NewReply(code int, lines []string, at time.Duration) Reply {
	r := Reply{Code: code, Lines: lines, At: at, Transient: code/100 == 4}
	texts := make([]string, len(lines))
	copy(texts, lines)
	if len(texts) > 0 {
		r.Enhanced, texts[0] = splitEnhanced(code, texts[0])
	}
	r.Text = strings.Join(texts, "\n")
	return r
}

// quote renders peer bytes safely for a message: Go-quoted and cut to n bytes.
func quote(b []byte, n int) string {
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}
