package e2e

// End-to-end tests of `smtpprobe mx`: the real binary, run inside the lab's client
// namespace against real Postfix, dnsmasq and nftables (see lab_test.go).

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
)

// mxReport is the JSON document of `smtpprobe mx --json` (README "JSON").
type mxReport struct {
	Command    string      `json:"command"`
	Target     string      `json:"target"`
	Started    string      `json:"started"`
	DurationMS *float64    `json:"duration_ms"`
	Outcome    string      `json:"outcome"`
	Results    []mxResult  `json:"results"`
	Findings   []mxFinding `json:"findings"`
}

type mxResult struct {
	Host         string             `json:"host"`
	Address      string             `json:"address"`
	Preference   *int               `json:"preference"`
	Outcome      string             `json:"outcome"`
	Phases       map[string]float64 `json:"phases"`
	Reply        *mxReply           `json:"reply"`
	Capabilities []string           `json:"capabilities"`
	TLS          *mxTLS             `json:"tls"`
}

type mxReply struct {
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced"`
	Text     string `json:"text"`
}

type mxTLS struct {
	Version  string   `json:"version"`
	Cipher   string   `json:"cipher"`
	Names    []string `json:"names"`
	NotAfter string   `json:"not_after"`
	Verified bool     `json:"verified"`
}

type mxFinding struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// The outcome taxonomy (the README's first paragraph).
var outcomes = outcomeStrings(probe.OK, probe.DNSError, probe.NullMX, probe.ConnectTimeout, probe.Refused, probe.Unreachable,
	probe.ReplyTimeout, probe.ServerTimeout, probe.Reset, probe.Closed, probe.Rejected, probe.TLSError, probe.ProtocolError,
	probe.PMTUBlackhole, probe.TLSMiddlebox)

// outcomeStrings spells outcomes as the JSON carries them.
func outcomeStrings[S ~string](vs ...S) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// mxRun is one run of the smtpprobe binary in the client namespace.
type mxRun struct {
	in      string // the command's arguments, for messages
	stdout  string
	stderr  string
	exit    int
	elapsed time.Duration
}

const (
	// Per-run limits: --connect-timeout 2s and --timeout 10s with two dropped
	// addresses stay well inside runBound; runKill ends a hung run.
	runBound = 20 * time.Second
	runKill  = 90 * time.Second
)

// labArgs are the flags every lab run gets (unless a test sets its own resolver).
func labArgs(l *Lab) []string {
	return []string{"--resolver", l.DNS + ":53", "--connect-timeout", "2s", "--timeout", "10s"}
}

// runMXBinary runs `smtpprobe mx ARGS...` in the client namespace, trusting the
// lab's self-signed certificate (Go reads SSL_CERT_FILE).
func runMXBinary(t *testing.T, l *Lab, bin string, args ...string) mxRun {
	t.Helper()
	return runMXBinaryEnv(t, l, bin, []string{"SSL_CERT_FILE=" + l.TLSCert}, args...)
}

// runMXBinaryEnv is runMXBinary with these environment settings instead.
func runMXBinaryEnv(t *testing.T, l *Lab, bin string, env []string, args ...string) mxRun {
	t.Helper()
	return runInLab(t, l, runKill, env, bin, "mx", args...)
}

func quoteArgs(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t") {
			a = `"` + a + `"`
		}
		q[i] = a
	}
	return q
}

