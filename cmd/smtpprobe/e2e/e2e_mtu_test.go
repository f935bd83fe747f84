package e2e

// End-to-end tests of `smtpprobe mtu` (README "mtu": the PMTU black hole, the
// bracketing, the results): the real binary in the lab's client namespace,
// against real Postfix behind a real r1–r2 bottleneck whose ICMP frag-needed /
// packet-too-big r1 drops (black hole) or lets through (working PMTUD).
//
// The kernel caches a learned path MTU per destination for about 10 minutes, and
// the report says so (cached_pmtu): every case flushes the client's route cache
// first, except the one that is about that cache.
//
// Timing note: the lab's Postfix has the stock in_flow_delay (1 s), which makes
// every abandoned MAIL transaction cost a flow token. mx1 offers STARTTLS, so the
// probes carry their segments after STARTTLS and open no transaction at all
// (results[].transactions is 0), and the wall-time bounds below hold with it.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
)

// mtuReport is the JSON document of `smtpprobe mtu --json` (README "JSON").
type mtuReport struct {
	Command    string      `json:"command"`
	Target     string      `json:"target"`
	Started    string      `json:"started"`
	DurationMS *float64    `json:"duration_ms"`
	Outcome    string      `json:"outcome"`
	Results    []mtuResult `json:"results"`
	Findings   []mxFinding `json:"findings"`
}

type mtuResult struct {
	Host         string     `json:"host"`
	Address      string     `json:"address"`
	Outcome      string     `json:"outcome"`
	Error        string     `json:"error"`
	PathMTU      *int       `json:"path_mtu"`
	Verdict      *string    `json:"verdict"` // nil: absent or null
	Bracket      []*int     `json:"bracket"` // [largest_ok, smallest_failed]; nil element: JSON null
	Exact        bool       `json:"exact"`
	Sessions     int        `json:"sessions"`
	Rounds       int        `json:"rounds"`
	ICMPSeen     *bool      `json:"icmp_seen"`
	CachedPMTU   *int       `json:"cached_pmtu"`
	InterfaceMTU int        `json:"interface_mtu"`
	Transactions *int       `json:"transactions"`
	Retests      int        `json:"retests"`
	LossPct      *float64   `json:"loss_pct"`
	Probes       []mtuProbe `json:"probes"`
	Reverse      *mtuRev    `json:"reverse"`
	Method       string     `json:"method"` // tcp, or udp when DF datagrams decided (issue 17)
	CacheCleared bool       `json:"cache_cleared"`
	Confirm      string     `json:"confirm"`        // how a black hole was told from rate-limited ICMP (issue 17, item 8)
	RecentICMPMs *float64   `json:"recent_icmp_ms"` // an earlier run drew ICMP from this path this recently
	UDP          *struct {
		Verdict string `json:"verdict"`
		Hop     string `json:"hop"`
	} `json:"udp"`
}

// icmpReached reports whether the run saw ICMP about packet size reach the
// client: TCP's path MTU dropped during a probe (icmp_seen), or a DF
// datagram drew a hop's packet-too-big (udp, issue 17).
func (res mtuResult) icmpReached() bool {
	return res.ICMPSeen != nil && *res.ICMPSeen || res.UDP != nil && res.UDP.Verdict == string(mtu.DFICMPWorks) && res.UDP.Hop != ""
}

// mtuRev is results[].reverse: the server-to-client direction.
type mtuRev struct {
	PathMTU     *int       `json:"path_mtu"`
	Verdict     *string    `json:"verdict"`
	Bracket     []*int     `json:"bracket"`
	Exact       bool       `json:"exact"`
	Sessions    int        `json:"sessions"`
	Rounds      int        `json:"rounds"`
	FlightBytes int        `json:"flight_bytes"`
	TestedUpTo  int        `json:"tested_up_to"`
	Probes      []mtuProbe `json:"probes"`
}

type mtuProbe struct {
	Round  int    `json:"round"`
	Size   int    `json:"size"`
	Sent   int    `json:"sent"`
	OK     bool   `json:"ok"`
	Result string `json:"result"`
	PMTU   int    `json:"pmtu"`
}

var mtuVerdicts = outcomeStrings(mtu.VerdictNoBottleneck, mtu.VerdictPMTUDWorking, mtu.VerdictMSSClamped, mtu.VerdictBlackhole, mtu.VerdictUntested)

const (
	mtuKill      = 60 * time.Second // ends a hung run
	blackholeMax = 5 * time.Second  // wall-time sanity for a black-hole run (not a benchmark)
	maxRounds    = 6                // with the default --parallel: the search's 3 plus the confirmation of its upper end (mtu.TestRunExhaustive)
)

