package dnscheck

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"example.com", "example.com"},
		{"Example.COM.", "example.com"},
		{"  example.com \n", "example.com"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"BÜCHER.example", "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"mx-1.example.com", "mx-1.example.com"},
		{"ß.de", "xn--zca.de"},
		{"xn--zca.de", "xn--zca.de"},
		{"XN--BCHER-KVA.Example", "xn--bcher-kva.example"},
		{strings.Repeat("a", 63) + ".example", strings.Repeat("a", 63) + ".example"},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeDomainErrors(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 60)+".", 5) + "example" // 312 octets
	tests := []struct {
		in     string
		reason string // substring of the reason
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"ex ample.com", "label contains a space"},
		{"example\t.com", "control character U+0009"},
		{"exa\nmple.com", "control character U+000A"},
		{"b\xffcher.example", "byte 0xff at offset 1 is not valid UTF-8"},
		{"\xc3.example", "not valid UTF-8"},
		{"mx\u2028.example", "line separator"},
		{"xn--.test", `label "xn--" is empty after IDNA conversion`},
		{"Xn--", `label "Xn--" is empty after IDNA conversion`},
		{"Xn--.", `label "Xn--" is empty after IDNA conversion`},
		{"a.xn--", `label "xn--" is empty`},
		{"xn--a.test", "not a valid host name"},
		{"xn--zz.example", "not a valid host name"},
		{strings.Repeat("a", 64) + ".example", "longer than 63"},
		{long, "longer than 253"},
		{strings.Repeat("a", 1<<20), "is 1048576 bytes, longer than any domain name"},
		{"1.2.3.4", "IP address"},
		{"192.0.2.1", "IP address"},
		{"2001:db8::1", "IP address"},
		{"[2001:db8::1]", "IP address"},
		{"example..com", "empty label"},
		{".example.com", "empty label"},
		{".", "root"},
		{"ex_ample.com", "not a valid host name"},
		{"exa!mple.com", "not a valid host name"},
		{"-example.com", "not a valid host name"},
		{"1.2.3", "numeric"},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("NormalizeDomain(%q) = %q, %v, want *InputError", tt.in, got, err)
			continue
		}
		if ie.Input != tt.in || !strings.Contains(ie.Reason, tt.reason) {
			t.Errorf("NormalizeDomain(%q) = InputError{%q, %q}, want input %q and reason containing %q", tt.in, ie.Input, ie.Reason, tt.in, tt.reason)
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "invalid domain ") {
			t.Errorf("NormalizeDomain(%q) error = %q, want one line starting %q", tt.in, msg, "invalid domain ")
		}
	}
	_, err := NormalizeDomain("ex ample.com")
	if got, want := err.Error(), `invalid domain "ex ample.com": label contains a space`; got != want {
		t.Errorf("NormalizeDomain(%q) error = %q, want %q", "ex ample.com", got, want)
	}
}

func TestParseServer(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"192.0.2.53", "192.0.2.53:53"},
		{"192.0.2.53:5353", "192.0.2.53:5353"},
		{" 192.0.2.53 ", "192.0.2.53:53"},
		{"2001:db8::53", "[2001:db8::53]:53"},
		{"[2001:db8::53]", "[2001:db8::53]:53"},
		{"[2001:db8::53]:5353", "[2001:db8::53]:5353"},
		{"fe80::1%eth0", "[fe80::1%eth0]:53"},
		{"[fe80::1%eth0]:53", "[fe80::1%eth0]:53"},
		{"127.0.0.1:65535", "127.0.0.1:65535"},
	}
	for _, tt := range tests {
		got, err := ParseServer(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseServer(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"", "dns.example.com", "dns.example.com:53", "192.0.2.53:", "192.0.2.53:0",
		"192.0.2.53:65536", "192.0.2.53:dns", "2001:db8::53:5353x", "[192.0.2.53]",
		"[2001:db8::53", "192.0.2.256", ":53",
		"fe80::1%\xff", "[fe80::1%\xff]:53", "[fe80::1%a\nb]:53", "fe80::1%a\x00", "fe80::1%a\u2028b",
		"127.0.0.1\xff", "127.0.0.1\n:53",
	} {
		got, err := ParseServer(in)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Input != in {
			t.Errorf("ParseServer(%q) = %q, %v, want *InputError", in, got, err)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "invalid resolver ") || strings.Contains(msg, "\n") {
			t.Errorf("ParseServer(%q) error = %q, want one line starting %q", in, msg, "invalid resolver ")
		}
	}
}

func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	const conf = `# generated
search example.com
options edns0 timeout:1
nameserver 192.0.2.53
nameserver 2001:db8::53 # comment
;nameserver 192.0.2.99
nameserver fe80::1%eth0
nameserver not-an-address
nameserver
`
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ResolvConf(path)
	want := []string{"192.0.2.53:53", "[2001:db8::53]:53", "[fe80::1%eth0]:53"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ResolvConf(%q) = %q, %v, want %q, nil", conf, got, err, want)
	}

	empty := filepath.Join(dir, "empty.conf")
	if err := os.WriteFile(empty, []byte("search example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ResolvConf(empty); err == nil {
		t.Errorf("ResolvConf(no nameserver) = %q, nil, want error", got)
	}
	if got, err := ResolvConf(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ResolvConf(missing) = %q, %v, want os.ErrNotExist", got, err)
	}
}

func TestCheckZone(t *testing.T) {
	for _, zone := range []string{"", "eth0", "2", "enp0s31f6", "wlan0.100"} {
		if err := CheckZone(zone); err != nil {
			t.Errorf("CheckZone(%q) = %v, want nil", zone, err)
		}
	}
	tests := []struct{ zone, reason string }{
		{"\xff", "byte 0xff at offset 0 is not valid UTF-8"},
		{"eth\xc30", "not valid UTF-8"},
		{"a\nb", "control character U+000A"},
		{"a\rb", "control character U+000D"},
		{"a\x00", "control character U+0000"},
		{"a\u2029", "separator"},
		{"a b", "white space"},
		{"a]b", `contains ']'`},
		{"eth0/1", `contains '/'`},
		{"a%b", `contains '%'`},
		{strings.Repeat("e", 65), "longer than 64"},
	}
	for _, tt := range tests {
		err := CheckZone(tt.zone)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(ie.Reason, tt.reason) {
			t.Errorf("CheckZone(%q) = %v, want *InputError with reason containing %q", tt.zone, err, tt.reason)
			continue
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !utf8.ValidString(msg) {
			t.Errorf("CheckZone(%q) error = %q, want one valid UTF-8 line", tt.zone, msg)
		}
	}
}

func TestInputErrorQuotesShortly(t *testing.T) {
	in := strings.Repeat("ü", 1000) + "\n"
	_, err := NormalizeDomain(in)
	msg := err.Error()
	if want := `invalid domain "` + strings.Repeat("ü", 64) + `"... (2001 bytes): `; !strings.HasPrefix(msg, want) || len(msg) > 400 {
		t.Errorf("NormalizeDomain(2001 bytes) error = %q, want it to start %q and stay short", msg, want)
	}
}