// decodeReport parses stdout as exactly one JSON document and checks the fields
// every report must have.
func decodeReport(t *testing.T, r mxRun) mxReport {
	t.Helper()
	var rep mxReport
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.UseNumber()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("mx(%s) stdout is not JSON: %v\nstdout:\n%s\nstderr:\n%s", r.in, err, r.stdout, r.stderr)
	}
	if dec.More() {
		t.Errorf("mx(%s) stdout holds more than one JSON document:\n%s", r.in, r.stdout)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &raw); err == nil {
		for _, k := range []string{"command", "target", "started", "duration_ms", "outcome", "results", "findings"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("mx(%s) JSON has no top-level key %q", r.in, k)
			}
		}
	}
	if rep.Command != "mx" {
		t.Errorf("mx(%s) command = %q, want %q", r.in, rep.Command, "mx")
	}
	if _, err := time.Parse(time.RFC3339, rep.Started); err != nil {
		t.Errorf("mx(%s) started = %q, want RFC 3339: %v", r.in, rep.Started, err)
	}
	if rep.DurationMS == nil || *rep.DurationMS < 0 {
		t.Errorf("mx(%s) duration_ms = %v, want a number >= 0", r.in, rep.DurationMS)
	}
	if !slices.Contains(outcomes, rep.Outcome) {
		t.Errorf("mx(%s) outcome = %q, want one of %q", r.in, rep.Outcome, outcomes)
	}
	allOK := true
	for _, res := range rep.Results {
		if !slices.Contains(outcomes, res.Outcome) {
			t.Errorf("mx(%s) result %s outcome = %q, want one of %q", r.in, res.Address, res.Outcome, outcomes)
		}
		if _, err := netip.ParseAddr(res.Address); err != nil {
			t.Errorf("mx(%s) result address = %q, want an IP address: %v", r.in, res.Address, err)
		}
		if res.Outcome != "ok" {
			allOK = false
		}
	}
	if len(rep.Results) > 0 && allOK && rep.Outcome != "ok" {
		t.Errorf("mx(%s) outcome = %q with every result ok, want ok (the worst)", r.in, rep.Outcome)
	}
	if !allOK && rep.Outcome == "ok" {
		t.Errorf("mx(%s) outcome = ok with a result not ok, want the worst outcome", r.in)
	}
	for _, f := range rep.Findings {
		if f.Severity == "" || f.Code == "" || f.Message == "" {
			t.Errorf("mx(%s) finding = %+v, want severity, code and message", r.in, f)
		}
	}
	return rep
}

func findingCodes(rep mxReport) []string {
	var codes []string
	for _, f := range rep.Findings {
		codes = append(codes, f.Code)
	}
	return codes
}

// byAddress maps address -> outcome.
func byAddress(rep mxReport) map[string]string {
	m := make(map[string]string)
	for _, res := range rep.Results {
		m[normAddr(res.Address)] = res.Outcome
	}
	return m
}