// mtuFamily is one address family of mx1.lab.example.
type mtuFamily struct {
	flag, addr string
}

var mtuFamilies = []mtuFamily{{"-4", labMX1v4}, {"-6", labMX1v6}}

// runMTUBinary runs `smtpprobe mtu ARGS...` in the client namespace.
func runMTUBinary(t *testing.T, l *Lab, bin string, args ...string) mxRun {
	t.Helper()
	return runInLab(t, l, mtuKill, nil, bin, "mtu", args...)
}

// mtuLabArgs are the flags every lab run gets.
func mtuLabArgs(l *Lab) []string {
	return []string{"--json", "--resolver", l.DNS + ":53"}
}

// flushPMTU makes the client forget learned path MTUs.
func flushPMTU(t *testing.T, l *Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, fam := range []string{"-4", "-6"} {
		if _, errOut, exit := l.Exec(t, ctx, "ip", fam, "route", "flush", "cache"); exit != 0 {
			t.Fatalf("ip %s route flush cache (client) exit = %d: %s", fam, exit, errOut)
		}
	}
}

// icmpIn counts frag-needed (IPv4: every destination unreachable; the lab sends no
// other kind to mx1's path) or packet-too-big (IPv6) messages the client received.
func icmpIn(t *testing.T, l *Lab, v6 bool) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	file, key := "/proc/net/snmp", "InDestUnreachs"
	if v6 {
		file, key = "/proc/net/snmp6", "Icmp6InPktTooBigs"
	}
	out, errOut, exit := l.Exec(t, ctx, "cat", file)
	if exit != 0 {
		t.Fatalf("cat %s (client) exit = %d: %s", file, exit, errOut)
	}
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if v6 {
			if len(f) == 2 && f[0] == key {
				n, err := strconv.Atoi(f[1])
				if err != nil {
					t.Fatalf("%s: %s = %q: %v", file, key, f[1], err)
				}
				return n
			}
			continue
		}
		// Header line "Icmp: names..." followed by "Icmp: values...".
		if len(f) > 0 && f[0] == "Icmp:" && i+1 < len(lines) {
			vals := strings.Fields(lines[i+1])
			if j := slices.Index(f, key); j > 0 && j < len(vals) {
				n, err := strconv.Atoi(vals[j])
				if err != nil {
					t.Fatalf("%s: %s = %q: %v", file, key, vals[j], err)
				}
				return n
			}
		}
	}
	t.Fatalf("%s has no %s", file, key)
	return 0
}

// decodeMTU parses stdout as exactly one mtu JSON document and checks the fields
// every report must have.
func decodeMTU(t *testing.T, r mxRun) mtuReport {
	t.Helper()
	var rep mtuReport
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("mtu(%s) stdout is not JSON: %v\nstdout:\n%s\nstderr:\n%s", r.in, err, r.stdout, r.stderr)
	}
	if dec.More() {
		t.Errorf("mtu(%s) stdout holds more than one JSON document:\n%s", r.in, r.stdout)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &raw); err == nil {
		for _, k := range []string{"command", "target", "started", "duration_ms", "outcome", "results", "findings"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("mtu(%s) JSON has no top-level key %q", r.in, k)
			}
		}
	}
	if rep.Command != "mtu" {
		t.Errorf("mtu(%s) command = %q, want %q", r.in, rep.Command, "mtu")
	}
	if _, err := time.Parse(time.RFC3339, rep.Started); err != nil {
		t.Errorf("mtu(%s) started = %q, want RFC 3339: %v", r.in, rep.Started, err)
	}
	if rep.DurationMS == nil || *rep.DurationMS < 0 {
		t.Errorf("mtu(%s) duration_ms = %v, want a number >= 0", r.in, rep.DurationMS)
	}
	if !slices.Contains(outcomes, rep.Outcome) {
		t.Errorf("mtu(%s) outcome = %q, want one of %q", r.in, rep.Outcome, outcomes)
	}
	for _, res := range rep.Results {
		if _, err := netip.ParseAddr(res.Address); err != nil {
			t.Errorf("mtu(%s) result address = %q, want an IP address: %v", r.in, res.Address, err)
		}
		if !slices.Contains(outcomes, res.Outcome) {
			t.Errorf("mtu(%s) result %s outcome = %q, want one of %q", r.in, res.Address, res.Outcome, outcomes)
		}
	}
	for _, f := range rep.Findings {
		if f.Severity == "" || f.Code == "" || f.Message == "" {
			t.Errorf("mtu(%s) finding = %+v, want severity, code and message", r.in, f)
		}
	}
	return rep
}

