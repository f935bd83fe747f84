// Package render holds what the output formats share. Today that is
// SafeText, the one escaper of text, Nagios and Prometheus label values
// (see cmd/smtpprobe/render.go for the rules of each format); the
// Prometheus writer is in probe/render/prom. The text, JSON and Nagios
// writers are to move here from cmd/smtpprobe.
package render

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SafeText escapes s for one line of output: control characters, line
// and paragraph separators, other unprintable runes and bytes that are
// not UTF-8 become Go-style escapes (\x0a, \u2028, \xff), visibly
// rather than dropped. A backslash in s is kept as it is.
func SafeText(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && !unicode.IsPrint(r) && r != ' ':
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ':
			if r > 0xffff {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Micro rounds seconds to the microsecond, the precision the probe has;
// Nagios perfdata and Prometheus samples both use it.
func Micro(v float64) float64 { return math.Round(v*1e6) / 1e6 }