func normAddr(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return s
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// wantOutcomes checks that the results are exactly these addresses with these outcomes.
func wantOutcomes(t *testing.T, r mxRun, rep mxReport, want map[string]string) {
	t.Helper()
	got := byAddress(rep)
	if len(rep.Results) != len(want) {
		t.Errorf("mx(%s) results = %v, want %v", r.in, got, want)
		return
	}
	for addr, w := range want {
		if g, ok := got[addr]; !ok || g != w {
			t.Errorf("mx(%s) result %s = %q, want %q (all results: %v)", r.in, addr, g, w, got)
		}
	}
}

func wantHostPref(t *testing.T, r mxRun, rep mxReport, host map[string]string, pref map[string]int) {
	t.Helper()
	for _, res := range rep.Results {
		a := normAddr(res.Address)
		if h, ok := host[a]; ok && res.Host != h {
			t.Errorf("mx(%s) result %s host = %q, want %q", r.in, a, res.Host, h)
		}
		if p, ok := pref[a]; ok && (res.Preference == nil || *res.Preference != p) {
			got := "absent"
			if res.Preference != nil {
				got = fmt.Sprint(*res.Preference)
			}
			t.Errorf("mx(%s) result %s preference = %s, want %d", r.in, a, got, p)
		}
	}
}

func wantFinding(t *testing.T, r mxRun, rep mxReport, code string) {
	t.Helper()
	if codes := findingCodes(rep); !slices.Contains(codes, code) {
		t.Errorf("mx(%s) findings = %q, want one with code %q", r.in, codes, code)
	}
}

func wantSessionOK(t *testing.T, r mxRun, rep mxReport, starttls bool) {
	t.Helper()
	for _, res := range rep.Results {
		if res.Outcome != "ok" {
			continue
		}
		phases := []string{"connect", "banner", "ehlo"}
		if starttls {
			phases = append(phases, "starttls")
		}
		for _, p := range phases {
			if v, ok := res.Phases[p]; !ok || v < 0 {
				t.Errorf("mx(%s) result %s phases = %v, want %q >= 0", r.in, res.Address, res.Phases, p)
			}
		}
		// Capabilities are those of the last EHLO: after STARTTLS the
		// server no longer offers STARTTLS (RFC 3207 §4.2).
		if got := slices.Contains(res.Capabilities, "STARTTLS"); got == starttls || !slices.Contains(res.Capabilities, "PIPELINING") {
			t.Errorf("mx(%s) result %s capabilities = %q, want PIPELINING and STARTTLS listed = %v", r.in, res.Address, res.Capabilities, !starttls)
		}
		if starttls {
			if res.TLS == nil || res.TLS.Version == "" {
				t.Errorf("mx(%s) result %s tls = %+v, want the negotiated version", r.in, res.Address, res.TLS)
			} else if !slices.Contains(res.TLS.Names, "mx1.lab.example") {
				t.Errorf("mx(%s) result %s tls names = %q, want mx1.lab.example", r.in, res.Address, res.TLS.Names)
			}
		} else {
			if _, ok := res.Phases["starttls"]; ok {
				t.Errorf("mx(%s) result %s phases = %v, want no starttls", r.in, res.Address, res.Phases)
			}
			if res.TLS != nil {
				t.Errorf("mx(%s) result %s tls = %+v, want none", r.in, res.Address, res.TLS)
			}
		}
	}
}

func TestE2EMX(t *testing.T) {
	l := startLab(t)
	bin := smtpprobeBinary(t)

	mx1 := map[string]string{labMX1v4: "ok", labMX1v6: "ok"}

	t.Run("json", func(t *testing.T) {
		tests := []struct {
			name     string
			args     []string // after "mx", before the lab flags
			wantExit []int    // any of these
			wantTop  string   // top-level outcome; "" = any
			check    func(t *testing.T, r mxRun, rep mxReport)
		}{
			{"ok", []string{"ok.lab.example"}, []int{0}, "ok", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, mx1)
				wantHostPref(t, r, rep,
					map[string]string{labMX1v4: "mx1.lab.example", labMX1v6: "mx1.lab.example"},
					map[string]int{labMX1v4: 10, labMX1v6: 10})
				wantSessionOK(t, r, rep, true)
			}},
			{"ok-port", []string{"ok.lab.example:25"}, []int{0}, "ok", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, mx1)
			}},
			{"ok-other-port", []string{"ok.lab.example:2525"}, []int{2}, string(probe.Refused), func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, map[string]string{labMX1v4: string(probe.Refused), labMX1v6: string(probe.Refused)})
			}},
			{"ok-ipv4", []string{"ok.lab.example", "-4"}, []int{0}, "ok", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, map[string]string{labMX1v4: "ok"})
			}},
			{"ok-ipv6", []string{"ok.lab.example", "-6"}, []int{0}, "ok", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, map[string]string{labMX1v6: "ok"})
			}},
			{"ok-no-starttls", []string{"ok.lab.example", "--no-starttls"}, []int{0}, "ok", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, mx1)
				wantSessionOK(t, r, rep, false)
			}},
			{"mixed", []string{"mixed.lab.example"}, []int{1}, "", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, map[string]string{
					labMX1v4: "ok", labMX1v6: "ok",
					labDroppedv4: "connect-timeout", labDroppedv6: "connect-timeout",
					labClosedv4: string(probe.Refused), labClosedv6: string(probe.Refused),
				})
				wantHostPref(t, r, rep,
					map[string]string{labMX1v4: "mx1.lab.example", labDroppedv6: "dropped.lab.example", labClosedv4: "closed.lab.example"},
					map[string]int{labMX1v6: 10, labDroppedv4: 20, labClosedv6: 30})
			}},
			{"mixed-serial", []string{"mixed.lab.example", "--parallel", "1"}, []int{1}, "", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, map[string]string{
					labMX1v4: "ok", labMX1v6: "ok",
					labDroppedv4: "connect-timeout", labDroppedv6: "connect-timeout",
					labClosedv4: string(probe.Refused), labClosedv6: string(probe.Refused),
				})
			}},
			{"mixed-ipv6", []string{"mixed.lab.example", "-6"}, []int{1}, "", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, map[string]string{labMX1v6: "ok", labDroppedv6: "connect-timeout", labClosedv6: string(probe.Refused)})
			}},
			{"down", []string{"down.lab.example"}, []int{2}, "", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, map[string]string{
					labDroppedv4: "connect-timeout", labDroppedv6: "connect-timeout",
					labClosedv4: string(probe.Refused), labClosedv6: string(probe.Refused),
				})
			}},
			{"reject", []string{"reject.lab.example"}, []int{2}, "rejected", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, map[string]string{labRejectv4: "rejected", labRejectv6: "rejected"})
				for _, res := range rep.Results {
					if res.Reply == nil || res.Reply.Code < 500 || res.Reply.Code > 599 {
						t.Errorf("mx(%s) result %s reply = %+v, want a 5xx", r.in, res.Address, res.Reply)
					}
				}
			}},
			{"nullmx", []string{"nullmx.lab.example"}, []int{2}, string(probe.NullMX), func(t *testing.T, r mxRun, rep mxReport) {
				if len(rep.Results) != 0 {
					t.Errorf("mx(%s) results = %v, want none", r.in, byAddress(rep))
				}
			}},
			{"implicit", []string{"implicit.lab.example"}, []int{0}, "ok", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, mx1)
				wantHostPref(t, r, rep,
					map[string]string{labMX1v4: "implicit.lab.example", labMX1v6: "implicit.lab.example"},
					map[string]int{labMX1v4: 0, labMX1v6: 0})
				wantFinding(t, r, rep, dnscheck.CodeImplicitMX)
			}},
			// Exit 0 or 1: the addresses are fine; whether the RFC 2181 §10.3 finding
			// (a warning) raises the exit code to WARNING is the implementation's call.
			{"cname", []string{"cname.lab.example"}, []int{0, 1}, "ok", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, mx1)
				wantFinding(t, r, rep, dnscheck.CodeMXCNAME)
			}},
			{"missing", []string{"missing.lab.example"}, []int{2}, "dns-error", func(t *testing.T, r mxRun, rep mxReport) {
				if len(rep.Results) != 0 {
					t.Errorf("mx(%s) results = %v, want none", r.in, byAddress(rep))
				}
				wantFinding(t, r, rep, dnscheck.CodeNXDOMAIN)
			}},
			{"unreachable", []string{"unreach.lab.example"}, []int{2}, "unreachable", func(t *testing.T, r mxRun, rep mxReport) {
				wantOutcomes(t, r, rep, map[string]string{labNoRoutev4: "unreachable", labNoRoutev6: "unreachable"})
			}},
			// MX 10 "198.18.3.10." - an IP address where a name belongs (RFC 7505 §4's
			// neighbour, RFC 5321 §5.1 wants a name). The contract does not say what to
			// do; only check that it is handled, not a usage error.
			{"literal", []string{"literal.lab.example"}, []int{0, 1, 2}, "", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				args := append(append(slices.Clone(tt.args), "--json"), labArgs(l)...)
				r := runMXBinary(t, l, bin, args...)
				if r.exit == -1 {
					t.Fatalf("mx(%s) did not finish: %s", r.in, r.stderr)
				}
				if r.elapsed > runBound {
					t.Errorf("mx(%s) took %v, want <= %v", r.in, r.elapsed.Round(time.Millisecond), runBound)
				}
				if !slices.Contains(tt.wantExit, r.exit) {
					t.Errorf("mx(%s) exit = %d, want one of %v\nstderr:\n%s", r.in, r.exit, tt.wantExit, r.stderr)
				}
				rep := decodeReport(t, r)
				if tt.wantTop != "" && rep.Outcome != tt.wantTop {
					t.Errorf("mx(%s) outcome = %q, want %q", r.in, rep.Outcome, tt.wantTop)
				}
				if want := strings.SplitN(tt.args[0], ":", 2)[0]; !strings.Contains(rep.Target, want) {
					t.Errorf("mx(%s) target = %q, want %q", r.in, rep.Target, want)
				}
				if tt.check != nil {
					tt.check(t, r, rep)
				}
				if t.Failed() {
					t.Logf("mx(%s) stdout:\n%s", r.in, r.stdout)
				}
			})
		}
	})

	t.Run("bad-input", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
		}{
			{"empty", []string{""}},
			{"space", []string{"ex ample.com"}},
			{"port-range", []string{"ok.lab.example:70000"}},
			{"port-text", []string{"ok.lab.example:smtp25"}},
			{"no-domain", nil},
			{"two-domains", []string{"ok.lab.example", "mixed.lab.example"}},
			{"json-space", []string{"--json", "ex ample.com"}},
			{"unknown-flag", []string{"ok.lab.example", "--no-such-flag"}},
			{"bad-duration", []string{"ok.lab.example", "--connect-timeout", "soon"}},
			{"both-families", []string{"ok.lab.example", "-4", "-6"}},
			{"parallel-zero", []string{"ok.lab.example", "--parallel", "0"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				r := runMXBinary(t, l, bin, append(slices.Clone(tt.args), labArgs(l)...)...)
				if r.elapsed > 5*time.Second {
					t.Errorf("mx(%s) took %v, want <= 5s", r.in, r.elapsed.Round(time.Millisecond))
				}
				wantUsageError(t, r)
			})
		}
	})

	// A resolver nobody answers on: a DNS failure (exit 2, dns-error) in bounded
	// time, or a usage error (exit 3) - never a hang and never "ok".
	t.Run(dnscheck.CodeResolverUnreachable, func(t *testing.T) {
		t.Parallel()
		r := runMXBinary(t, l, bin, "ok.lab.example", "--json", "--resolver", "198.18.3.99:53", "--connect-timeout", "2s", "--timeout", "10s")
		if r.elapsed > 30*time.Second {
			t.Errorf("mx(%s) took %v, want <= 30s", r.in, r.elapsed.Round(time.Millisecond))
		}
		switch r.exit {
		case 2:
			if rep := decodeReport(t, r); rep.Outcome != "dns-error" {
				t.Errorf("mx(%s) outcome = %q, want dns-error", r.in, rep.Outcome)
			}
		case 3:
			wantUsageError(t, r)
		default:
			t.Errorf("mx(%s) exit = %d, want 2 (dns-error) or 3\nstdout:\n%s\nstderr:\n%s", r.in, r.exit, r.stdout, r.stderr)
		}
	})

	// Without the lab certificate in the trust store the session still succeeds
	// (opportunistic TLS, RFC 7435) and the report says the certificate did not verify.
	t.Run("tls-untrusted", func(t *testing.T) {
		t.Parallel()
		r := runMXBinaryEnv(t, l, bin, []string{"SSL_CERT_FILE=/dev/null", "SSL_CERT_DIR=/nonexistent"},
			append([]string{"ok.lab.example", "--json"}, labArgs(l)...)...)
		if r.exit != 0 && r.exit != 1 {
			t.Errorf("mx(%s) exit = %d, want 0 or 1 (a warning)\nstderr:\n%s", r.in, r.exit, r.stderr)
		}
		rep := decodeReport(t, r)
		wantOutcomes(t, r, rep, mx1)
		for _, res := range rep.Results {
			if res.TLS == nil || res.TLS.Verified {
				t.Errorf("mx(%s) result %s tls = %+v, want verified false", r.in, res.Address, res.TLS)
			}
		}
	})

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		r := runMXBinary(t, l, bin, append([]string{"mixed.lab.example"}, labArgs(l)...)...)
		if r.exit != 1 {
			t.Errorf("mx(%s) exit = %d, want 1\nstderr:\n%s", r.in, r.exit, r.stderr)
		}
		if r.elapsed > runBound {
			t.Errorf("mx(%s) took %v, want <= %v", r.in, r.elapsed.Round(time.Millisecond), runBound)
		}
		if strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
			t.Errorf("mx(%s) stdout is JSON, want text:\n%s", r.in, r.stdout)
		}
		want := map[string]string{
			labMX1v4: "ok", labMX1v6: "ok",
			labDroppedv4: "connect-timeout", labDroppedv6: "connect-timeout",
			labClosedv4: string(probe.Refused), labClosedv6: string(probe.Refused),
		}
		lines := strings.Split(r.stdout, "\n")
		for _, addr := range sorted(keys(want)...) {
			outcome := want[addr]
			found := false
			for _, line := range lines {
				if containsWord(line, addr) && containsWord(line, outcome) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("mx(%s) text has no line naming %s and %q, want one\nstdout:\n%s", r.in, addr, outcome, r.stdout)
			}
		}
	})
}