// oneMTUResult returns the only result, which must be for addr.
func oneMTUResult(t *testing.T, r mxRun, rep mtuReport, addr string) mtuResult {
	t.Helper()
	if len(rep.Results) != 1 {
		t.Fatalf("mtu(%s) results = %d, want 1 (%s)\nstdout:\n%s", r.in, len(rep.Results), addr, r.stdout)
	}
	res := rep.Results[0]
	if normAddr(res.Address) != addr {
		t.Errorf("mtu(%s) results[0].address = %q, want %q", r.in, res.Address, addr)
	}
	return res
}

func intp(p *int) string {
	if p == nil {
		return "null"
	}
	return strconv.Itoa(*p)
}

func bracketString(b []*int) string {
	s := make([]string, len(b))
	for i, p := range b {
		s[i] = intp(p)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func strp(p *string) string {
	if p == nil {
		return "null"
	}
	return strconv.Quote(*p)
}

func boolp(p *bool) string {
	if p == nil {
		return "absent"
	}
	return strconv.FormatBool(*p)
}

// probeSummary is a short evidence line: round:size->result(sent).
func probeSummary(res mtuResult) string {
	var s []string
	for _, p := range res.Probes {
		s = append(s, fmt.Sprintf("%d:%d->%s(%d)", p.Round, p.Size, p.Result, p.Sent))
	}
	return strings.Join(s, " ")
}

// wantPath is what a bracketing towards mx1 must report.
type wantPath struct {
	mtu      int    // path MTU
	verdict  string // mtuVerdicts
	failed   int    // smallest failed size; 0: null
	exit     int
	outcome  string
	icmp     *bool // icmp_seen; nil: not checked
	reached  bool  // icmpReached, by TCP or by the DF datagrams
	finding  string
	maxRound int // 0: not checked
	minRound int // 0: not checked
}

func checkPath(t *testing.T, r mxRun, rep mtuReport, addr string, w wantPath) mtuResult {
	t.Helper()
	if r.exit != w.exit {
		t.Errorf("mtu(%s) exit = %d, want %d\nstderr:\n%s", r.in, r.exit, w.exit, r.stderr)
	}
	if rep.Outcome != w.outcome {
		t.Errorf("mtu(%s) outcome = %q, want %q", r.in, rep.Outcome, w.outcome)
	}
	res := oneMTUResult(t, r, rep, addr)
	if res.Outcome != w.outcome {
		t.Errorf("mtu(%s) results[0].outcome = %q, want %q", r.in, res.Outcome, w.outcome)
	}
	if res.PathMTU == nil || *res.PathMTU != w.mtu {
		t.Errorf("mtu(%s) results[0].path_mtu = %s, want %d", r.in, intp(res.PathMTU), w.mtu)
	}
	if res.Verdict == nil || *res.Verdict != w.verdict {
		t.Errorf("mtu(%s) results[0].verdict = %s, want %q", r.in, strp(res.Verdict), w.verdict)
	}
	wantB := fmt.Sprintf("[%d, null]", w.mtu)
	if w.failed != 0 {
		wantB = fmt.Sprintf("[%d, %d]", w.mtu, w.failed)
	}
	if got := bracketString(res.Bracket); got != wantB {
		t.Errorf("mtu(%s) results[0].bracket = %s, want %s", r.in, got, wantB)
	}
	if w.icmp != nil && (res.ICMPSeen == nil || *res.ICMPSeen != *w.icmp) {
		t.Errorf("mtu(%s) results[0].icmp_seen = %s, want %v", r.in, boolp(res.ICMPSeen), *w.icmp)
	}
	if w.reached && !res.icmpReached() {
		t.Errorf("mtu(%s) saw no ICMP reach the client (icmp_seen %s, method %q), want it by TCP or by the DF datagrams", r.in, boolp(res.ICMPSeen), res.Method)
	}
	if w.finding != "" {
		if codes := mtuFindingCodes(rep); !slices.Contains(codes, w.finding) {
			t.Errorf("mtu(%s) findings = %q, want one with code %q", r.in, codes, w.finding)
		}
	}
	if w.maxRound > 0 && res.Rounds > w.maxRound {
		t.Errorf("mtu(%s) results[0].rounds = %d, want <= %d", r.in, res.Rounds, w.maxRound)
	}
	if w.minRound > 0 && res.Rounds < w.minRound {
		t.Errorf("mtu(%s) results[0].rounds = %d, want >= %d", r.in, res.Rounds, w.minRound)
	}
	if res.Transactions == nil || *res.Transactions != 0 {
		t.Errorf("mtu(%s) results[0].transactions = %s, want 0 (mx1 offers STARTTLS: no MAIL transaction)", r.in, intp(res.Transactions))
	}
	if res.Sessions < len(res.Probes) || len(res.Probes) < 1 {
		t.Errorf("mtu(%s) results[0].sessions = %d with %d probes, want at least one session per probe (more when a session was retried)", r.in, res.Sessions, len(res.Probes))
	}
	if t.Failed() {
		t.Logf("mtu(%s) took %v, %d sessions, %d rounds, probes: %s", r.in, r.elapsed.Round(time.Millisecond), res.Sessions, res.Rounds, probeSummary(res))
		// The outcome covers both directions: a server-to-client verdict
		// can fail a run whose client-to-server bracket is right.
		if rv := res.Reverse; rv != nil {
			var ps []string
			for _, p := range rv.Probes {
				ps = append(ps, fmt.Sprintf("%d:%d->%s(%d)", p.Round, p.Size, p.Result, p.Sent))
			}
			t.Logf("mtu(%s) reverse: verdict %s, bracket %s, %d sessions, %d rounds, probes: %s", r.in, strp(rv.Verdict), bracketString(rv.Bracket), rv.Sessions, rv.Rounds, strings.Join(ps, " "))
		}
	}
	return res
}

func mtuFindingCodes(rep mtuReport) []string {
	var codes []string
	for _, f := range rep.Findings {
		codes = append(codes, f.Code)
	}
	return codes
}

func ptrBool(b bool) *bool { return &b }

// mtuBottlenecks are the bottleneck MTUs of the path matrix: PPPoE's 1492, a
// tunnel's 1400, the IPv6 minimum 1280, and two on no plateau (mtu.Plateaus),
// which the search cannot pin in its first probe pairs: 1436, between 1440
// and 1420, and the odd 1337.
var mtuBottlenecks = []int{1400, 1492, 1280, 1436, 1337}

// TestE2EMTUBlackhole: r1 drops frag-needed / packet-too-big. The bracket must
// still pin the path MTU to the byte, in at most 3 rounds, and say black hole.
func TestE2EMTUBlackhole(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--mtu", "1400", "--icmp", "drop")
	bin := smtpprobeBinary(t)
	for _, n := range mtuBottlenecks {
		l.SetMTU(t, n) // also flushes learned path MTUs
		for _, fam := range mtuFamilies {
			t.Run(fmt.Sprintf("mtu%d%s", n, fam.flag), func(t *testing.T) {
				flushPMTU(t, l)
				r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag}, mtuLabArgs(l)...)...)
				rep := decodeMTU(t, r)
				res := checkPath(t, r, rep, fam.addr, wantPath{
					mtu: n, failed: n + 1, verdict: string(mtu.VerdictBlackhole), exit: 2, outcome: string(probe.PMTUBlackhole),
					icmp: ptrBool(false), finding: dnscheck.CodePMTUBlackhole, maxRound: maxRounds,
				})
				// No run here draws ICMP, so the routers' tokens are
				// fresh (mtu.Pacer), and a clean search needs no patient
				// probe.
				if res.RecentICMPMs != nil || res.Confirm != mtu.ConfirmFresh {
					t.Errorf("mtu(%s): recent_icmp_ms %v, confirm %q; want absent and %q (no run on this path drew ICMP)", r.in, res.RecentICMPMs, res.Confirm, mtu.ConfirmFresh)
				}
				if r.elapsed >= blackholeMax {
					t.Errorf("mtu(%s) took %v, want < %v", r.in, r.elapsed.Round(time.Millisecond), blackholeMax)
				}
			})
		}
	}
}

