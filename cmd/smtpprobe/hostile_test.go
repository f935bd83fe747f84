package main

// Bad input is refused before anything is queried, and what hostile peers
// send (replies, banners, DNS names) never breaks a line of text or
// Nagios output or a Prometheus label. All peers are in process on
// 127.0.0.1.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// countingDNS is an in-process DNS server on 127.0.0.1 that knows no
// names; its Queries say whether anything was looked up.
func countingDNS(t testing.TB) *probetest.DNSServer {
	t.Helper()
	s, err := probetest.StartDNS("127.0.0.1:0", "")
	if err != nil {
		t.Fatalf("StartDNS: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRunRefusesBadNames: the inputs of issue 9 (and their relatives) are
// refused with exit 3 and one line naming the input and what was
// expected; no DNS query is sent and no connection is made.
func TestRunRefusesBadNames(t *testing.T) {
	t.Parallel()
	dns := countingDNS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns sync.WaitGroup
	accepted := 0
	conns.Add(1)
	go func() {
		defer conns.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted++
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	tests := []struct {
		cmd, target string
		extra       []string
		want        string // the whole stderr line after "smtpprobe: "
	}{
		{"session", "xn--.test", nil, `session: invalid domain "xn--.test": label "xn--" is empty after IDNA conversion (RFC 5891 §5); expected a host name`},
		{"mx", "Xn--", nil, `mx: invalid domain "Xn--": label "Xn--" is empty after IDNA conversion (RFC 5891 §5); expected a host name`},
		{"mx", "Xn--.", nil, `mx: invalid domain "Xn--.": label "Xn--" is empty after IDNA conversion (RFC 5891 §5); expected a host name`},
		{"timeout", "mx.xn--", nil, `timeout: invalid domain "mx.xn--": label "xn--" is empty after IDNA conversion (RFC 5891 §5); expected a host name`},
		{"mx", "b\xfccher.example", nil, `target "b\xfccher.example": byte 0xfc at offset 1 is not valid UTF-8; want DOMAIN[:PORT], a host name or an IP literal`},
		{"session", "mx.b\xc3.example:25", nil, `target "mx.b\xc3.example:25": byte 0xc3 at offset 4 is not valid UTF-8; want DOMAIN[:PORT], a host name or an IP literal`},
		{"session", "mx\n.example", nil, `target "mx\n.example": contains the control character U+000A at offset 2; want DOMAIN[:PORT], a host name or an IP literal`},
		{"session", "[fe80::1%a\nb]:25", nil, `target "[fe80::1%a\nb]:25": contains the control character U+000A at offset 10; want DOMAIN[:PORT], a host name or an IP literal`},
		{"mtu", "[fe80::1%\xff]:25", nil, `target "[fe80::1%\xff]:25": byte 0xff at offset 9 is not valid UTF-8; want DOMAIN[:PORT], a host name or an IP literal`},
		{"session", "fe80::1%\xffeth0", nil, `target "fe80::1%\xffeth0": byte 0xff at offset 8 is not valid UTF-8; want DOMAIN[:PORT], a host name or an IP literal`},
		{"session", "[fe80::1%a b]:25", nil, `target "[fe80::1%a b]:25": invalid IPv6 zone "a b": contains white space; expected an interface name or index such as eth0 or 2`},
		{"session", "[fe80::1%a\u2028b]", nil, `target "[fe80::1%a\u2028b]": contains the line separator U+2028 at offset 10; want DOMAIN[:PORT], a host name or an IP literal`},
		{"session", fmt.Sprintf("127.0.0.1:%d", port), []string{"--helo", "probe\r\nRSET"}, `--helo "probe\r\nRSET": contains the control character U+000D at offset 5; want a domain such as mx.example.com or an address literal such as [192.0.2.1]`},
		{"session", fmt.Sprintf("127.0.0.1:%d", port), []string{"--helo", "pr\xffbe.example"}, `--helo "pr\xffbe.example": byte 0xff at offset 2 is not valid UTF-8; want a domain such as mx.example.com or an address literal such as [192.0.2.1]`},
		{"session", fmt.Sprintf("127.0.0.1:%d", port), []string{"--helo", "xn--.example"}, `--helo: invalid domain "xn--.example": label "xn--" is empty after IDNA conversion (RFC 5891 §5); expected a host name`},
		{"session", fmt.Sprintf("127.0.0.1:%d", port), []string{"--helo", "127.0.0.1"}, `--helo "127.0.0.1": an address goes in brackets as an address literal (RFC 5321 §4.1.3): [127.0.0.1]`},
		{"mx", "example.com", []string{"--resolver", "[::1%lo\n]:53"}, `--resolver: invalid resolver "[::1%lo\n]:53": contains the control character U+000A at offset 7; expected an IP address with an optional port, such as 192.0.2.53 or [2001:db8::53]:5353`},
		{"mx", "example.com", []string{"--resolver", "::1%\xff"}, `--resolver: invalid resolver "::1%\xff": byte 0xff at offset 4 is not valid UTF-8; expected an IP address with an optional port, such as 192.0.2.53 or [2001:db8::53]:5353`},
	}
	for _, tc := range tests {
		args := append([]string{tc.cmd, tc.target}, tc.extra...)
		if !slicesContain(tc.extra, "--resolver") {
			args = append(args, "--resolver", dns.Addr)
		}
		for _, format := range []string{"text", "prom"} {
			stdout, stderr, code := runArgs(t, append(args, "--format", format)...)
			if code != 3 || stdout != "" || stderr != "smtpprobe: "+tc.want+"\n" {
				t.Errorf("run(%q, %s) = %d, stdout %q, stderr %q; want 3, no stdout, stderr %q", args, format, code, stdout, stderr, "smtpprobe: "+tc.want+"\n")
			}
			if !utf8.ValidString(stderr) || strings.ContainsFunc(strings.TrimSuffix(stderr, "\n"), unicode.IsControl) {
				t.Errorf("run(%q) stderr %q is not one clean line", args, stderr)
			}
		}
	}
	if n := dns.Queries(); n != 0 {
		t.Errorf("DNS queries after bad input = %d, want 0 (nothing is looked up)", n)
	}
	ln.Close()
	conns.Wait()
	if accepted != 0 {
		t.Errorf("connections after bad input = %d, want 0", accepted)
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// hostileSMTP is a scripted SMTP peer on 127.0.0.1 whose replies carry
// what the probe's reader lets through as text (ASCII control characters
// but tab are protocol-error there): bytes that are not UTF-8, tabs, C1
// controls (U+0085 NEXT LINE), line separators and bidi overrides.
func hostileSMTP(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 50 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprint(c, "220 mx\xff.hostile.example\tESMTP \u202egnp.exe\u2028x\u0085y\r\n")
				r := bufio.NewReader(c)
				for range 20 {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
					case "EHLO":
						fmt.Fprint(c, "250-mx.hostile.example greets \xc3\x28 you\u2028\r\n250-SIZE 1000\r\n250 X-\u009b31mRED\r\n")
					case "QUIT":
						fmt.Fprint(c, "221 2.0.0 bye\u2029 | 'x'=1\r\n")
						return
					default:
						fmt.Fprint(c, "502 5.5.2 no \xfe\r\n")
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// lineSafe reports the first line of out that holds a control character,
// a line or paragraph separator or invalid UTF-8.
func lineSafe(out string) (bad string, ok bool) {
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !utf8.ValidString(line) || strings.ContainsFunc(line, func(r rune) bool {
			return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
		}) {
			return line, false
		}
	}
	return "", true
}

// TestHostilePeersOutput: an MX name with a newline and control bytes
// from DNS, and an SMTP peer whose replies carry escape sequences and
// bytes that are not UTF-8. Every format stays line-safe, prom parses,
// and JSON shows the bad bytes as the other formats do (\xNN), not as
// U+FFFD.
func TestHostilePeersOutput(t *testing.T) {
	t.Parallel()
	port := hostileSMTP(t)
	zone := `hostile.example. 300 IN MX 10 mx.hostile.example.
hostile.example. 300 IN MX 20 mx\010evil\013\255.hostile.example.
mx.hostile.example. 300 IN A 127.0.0.1
`
	dns, err := probetest.StartDNS("127.0.0.1:0", zone)
	if err != nil {
		t.Fatalf("StartDNS: %v", err)
	}
	t.Cleanup(func() { dns.Close() })
	target := fmt.Sprintf("hostile.example:%d", port)
	args := []string{"mx", target, "--resolver", dns.Addr, "--no-ptr", "--timeout", "5s", "-v"}

	for _, format := range []string{"text", "nagios"} {
		stdout, stderr, code := runArgs(t, append(args, "--format", format)...)
		if code > 2 || stderr != "" {
			t.Errorf("mx(hostile, %s) = %d, stderr %q; want a verdict and no stderr", format, code, stderr)
		}
		if line, ok := lineSafe(stdout); !ok {
			t.Errorf("mx(hostile, %s) line %q holds a control character or invalid UTF-8\n%s", format, line, stdout)
		}
		for _, want := range []string{`220 mx\xff.hostile.example\x09ESMTP \u202egnp.exe\u2028x\u0085y`, `X-\u009b31MRED`,
			`S: 221 2.0.0 bye\u2029 | 'x'=1`, `MX "mx\\010evil\\013\\255.hostile.example" of hostile.example is not a valid host name`} {
			if format == "text" && !strings.Contains(stdout, want) {
				t.Errorf("mx(hostile, text) =\n%s\nwant the escaped %s", stdout, want)
			}
		}
		if format == "nagios" {
			first, _, _ := strings.Cut(stdout, "\n")
			if strings.Count(first, "|") != 1 {
				t.Errorf("mx(hostile, nagios) first line %q, want exactly one perfdata separator", first)
			}
		}
	}

	stdout, _, _ := runArgs(t, append(args, "--format", "prom")...)
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(stdout))
	if err != nil {
		t.Fatalf("mx(hostile, prom) does not parse: %v\n%s", err, stdout)
	}
	hosts := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v := l.GetValue(); !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
					t.Errorf("mx(hostile, prom) %s label %s = %q, want printable UTF-8", mf.GetName(), l.GetName(), v)
				}
				if l.GetName() == "host" {
					hosts[l.GetValue()] = true
				}
			}
		}
	}
	if !hosts["mx.hostile.example"] {
		t.Errorf("mx(hostile, prom) hosts = %v, want mx.hostile.example", hosts)
	}

	stdout, _, _ = runArgs(t, append(args, "--format", "json")...)
	if !json.Valid([]byte(stdout)) || strings.Contains(stdout, "\ufffd") || strings.Contains(stdout, `\ufffd`) {
		t.Fatalf("mx(hostile, json) is not valid JSON, or shows U+FFFD:\n%s", stdout)
	}
	var rep probe.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rep.Results {
		if r.Host == "mx.hostile.example" {
			found = true
			if want := "220 mx\\xff.hostile.example\tESMTP \u202egnp.exe\u2028x\u0085y"; r.Banner != want {
				t.Errorf("mx(hostile, json) banner = %q, want %q (invalid bytes as \\xNN, control characters kept for JSON to escape)", r.Banner, want)
			}
		}
	}
	if !found {
		t.Errorf("mx(hostile, json) results = %+v, want one for mx.hostile.example", rep.Results)
	}
}