// wantUsageError checks the contract for bad usage or input: exit 3, one line on
// stderr, nothing on stdout.
func wantUsageError(t *testing.T, r mxRun) {
	t.Helper()
	if r.exit != 3 {
		t.Errorf("mx(%s) exit = %d, want 3\nstdout:\n%s\nstderr:\n%s", r.in, r.exit, r.stdout, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("mx(%s) stdout = %q, want empty", r.in, r.stdout)
	}
	if msg := strings.TrimSuffix(r.stderr, "\n"); msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("mx(%s) stderr = %q, want exactly one line", r.in, r.stderr)
	}
}

func keys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// containsWord reports whether s contains w as a whole token: "ok" does not match
// inside "lab.ok" or "ok-ish", and 198.18.3.10 does not match inside 198.18.3.100,
// while "198.18.3.10:25" and "[2001:db8:3::10]:25" do match their address.
func containsWord(s, w string) bool {
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		before := j == 0 || !(alnum(s[j-1]) || strings.IndexByte(".:-", s[j-1]) >= 0)
		after := end == len(s) || !(alnum(s[end]) || s[end] == '-')
		if before && after {
			return true
		}
		i = j + 1
	}
	return false
}

func alnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// blackholeVerdictMax is how soon `mx` and `session` must name a PMTU black
// hole at --timeout 30s (issue 8): the verdict comes from TCP_INFO after
// about two RTOs, not from the deadline.
const (
	blackholeTimeout    = "30s"
	blackholeVerdictMax = 5 * time.Second
)