// TestE2EMTUWorking: ICMP reaches the client, the kernel's path MTU drops, and the
// bracket is exact. Then the kernel's cache: a second run without flushing reports
// the cached path MTU.
func TestE2EMTUWorking(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--mtu", "1400", "--icmp", "allow")
	bin := smtpprobeBinary(t)
	for _, n := range mtuBottlenecks {
		l.SetMTU(t, n)
		for _, fam := range mtuFamilies {
			t.Run(fmt.Sprintf("mtu%d%s", n, fam.flag), func(t *testing.T) {
				flushPMTU(t, l)
				r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag}, mtuLabArgs(l)...)...)
				rep := decodeMTU(t, r)
				res := checkPath(t, r, rep, fam.addr, wantPath{
					mtu: n, failed: n + 1, verdict: "pmtud-working", exit: 0, outcome: "ok",
					reached: true, maxRound: maxRounds,
				})
				if res.CachedPMTU != nil {
					t.Errorf("mtu(%s) results[0].cached_pmtu = %d after a flush, want absent", r.in, *res.CachedPMTU)
				}
			})
		}
	}

	// Two runs without flushing in between (a cron job). IPv4: the first
	// run's DF datagram finds the bottleneck before any TCP probe, through
	// raw sockets, so no path MTU is left cached and the second run tests as
	// the first did. IPv6: the first run leaves the path MTU cached, the
	// second finds it and deletes it for this one address before its probes.
	// Neither reads the cache as pmtud-working (issue 17).
	l.SetMTU(t, 1400)
	for _, fam := range mtuFamilies {
		t.Run("cached"+fam.flag, func(t *testing.T) {
			const n = 1400
			flushPMTU(t, l)
			args := append([]string{"ok.lab.example", fam.flag}, mtuLabArgs(l)...)
			first := runMTUBinary(t, l, bin, args...)
			checkPath(t, first, decodeMTU(t, first), fam.addr, wantPath{
				mtu: n, failed: n + 1, verdict: "pmtud-working", exit: 0, outcome: "ok", reached: true,
			})
			icmpBefore := icmpIn(t, l, fam.flag == "-6")
			r := runMTUBinary(t, l, bin, args...)
			icmpArrived := icmpIn(t, l, fam.flag == "-6") - icmpBefore
			rep := decodeMTU(t, r)
			res := checkPath(t, r, rep, fam.addr, wantPath{
				mtu: n, failed: n + 1, verdict: "pmtud-working", exit: 0, outcome: "ok", maxRound: maxRounds, reached: true,
			})
			if fam.flag == "-4" {
				if res.CachedPMTU != nil {
					t.Errorf("mtu(%s) second run results[0].cached_pmtu = %d, want absent: the first run must leave no cache behind", r.in, *res.CachedPMTU)
				}
			} else {
				if res.CachedPMTU == nil || *res.CachedPMTU != n || !res.CacheCleared {
					t.Errorf("mtu(%s) second run results[0].cached_pmtu = %s, cache_cleared %v, want %d and true", r.in, intp(res.CachedPMTU), res.CacheCleared, n)
				}
				if codes := mtuFindingCodes(rep); !slices.Contains(codes, dnscheck.CodePMTUCached) {
					t.Errorf("mtu(%s) second run findings = %q, want one with code %q", r.in, codes, dnscheck.CodePMTUCached)
				}
			}
			// The report says ICMP reached the client (icmp_seen: the
			// kernel's path MTU dropped during a probe; or udp: a DF
			// datagram's packet-too-big) exactly when the client's own
			// counters saw one arrive.
			t.Run("icmp_seen", func(t *testing.T) {
				want := icmpArrived > 0
				if res.icmpReached() != want {
					t.Errorf("mtu(%s) second run: icmp_seen %s, method %q: ICMP reached = %v, want %v (the client received %d ICMP frag-needed/packet-too-big during the run; probes: %s)",
						r.in, boolp(res.ICMPSeen), res.Method, res.icmpReached(), want, icmpArrived, probeSummary(res))
				}
			})
		})
	}
}

