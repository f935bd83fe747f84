package dnscheck

import "strings"

// ExtName reports whether s is an extension field name of a
// "v=...; key=value" TXT record: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" /
// "-" / "."), the sts-ext-name of RFC 8461 §3.1 and the tlsrpt-ext-name of
// RFC 8460 §3.
func ExtName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, c := range []byte(s) {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '-' && c != '.') {
			return false
		}
	}
	return true
}

// ExtValue reports whether s is an extension field value of such a
// record: 1*(%x21-3A / %x3C / %x3E-7E), visible characters except ";" and
// "=" (RFC 8461 §3.1 sts-ext-value, RFC 8460 §3 tlsrpt-ext-value).
func ExtValue(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e || c == ';' || c == '=' {
			return false
		}
	}
	return true
}

// SelectTXT applies the record selection of RFC 8461 §3.1 (MTA-STS) and
// RFC 8460 §3 (TLS-RPT) to the TXT records at a name: a record is kept
// only when it begins with version ("v=STSv1", "v=TLSRPTv1") followed by
// nothing or by what may start a field delimiter (";" or white space), so
// that "v=STSv10" and "v=TLSRPTv10" are discarded, while "v=STSv1 id=1" is
// kept for its parser to refuse. It returns the first
// kept record and how many were kept; the caller wants exactly one.
func SelectTXT(txts []string, version string) (string, int) {
	var first string
	n := 0
	for _, t := range txts {
		rest, ok := strings.CutPrefix(t, version)
		if !ok || rest != "" && !strings.ContainsRune(" \t;", rune(rest[0])) {
			continue
		}
		if n == 0 {
			first = t
		}
		n++
	}
	return first, n
}
