package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseAllowlist(t *testing.T) {
	t.Parallel()
	a, err := ParseAllowlist([]string{
		"example.com", "mail.example.net:25,587", "192.0.2.0/24", "198.51.100.7:2525",
		"2001:db8:25::/48:25,465", "[2001:db8::1]:587", "::ffff:203.0.113.0/120",
	})
	if err != nil {
		t.Fatal(err)
	}
	targets := []struct {
		host string
		port uint16
		ok   bool
	}{
		{"example.com", 25, true},
		{"mx1.example.com", 25, true},
		{"example.com", 587, false}, // default port 25 only
		{"badexample.com", 25, false},
		{"mail.example.net", 587, true},
		{"example.net", 25, false},
		{"192.0.2.9", 25, true},
		{"192.0.2.9", 587, false},
		{"198.51.100.7", 2525, true},
		{"198.51.100.7", 25, false},
		{"198.51.100.8", 2525, false},
		{"::ffff:192.0.2.9", 25, true}, // the IPv4 address it reaches
		{"2001:db8:25::9", 465, true},
		{"2001:db8:26::9", 465, false},
		{"2001:db8::1", 587, true},
		{"2001:db8::1", 25, false},
		{"203.0.113.5", 25, true}, // a mapped network is the IPv4 network
	}
	for _, tc := range targets {
		err := a.CheckTarget(tc.host, tc.port)
		if (err == nil) != tc.ok {
			t.Errorf("CheckTarget(%s, %d) = %v, want allowed %v", tc.host, tc.port, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrNotAllowed) {
			t.Errorf("CheckTarget(%s, %d) = %v, want an error matching ErrNotAllowed", tc.host, tc.port, err)
		}
	}
	// A name alone never admits an address: only networks do.
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"192.0.2.1:25", true}, {"192.0.2.1:26", false}, {"192.0.3.1:25", false},
		{"[::ffff:192.0.2.1]:25", true}, {"[::ffff:192.0.3.1]:25", false},
		{"[2001:db8::1]:587", true}, {"[fe80::1%eth0]:25", false}, {"127.0.0.1:25", false},
	} {
		err := a.CheckAddr(netip.MustParseAddrPort(tc.addr))
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddr(%s) = %v, want allowed %v", tc.addr, err, tc.ok)
		}
	}

	for _, bad := range []string{
		"", " ", "not a domain!", "example.com:", "example.com:0", "example.com:65536", "example.com:25,x",
		"192.0.2.0/33", "[2001:db8::1", "[2001:db8::1]x", "fe80::1%eth0", ".", "a:b:c",
		"example.com/24", "exa\nmple.com", "192.0.2.0/24:25;587",
	} {
		if _, err := ParseAllowlist([]string{bad}); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseAllowlist(%q) = %v, want a one-line error", bad, err)
		}
	}
}

// FuzzAllowlist parses arbitrary entries and checks arbitrary addresses:
// no panic, and an admitted address always lies inside a parsed network
// on one of its ports (a name never admits an address).
func FuzzAllowlist(f *testing.F) {
	for _, s := range []string{"example.com", "192.0.2.0/24:25,587", "[2001:db8::1]:25", "2001:db8::/32:25",
		"::ffff:192.0.2.0/120", "::ffff:0:0/90", "0.0.0.0/0", "xn--.test", "[::]:1"} {
		f.Add(s, "192.0.2.1", uint16(25))
	}
	f.Fuzz(func(t *testing.T, entry, addr string, port uint16) {
		a, err := ParseAllowlist([]string{entry})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("ParseAllowlist(%q) error %q has a newline", entry, err)
			}
			return
		}
		_ = a.CheckTarget(addr, port)
		ip, err := netip.ParseAddr(addr)
		if err != nil {
			return
		}
		ap := netip.AddrPortFrom(ip, port)
		if a.CheckAddr(ap) != nil {
			return
		}
		for _, n := range a.nets {
			if n.prefix.Contains(ip.Unmap()) {
				for _, p := range n.ports {
					if p == port {
						return
					}
				}
			}
		}
		t.Fatalf("allowlist %q admits %s outside its networks and ports", entry, ap)
	})
}

// FuzzLoadConfig: any file gives a configuration or one line that names
// the file; never a panic.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte(""))
	f.Add([]byte("# only a comment\n"))
	f.Add([]byte("modules:\n  mx:\n    command: mx\nserve:\n  allow: [\"192.0.2.0/24:25\"]\n"))
	f.Add([]byte("modules:\n  m:\n    command: session\n    deliver: true\n    to: [a@b]\ntargets:\n  - target: x\n    module: m\n"))
	f.Add([]byte("modules: {a: null}\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("modules:\n  \xff: {command: mx}\n"))
	f.Add([]byte("modules:\n  mx:\n    comand: mx\n    min: 1200\n"))
	f.Add([]byte("modules:\n  t:\n    command: timeout\n    timeout: 3\n    to: [a, b]\n"))
	f.Add([]byte("serve: [1]\ntargets: {a: b}\nmodules: 3\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "check.yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			// One line per problem, each naming the file, at most
			// MaxErrors and a count of the rest (issue 20, item 8).
			lines := strings.Split(err.Error(), "\n")
			for _, l := range lines {
				if !strings.Contains(l, "check.yaml") {
					t.Fatalf("Load(%q) = %q, want every line to name the file", b, err.Error())
				}
			}
			if len(lines) > MaxErrors+1 {
				t.Fatalf("Load(%q) = %d lines, want at most %d", b, len(lines), MaxErrors+1)
			}
			return
		}
		if c == nil || len(c.Modules) == 0 {
			t.Fatalf("Load(%q) = %v, nil: want modules", b, c)
		}
		_ = c.CheckServe()
		for _, d := range c.Serve.Allowlist.domains {
			if !utf8.ValidString(d.name) || strings.ContainsFunc(d.name, func(r rune) bool { return r < ' ' }) {
				t.Fatalf("allowlist domain %q: want valid UTF-8 without control characters", d.name)
			}
		}
	})
}