// TestE2EMTUOther: no bottleneck, a serial search, bad input and peers that are
// not a working mail server.
func TestE2EMTUOther(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--mtu", "1500", "--icmp", "drop")
	bin := smtpprobeBinary(t)

	// No bottleneck: every size up to the interface MTU (1500) passes, so nothing
	// failed and the bracket's upper end is null, whether or not ICMP is dropped.
	for _, mode := range []string{"drop", "allow"} {
		l.SetICMP(t, mode)
		for _, fam := range mtuFamilies {
			t.Run("mtu1500-icmp-"+mode+fam.flag, func(t *testing.T) {
				flushPMTU(t, l)
				r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag}, mtuLabArgs(l)...)...)
				rep := decodeMTU(t, r)
				checkPath(t, r, rep, fam.addr, wantPath{
					mtu: 1500, verdict: "no-bottleneck", exit: 0, outcome: "ok", icmp: ptrBool(false), maxRound: maxRounds,
				})
				if !strings.Contains(strings.Join(strings.Fields(r.stdout), ""), `"bracket":[1500,null]`) {
					t.Errorf("mtu(%s) bracket JSON is not [1500, null]:\n%s", r.in, r.stdout)
				}
			})
		}
	}

	t.Run("bad-input", func(t *testing.T) {
		for _, args := range [][]string{
			{"--min", "100"},
			{"--max", "70000"},
			{"--min", "1400", "--max", "1300"},
		} {
			t.Run(strings.Join(args, "_"), func(t *testing.T) {
				r := runMTUBinary(t, l, bin, append(append([]string{"ok.lab.example", "-4"}, args...), mtuLabArgs(l)...)...)
				if r.exit != 3 {
					t.Errorf("mtu(%s) exit = %d, want 3\nstdout:\n%s\nstderr:\n%s", r.in, r.exit, r.stdout, r.stderr)
				}
				if r.stdout != "" {
					t.Errorf("mtu(%s) stdout = %q, want empty", r.in, r.stdout)
				}
				if msg := strings.TrimSuffix(r.stderr, "\n"); msg == "" || strings.Contains(msg, "\n") {
					t.Errorf("mtu(%s) stderr = %q, want exactly one line", r.in, r.stderr)
				}
				if !strings.Contains(r.stderr, args[0]) {
					t.Errorf("mtu(%s) stderr = %q, want it to name %s", r.in, r.stderr, args[0])
				}
			})
		}
	})

	t.Run("missing", func(t *testing.T) {
		r := runMTUBinary(t, l, bin, append([]string{"missing.lab.example", "-4"}, mtuLabArgs(l)...)...)
		if r.exit != 2 {
			t.Errorf("mtu(%s) exit = %d, want 2\nstderr:\n%s", r.in, r.exit, r.stderr)
		}
		if rep := decodeMTU(t, r); rep.Outcome != "dns-error" {
			t.Errorf("mtu(%s) outcome = %q, want %q", r.in, rep.Outcome, "dns-error")
		}
	})

	// Peers that are no working mail server: the report says what happened, and
	// the result carries no verdict from the enum unless one was reached.
	for _, tt := range []struct {
		name, addr, outcome string
	}{
		{string(probe.Refused), labClosedv4, string(probe.Refused)},
		{"rejected", labRejectv4, "rejected"},
		{"rejected-v6", labRejectv6, "rejected"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runMTUBinary(t, l, bin, append([]string{tt.addr}, mtuLabArgs(l)...)...)
			if r.exit != 2 {
				t.Errorf("mtu(%s) exit = %d, want 2\nstderr:\n%s", r.in, r.exit, r.stderr)
			}
			rep := decodeMTU(t, r)
			if rep.Outcome != tt.outcome {
				t.Errorf("mtu(%s) outcome = %q, want %q", r.in, rep.Outcome, tt.outcome)
			}
			res := oneMTUResult(t, r, rep, tt.addr)
			if res.Outcome != tt.outcome {
				t.Errorf("mtu(%s) results[0].outcome = %q, want %q", r.in, res.Outcome, tt.outcome)
			}
			if res.PathMTU != nil {
				t.Errorf("mtu(%s) results[0].path_mtu = %d, want null", r.in, *res.PathMTU)
			}
			// README "mtu": verdict is no-bottleneck, pmtud-working or
			// pmtu-blackhole; with no verdict reached it should be absent or null,
			// not a value outside the enum.
			t.Run("verdict", func(t *testing.T) {
				if res.Verdict != nil && !slices.Contains(mtuVerdicts, *res.Verdict) {
					t.Errorf("mtu(%s) results[0].verdict = %s, want absent, null or one of %q", r.in, strp(res.Verdict), mtuVerdicts)
				}
			})
		})
	}

	// --parallel 1: one probe per round, so more rounds, but the same exact byte.
	l.SetICMP(t, "drop")
	l.SetMTU(t, 1400)
	for _, fam := range mtuFamilies {
		t.Run("parallel1-mtu1400"+fam.flag, func(t *testing.T) {
			flushPMTU(t, l)
			r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag, "--parallel", "1"}, mtuLabArgs(l)...)...)
			rep := decodeMTU(t, r)
			res := checkPath(t, r, rep, fam.addr, wantPath{
				mtu: 1400, failed: 1401, verdict: string(mtu.VerdictBlackhole), exit: 2, outcome: string(probe.PMTUBlackhole),
				icmp: ptrBool(false), finding: dnscheck.CodePMTUBlackhole, minRound: 4,
			})
			for _, p := range res.Probes {
				if n := countRound(res, p.Round); n != 1 {
					t.Errorf("mtu(%s) round %d has %d probes, want 1 (probes: %s)", r.in, p.Round, n, probeSummary(res))
					break
				}
			}
			t.Logf("mtu(%s): %d rounds, %v", r.in, res.Rounds, r.elapsed.Round(time.Millisecond))
		})
	}
}

