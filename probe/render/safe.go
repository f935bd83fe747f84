package render

import (
	"fmt"
	"io"
	"math"
	"reflect"
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

// OneLine keeps a message on one line: runs of white space become one
// space, and what is left of control characters and invalid UTF-8 is
// escaped (SafeText).
func OneLine(s string) string {
	return SafeText(strings.Join(strings.Fields(s), " "))
}

// trusted is text this package made (a colour sequence around a status),
// which printf passes as it is.
type trusted string

// printf is fmt.Fprintf for text output: string arguments, named string
// types, errors and Stringers are passed through SafeText first.
func printf(w io.Writer, format string, args ...any) {
	safe := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case trusted:
			safe[i] = string(v)
		case string:
			safe[i] = SafeText(v)
		case error:
			safe[i] = SafeText(v.Error())
		case fmt.Stringer:
			safe[i] = SafeText(v.String())
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				safe[i] = SafeText(rv.String())
			} else {
				safe[i] = a
			}
		}
	}
	fmt.Fprintf(w, format, safe...)
}

// EscapeInvalidUTF8 replaces, in place, every byte that is not UTF-8 in
// the strings of v (a pointer to a report, walked through its exported
// fields, slices, maps and pointers) with its \xNN escape.
func EscapeInvalidUTF8(v any) {
	fixValue(reflect.ValueOf(v), 0)
}

func fixValue(v reflect.Value, depth int) {
	if depth > 32 || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			fixValue(v.Elem(), depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fixValue(v.Field(i), depth+1)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			fixValue(v.Index(i), depth+1)
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			val := v.MapIndex(k)
			nk, nv := reflect.New(k.Type()).Elem(), reflect.New(val.Type()).Elem()
			nk.Set(k)
			nv.Set(val)
			fixValue(nk, depth+1)
			fixValue(nv, depth+1)
			if !nk.Equal(k) {
				v.SetMapIndex(k, reflect.Value{})
			}
			v.SetMapIndex(nk, nv)
		}
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) && v.CanSet() {
			v.SetString(escapeBytes(s))
		}
	}
}

// escapeBytes escapes only the bytes of s that are not UTF-8.
func escapeBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
