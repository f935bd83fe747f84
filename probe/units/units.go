// Package units formats the quantities smtpprobe prints: measured
// durations, configured durations, sizes and counted nouns. It is a leaf
// package so that the engine's findings and every renderer print a given
// quantity the same way.
package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Duration renders a measured duration, the one way smtpprobe spells a
// duration a person reads (text, findings, advice, demo, help): a number
// and its unit with no space, as a flag value is written and
// time.ParseDuration reads it. Below one second it is milliseconds with
// three significant digits ("0.318ms", "2.20ms", "12.3ms", "512ms"), from
// one second on seconds with millisecond precision ("1.000s", "5.002s",
// "300.004s"). A negative duration gets a leading minus sign. Configured
// values (a flag, a config key) are written exactly by Setting ("5s",
// "90s"); machine output (JSON, Prometheus, Nagios perfdata) keeps its
// base units and does not use either.
func Duration(d time.Duration) string {
	if d < 0 {
		return "-" + Duration(-d)
	}
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 999.5: // rounds to 1000 ms or more: seconds
		return fmt.Sprintf("%.3fs", d.Seconds())
	case ms >= 99.95:
		return fmt.Sprintf("%.0fms", ms)
	case ms >= 9.995:
		return fmt.Sprintf("%.1fms", ms)
	case ms >= 0.9995:
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.3fms", ms)
}

// Setting renders a configured duration the way people write it in a flag
// or config value, and the way the flag parser reads it back: "250ms",
// "60s", "90s", "10m", "1h", "1.5s" (never Go's "1m30s" or "5m0s").
// Values that are whole hours, or whole minutes from 10 minutes on, use
// that unit; others use the largest of ms and s that is exact. It is
// Duration's spelling for a value that was set, not measured.
func Setting(d time.Duration) string {
	if d < 0 {
		return "-" + Setting(-d)
	}
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0 && d >= 10*time.Minute:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0 && d < time.Second:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	case d%time.Millisecond == 0:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", d.Seconds()), "0"), ".") + "s"
	}
	return d.String()
}

// Count renders n with its noun, plural when n is not 1: Count(1,
// "round") is "1 round", Count(12, "session") is "12 sessions". Nouns
// whose plural is not noun+"s" pass it as plural.
func Count(n int, noun string, plural ...string) string {
	if n == 1 {
		return "1 " + noun
	}
	p := noun + "s"
	if len(plural) > 0 {
		p = plural[0]
	}
	return strconv.Itoa(n) + " " + p
}

// Bytes renders a size in bytes: "512 B", "1.5 KiB", "10.0 MiB".
func Bytes(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return strconv.FormatInt(n, 10) + " B"
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
}

// Wrap fills s into lines of at most width columns (runes), the first
// prefixed by first and the rest by rest, each ending in a newline; a word
// longer than a line stands alone. Help texts and the config reference use
// it, so both wrap the same way.
func Wrap(s string, width int, first, rest string) string {
	var b strings.Builder
	line, empty := first, true
	for _, word := range strings.Fields(s) {
		if !empty && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width {
			b.WriteString(line + "\n")
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	if !empty {
		b.WriteString(line + "\n")
	}
	return b.String()
}