func countRound(res mtuResult, round int) int {
	n := 0
	for _, p := range res.Probes {
		if p.Round == round {
			n++
		}
	}
	return n
}

// wantRev is what the server-to-client direction must report.
type wantRev struct {
	mtu     int
	failed  int // 0: null
	verdict string
}

func checkReverse(t *testing.T, r mxRun, res mtuResult, w wantRev) {
	t.Helper()
	rv := res.Reverse
	if rv == nil {
		t.Fatalf("mtu(%s) results[0].reverse is absent\nstdout:\n%s", r.in, r.stdout)
	}
	if rv.Verdict == nil || *rv.Verdict != w.verdict {
		t.Errorf("mtu(%s) reverse.verdict = %s, want %q", r.in, strp(rv.Verdict), w.verdict)
	}
	if rv.PathMTU == nil || *rv.PathMTU != w.mtu {
		t.Errorf("mtu(%s) reverse.path_mtu = %s, want %d", r.in, intp(rv.PathMTU), w.mtu)
	}
	wantB := fmt.Sprintf("[%d, null]", w.mtu)
	if w.failed != 0 {
		wantB = fmt.Sprintf("[%d, %d]", w.mtu, w.failed)
	}
	if got := bracketString(rv.Bracket); got != wantB {
		t.Errorf("mtu(%s) reverse.bracket = %s, want %s", r.in, got, wantB)
	}
	// The lab's chain (leaf and intermediate, several KB) fills every size
	// up to the interface MTU.
	if rv.FlightBytes < 3000 || rv.TestedUpTo != res.InterfaceMTU {
		t.Errorf("mtu(%s) reverse flight_bytes %d, tested_up_to %d, want >= 3000 and %d", r.in, rv.FlightBytes, rv.TestedUpTo, res.InterfaceMTU)
	}
	if rv.Sessions < len(rv.Probes) || len(rv.Probes) < 1 {
		t.Errorf("mtu(%s) reverse.sessions = %d with %d probes", r.in, rv.Sessions, len(rv.Probes))
	}
	if t.Failed() {
		var ps []string
		for _, p := range rv.Probes {
			ps = append(ps, fmt.Sprintf("%d:%d->%s(%d)", p.Round, p.Size, p.Result, p.Sent))
		}
		t.Logf("mtu(%s) reverse: %d sessions, %d rounds, probes: %s", r.in, rv.Sessions, rv.Rounds, strings.Join(ps, " "))
	}
}

