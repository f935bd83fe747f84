package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// helloText prints the ClientHello's key shares and, after a stalled
// hello, what the retries showed (probe/tlshello.go).
func helloText(w io.Writer, indent string, t *probe.TLSInfo) {
	if t == nil || (len(t.KeyShare) == 0 && t.HelloStall == nil) {
		return
	}
	var parts []string
	if len(t.KeyShare) > 0 {
		p := fmt.Sprintf("key share %s (ClientHello %s)", strings.Join(t.KeyShare, ", "), units.Count(t.HelloBytes, "byte"))
		if t.Group != "" {
			p += ", negotiated " + t.Group
		}
		parts = append(parts, p)
	}
	if s := t.HelloStall; s != nil {
		p := fmt.Sprintf("first hello (key share %s, %s) stalled: %d-byte packets lost", strings.Join(s.Hello.KeyShare, ", "), units.Count(s.Hello.Bytes, "byte"), s.LostPacket)
		if f := s.FullSegment; f != nil && f.Packet > 0 && f.Error == "" {
			fate := "vanished too"
			if f.Passed {
				fate = "passed"
			}
			p += fmt.Sprintf("; full-size %d-byte segments without a hello %s", f.Packet, fate)
		}
		if a := s.Retry; a != nil {
			fate := "failed"
			if a.Passed {
				fate = "passed"
			}
			what := "a classical hello"
			if a.Kind == "split" {
				what = fmt.Sprintf("the hello in writes of %s bytes", joinInts(a.Writes, "+"))
			}
			p += fmt.Sprintf("; %s %s", what, fate)
		}
		if s.Verdict != "" {
			p += ": " + string(s.Verdict)
		}
		parts = append(parts, p)
	}
	printf(w, "%shello:  %s\n", indent, strings.Join(parts, "; "))
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}
