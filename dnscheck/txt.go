package dnscheck

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