// TestE2EMTUReverse: `mtu --direction in` through the MSS we advertise and
// the server's STARTTLS flight. r2 drops the ICMP it sends toward the server
// (reverse black hole): the exact byte, verdict pmtu-blackhole, critical; with
// that ICMP allowed the server adapts and rcv_mss gives the path MTU in the
// first sessions: pmtud-working. The client's own direction is clean here.
func TestE2EMTUReverse(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--mtu", "1400", "--icmp", "allow", "--icmp-reverse", "drop")
	bin := smtpprobeBinary(t)
	for _, mode := range []string{"drop", "allow"} {
		l.SetICMPReverse(t, mode)
		for _, n := range []int{1400, 1337} {
			l.SetMTU(t, n) // flushes the server's learned path MTUs too
			for _, fam := range mtuFamilies {
				t.Run(fmt.Sprintf("icmp-reverse-%s/mtu%d%s", mode, n, fam.flag), func(t *testing.T) {
					l.FlushPMTU(t)
					r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag, "--direction", "in"}, mtuLabArgs(l)...)...)
					rep := decodeMTU(t, r)
					res := oneMTUResult(t, r, rep, fam.addr)
					want := wantRev{mtu: n, failed: n + 1, verdict: "pmtud-working"}
					exit, outcome := 0, "ok"
					if mode == "drop" {
						want.verdict, exit, outcome = string(mtu.VerdictBlackhole), 2, string(probe.PMTUBlackhole)
						if codes := mtuFindingCodes(rep); !slices.Contains(codes, dnscheck.CodeReversePMTUBlackhole) {
							t.Errorf("mtu(%s) findings = %q, want reverse-pmtu-blackhole", r.in, codes)
						}
					} else if rv := res.Reverse; rv != nil && rv.Sessions > 2 {
						t.Errorf("mtu(%s) reverse.sessions = %d, want 2 (the Max session and its control: rcv_mss tells the path MTU at once)", r.in, rv.Sessions)
					}
					if r.exit != exit || rep.Outcome != outcome {
						t.Errorf("mtu(%s) exit %d, outcome %q, want %d, %q\nstderr:\n%s", r.in, r.exit, rep.Outcome, exit, outcome, r.stderr)
					}
					if res.Verdict == nil || *res.Verdict != "untested" || len(res.Probes) != 0 {
						t.Errorf("mtu(%s) outbound verdict %s with %d probes, want \"untested\" and none (--direction in)", r.in, strp(res.Verdict), len(res.Probes))
					}
					checkReverse(t, r, res, want)
					t.Logf("mtu(%s): %v", r.in, r.elapsed.Round(time.Millisecond))
				})
			}
		}
	}
}