// stallResult is the part of a result the black-hole tests read beyond mxResult.
type stallResult struct {
	Address  string       `json:"address"`
	Outcome  string       `json:"outcome"`
	Error    string       `json:"error"`
	Timeline []probeEvent `json:"timeline"`
}

// stallResults decodes the results' error and timeline.
func stallResults(t *testing.T, stdout string) map[string]stallResult {
	t.Helper()
	var doc struct {
		Results []stallResult `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("results: %v", err)
	}
	m := map[string]stallResult{}
	for _, r := range doc.Results {
		m[normAddr(r.Address)] = r
	}
	return m
}

// wantTCPEvidence checks that the timeline carries the TCP_INFO evidence the
// verdict rests on (a "tcp" event mentioning what), not a deadline.
func wantTCPEvidence(t *testing.T, in string, res stallResult, what string) {
	t.Helper()
	for _, e := range res.Timeline {
		if e.Kind == "tcp" && strings.Contains(e.Text, what) {
			return
		}
	}
	t.Errorf("%s result %s timeline has no tcp event with %q:\n%s", in, res.Address, what, timelineString(res.Timeline))
}

// findingWith returns the finding with code that mentions every string of has.
func findingWith(rep mxReport, code string, has ...string) (mxFinding, bool) {
	for _, f := range rep.Findings {
		if f.Code != code {
			continue
		}
		ok := true
		for _, h := range has {
			ok = ok && strings.Contains(f.Message, h)
		}
		if ok {
			return f, true
		}
	}
	return mxFinding{}, false
}

// TestE2EMXBlackhole: on a forward PMTU black hole (r1 drops frag-needed /
// packet-too-big) Go's ClientHello, with its X25519MLKEM768 key share larger
// than one segment, vanishes; `mx` must say pmtu-blackhole from the TCP
// evidence within seconds, not tls-error at --timeout. On a reverse black
// hole (r2 drops the ICMP toward the server) the server's certificate flight
// vanishes; `mx` must confirm it with a clamped-MSS retry and say
// reverse-pmtu-blackhole.
func TestE2EMXBlackhole(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	bin := smtpprobeBinary(t)
	fams := []struct{ flag, addr string }{{"-4", labMX1v4}, {"-6", labMX1v6}}
	args := func(fam string) []string {
		return []string{"ok.lab.example", fam, "--json", "--resolver", l.DNS + ":53", "--connect-timeout", "2s", "--timeout", blackholeTimeout}
	}
	run := func(t *testing.T, fam string) (mxRun, mxReport, stallResult) {
		t.Helper()
		r := runMXBinary(t, l, bin, args(fam)...)
		rep := decodeReport(t, r)
		res := stallResults(t, r.stdout)
		if len(res) != 1 {
			t.Fatalf("mx(%s) results = %v, want one address", r.in, byAddress(rep))
		}
		for _, v := range res {
			return r, rep, v
		}
		panic("unreachable")
	}

	t.Run("forward", func(t *testing.T) {
		l.SetICMP(t, "drop")
		l.FlushPMTU(t)
		for _, fam := range fams {
			t.Run(fam.flag, func(t *testing.T) {
				r, rep, res := run(t, fam.flag)
				if r.exit != 2 || rep.Outcome != string(probe.PMTUBlackhole) || res.Outcome != string(probe.PMTUBlackhole) {
					t.Errorf("mx(%s) = exit %d, outcome %q (result %q: %s), want exit 2, pmtu-blackhole", r.in, r.exit, rep.Outcome, res.Outcome, res.Error)
				}
				if r.elapsed >= blackholeVerdictMax {
					t.Errorf("mx(%s) took %v, want < %v at --timeout %s", r.in, r.elapsed.Round(time.Millisecond), blackholeVerdictMax, blackholeTimeout)
				}
				if _, ok := findingWith(rep, dnscheck.CodePMTUBlackhole, "client-to-server", "ClientHello", "segments", "1500-byte packets vanish", "smtpprobe mtu "+fam.addr); !ok {
					t.Errorf("mx(%s) findings = %+v, want pmtu-blackhole naming the ClientHello, its segments, the lost size and smtpprobe mtu %s", r.in, rep.Findings, fam.addr)
				}
				wantTCPEvidence(t, r.in, res, "ClientHello")
			})
		}
	})

	// The same path with ICMP let through: PMTUD works, nothing is a black
	// hole, so the verdict above came from the path.
	t.Run("forward-icmp-allowed", func(t *testing.T) {
		l.SetICMP(t, "allow")
		l.FlushPMTU(t)
		for _, fam := range fams {
			t.Run(fam.flag, func(t *testing.T) {
				r, rep, res := run(t, fam.flag)
				if r.exit != 0 || res.Outcome != "ok" {
					t.Errorf("mx(%s) = exit %d, outcome %q (%s), want exit 0, ok", r.in, r.exit, res.Outcome, res.Error)
				}
				if codes := findingCodes(rep); slices.Contains(codes, dnscheck.CodePMTUBlackhole) || slices.Contains(codes, dnscheck.CodeReversePMTUBlackhole) {
					t.Errorf("mx(%s) findings = %q, want no black hole", r.in, codes)
				}
			})
		}
	})

	t.Run("reverse", func(t *testing.T) {
		l.SetICMP(t, "allow")
		l.SetICMPReverse(t, "drop")
		t.Cleanup(func() { l.SetICMPReverse(t, "allow") })
		for _, fam := range fams {
			t.Run(fam.flag, func(t *testing.T) {
				l.FlushPMTU(t) // the server must not remember a smaller path MTU
				r, rep, res := run(t, fam.flag)
				if r.exit != 2 || rep.Outcome != string(probe.PMTUBlackhole) || res.Outcome != string(probe.PMTUBlackhole) {
					t.Errorf("mx(%s) = exit %d, outcome %q (result %q: %s), want exit 2, pmtu-blackhole", r.in, r.exit, rep.Outcome, res.Outcome, res.Error)
				}
				clamp := "1240"
				if fam.flag == "-6" {
					clamp = "1220"
				}
				if _, ok := findingWith(rep, dnscheck.CodeReversePMTUBlackhole, "server-to-client", "advertising MSS "+clamp+" instead of"); !ok {
					t.Errorf("mx(%s) findings = %+v, want reverse-pmtu-blackhole with the direction and both MSS values", r.in, rep.Findings)
				}
				if r.elapsed >= blackholeVerdictMax {
					t.Errorf("mx(%s) took %v, want < %v at --timeout %s", r.in, r.elapsed.Round(time.Millisecond), blackholeVerdictMax, blackholeTimeout)
				}
				wantTCPEvidence(t, r.in, res, "out of order")
				wantTCPEvidence(t, r.in, res, "handshake completed")
			})
		}
	})
}