// TestE2EMTUClamped: r1 rewrites the MSS of forwarded SYNs to what the
// bottleneck allows, so neither side's segments exceed it and no ICMP is
// ever needed: mss-clamped in both directions, with one finding per
// direction and none claiming that ICMP reaches this host.
func TestE2EMTUClamped(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--mtu", "1400", "--icmp", "drop", "--icmp-reverse", "drop", "--clamp", "on")
	bin := smtpprobeBinary(t)
	// No DF datagram draws an answer either (r2 drops them): ICMP delivery
	// is untestable, so mss-clamped stays the answer (issue 17; with the
	// datagrams answered, TestE2EStateClampedUDP).
	setUDP(t, l, "drop")
	for _, fam := range mtuFamilies {
		t.Run("mtu1400"+fam.flag, func(t *testing.T) {
			l.FlushPMTU(t)
			r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag}, mtuLabArgs(l)...)...)
			rep := decodeMTU(t, r)
			res := checkPath(t, r, rep, fam.addr, wantPath{
				mtu: 1400, failed: 1401, verdict: string(mtu.VerdictMSSClamped), exit: 0, outcome: "ok", icmp: ptrBool(false), finding: dnscheck.CodeMSSClamped,
			})
			checkReverse(t, r, res, wantRev{mtu: 1400, failed: 1401, verdict: string(mtu.VerdictMSSClamped)})
			codes := mtuFindingCodes(rep)
			for _, bad := range []string{dnscheck.CodePMTUBottleneck, "peer-mss-limit", dnscheck.CodePMTUBlackhole, dnscheck.CodeReversePMTUBlackhole} {
				if slices.Contains(codes, bad) {
					t.Errorf("mtu(%s) findings = %q: %q contradicts mss-clamped (ICMP was never tested)", r.in, codes, bad)
				}
			}
			for _, f := range rep.Findings {
				if f.Code == dnscheck.CodeMSSClamped && (!strings.Contains(f.Message, "not tested") || !strings.Contains(f.Message, "clamps the MSS") || !strings.Contains(f.Message, "server cached a path MTU")) {
					t.Errorf("mtu(%s) mss-clamped finding %q, want it to say ICMP delivery was not tested, and name both a clamping router and the server's cache", r.in, f.Message)
				}
			}
		})
	}
}

// TestE2EMTULoss: r2 drops TCP packets at random. On an open path the verdict
// is never pmtu-blackhole; on a black-holed path (both directions) the bracket
// is the exact byte every time. N runs each, IPv4 and IPv6 alternating.
func TestE2EMTULoss(t *testing.T) {
	t.Parallel()
	const n = 5
	l := startLab(t, "--mtu", "1500", "--icmp", "drop", "--icmp-reverse", "drop", "--loss", "5")
	bin := smtpprobeBinary(t)
	t.Run("open-5pct", func(t *testing.T) {
		for i := range n {
			fam := mtuFamilies[i%2]
			l.FlushPMTU(t)
			r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag}, mtuLabArgs(l)...)...)
			rep := decodeMTU(t, r)
			res := oneMTUResult(t, r, rep, fam.addr)
			rv := res.Reverse
			if res.Verdict == nil || *res.Verdict != "no-bottleneck" || rv == nil || rv.Verdict == nil || *rv.Verdict != "no-bottleneck" || r.exit != 0 {
				t.Errorf("run %d mtu(%s) = exit %d, verdict %s, reverse %v, want no-bottleneck both ways (%s)\nprobes: %s", i, r.in, r.exit, strp(res.Verdict), rv, res.Error, probeSummary(res))
			}
			t.Logf("run %d mtu(%s): %v, %d+%d sessions, %d re-tests, loss %s %%", i, r.in, r.elapsed.Round(time.Millisecond), res.Sessions, revSessions(res), res.Retests, floatp(res.LossPct))
		}
	})
	l.SetLoss(t, 3)
	l.SetMTU(t, 1400)
	t.Run("blackhole-3pct", func(t *testing.T) {
		for i := range n {
			fam := mtuFamilies[i%2]
			l.FlushPMTU(t)
			r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag}, mtuLabArgs(l)...)...)
			rep := decodeMTU(t, r)
			res := checkPath(t, r, rep, fam.addr, wantPath{
				mtu: 1400, failed: 1401, verdict: string(mtu.VerdictBlackhole), exit: 2, outcome: string(probe.PMTUBlackhole), finding: dnscheck.CodePMTUBlackhole,
			})
			checkReverse(t, r, res, wantRev{mtu: 1400, failed: 1401, verdict: string(mtu.VerdictBlackhole)})
			t.Logf("run %d mtu(%s): %v, %d+%d sessions, %d re-tests, loss %s %%", i, r.in, r.elapsed.Round(time.Millisecond), res.Sessions, revSessions(res), res.Retests, floatp(res.LossPct))
		}
	})
}

func revSessions(res mtuResult) int {
	if res.Reverse == nil {
		return 0
	}
	return res.Reverse.Sessions
}

func floatp(p *float64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64)
}
