package e2e

// End-to-end tests of issue 17's rate limits, second bottleneck and heavy
// loss: the real binary in the lab's client namespace against the lab's
// real Postfix, over IPv4 and IPv6.
//
// ICMP rate limits: the lab's server keeps Linux's ICMP rate limit (about
// one error per second per destination after a burst of six); a run of
// sessions to its rejecting addresses (prohibited .21, hostreject .25)
// empties that bucket, so the follow-up sweep of a session meets silence
// where the connect itself got an ICMP error. r1 can rate-limit its
// packet-too-big / frag-needed (lab.sh ptb-limit).

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
)

const (
	labHostRejectv4 = "198.18.3.25" // the server rejects tcp/25: host-unreachable
	labHostRejectv6 = "2001:db8:3::25"
)

// rlReport is the part of a session or path report these tests read.
type rlReport struct {
	Outcome string `json:"outcome"`
	Results []struct {
		Address string `json:"address"`
		Outcome string `json:"outcome"`
		Error   string `json:"error"`
		Hops    []struct {
			TTL        int    `json:"ttl"`
			Address    string `json:"address"`
			Answer     string `json:"answer"`
			Unanswered int    `json:"unanswered"`
		} `json:"hops"`
		PathEnd *struct {
			Answer      string `json:"answer"`
			Address     string `json:"address"`
			TTL         int    `json:"ttl"`
			RateLimited bool   `json:"rate_limited"`
		} `json:"path_end"`
	} `json:"results"`
	Findings []mxFinding `json:"findings"`
}

func runRL(t *testing.T, l *Lab, ctx context.Context, args ...string) (rlReport, int) {
	t.Helper()
	stdout, stderr, exit := l.Exec(t, ctx, smtpprobeBinary(t), append(args, "--json")...)
	var rep rlReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Results) != 1 {
		t.Fatalf("smtpprobe %s --json: exit %d, want one result: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), exit, err, stdout, stderr)
	}
	return rep, exit
}

// dropCodes are the findings that say SYNs vanish: never beside an
// outcome whose connect got an ICMP error.
var dropCodes = []string{dnscheck.CodeSYNDroppedAfterHop, dnscheck.CodePort25FilteredAtHop}

// TestE2EICMPRateLimit: sessions in a row to the server's rejecting
// addresses. Every one is unreachable with the ICMP finding of what the
// connect received, and none carries a drop finding from its follow-up
// sweep (issue 17, item 5: before, every second session did). Then `path`,
// which paces its retries, still finds the rejection.
func TestE2EICMPRateLimit(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, fam := range []struct{ name, prohibited, hostReject string }{
		{"v4", labProhibitedv4, labHostRejectv4},
		{"v6", labProhibitedv6, labHostRejectv6},
	} {
		t.Run(fam.name, func(t *testing.T) {
			limited := 0
			for i := range 10 {
				target, icmp := fam.prohibited, dnscheck.CodeICMPAdminProhibited
				if i%2 == 1 {
					target, icmp = fam.hostReject, dnscheck.CodeICMPHostUnreachable
				}
				rep, exit := runRL(t, l, ctx, "session", target)
				r := rep.Results[0]
				codes := pathCodes(rep.Findings)
				if exit != 2 || r.Outcome != "unreachable" || !slices.Contains(codes, icmp) {
					t.Errorf("session %d to %s: exit %d, outcome %s (%s), findings %q; want 2, unreachable, %s", i+1, target, exit, r.Outcome, r.Error, codes, icmp)
				}
				for _, c := range dropCodes {
					if slices.Contains(codes, c) {
						t.Errorf("session %d to %s: outcome %s with finding %s: the sweep contradicts the connect's own ICMP error\n%+v", i+1, target, r.Outcome, c, rep.Findings)
					}
				}
				if e := r.PathEnd; e == nil || e.Answer != "unreachable" || e.Address != target {
					t.Errorf("session %d to %s: path_end %+v, want unreachable from %s", i+1, target, e, target)
				} else if e.RateLimited {
					limited++
					if !slices.Contains(codes, dnscheck.CodeICMPRateLimited) {
						t.Errorf("session %d to %s: path_end rate_limited without an icmp-rate-limited finding: %q", i+1, target, codes)
					}
				}
			}
			t.Logf("%s: %d of 10 sessions met the server's ICMP rate limit in their sweep", fam.name, limited)

			// path right after: its paced retry gets the rejection.
			rep, exit := runRL(t, l, ctx, "path", fam.hostReject)
			r := rep.Results[0]
			if exit != 2 || r.Outcome != "unreachable" || r.PathEnd == nil || r.PathEnd.Answer != "unreachable" || r.PathEnd.Address != fam.hostReject {
				t.Errorf("path %s after the sessions: exit %d, outcome %s, path_end %+v; want unreachable from the target", fam.hostReject, exit, r.Outcome, r.PathEnd)
			}
			for _, h := range r.Hops {
				if h.Unanswered > 0 {
					t.Logf("path %s: hop %d (%s) answered after %d unanswered SYNs (ICMP rate limit)", fam.hostReject, h.TTL, h.Address, h.Unanswered)
				}
			}
		})
	}
}

// blackholeLink is results[].blackhole_link.
type blackholeLink struct {
	Located bool   `json:"located"`
	Reason  string `json:"reason"`
	NearTTL int    `json:"near_ttl"`
	Near    string `json:"near"`
	FarTTL  int    `json:"far_ttl"`
	Far     string `json:"far"`
}

// flushClientPMTU makes only the client forget its learned path MTUs; the
// server keeps what it learned (issue 17: never flush the server's cache).
func flushClientPMTU(t *testing.T, l *Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, v := range []string{"-4", "-6"} {
		if _, stderr, exit := l.ExecNS(t, ctx, l.ClientNS, "ip", v, "route", "flush", "cache"); exit != 0 {
			t.Fatalf("ip %s route flush cache in %s: exit %d: %s", v, l.ClientNS, exit, stderr)
		}
	}
}

// TestE2EMTUPTBRateLimit: r1's bottleneck (1436, not a plateau) answers
// with frag-needed / packet-too-big, but at most two a second. Runs in a
// row, each with a fresh client cache, all say pmtud-working at 1436
// (issue 17, item 5: before, about half of them said pmtu-blackhole,
// because every probe's PTB fell between two tokens); runs without any
// flush never say pmtu-blackhole.
func TestE2EMTUPTBRateLimit(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--mtu", "1436")
	l.run(t, "ptb-limit", l.ID, "2")
	bin := smtpprobeBinary(t)
	for _, fam := range mtuFamilies {
		t.Run(fam.flag, func(t *testing.T) {
			for i := range 4 {
				flushClientPMTU(t, l)
				r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag, "--direction", "out"}, mtuLabArgs(l)...)...)
				res := oneMTUResult(t, r, decodeMTU(t, r), fam.addr)
				// The run before drew r1's ICMP moments ago: this one
				// knows (mtu.Pacer) that r1 may have no token left, so
				// a silence would need the patient confirmation.
				if i > 0 && res.RecentICMPMs == nil {
					t.Errorf("run %d mtu(%s): recent_icmp_ms absent; want the time since run %d drew a PTB", i+1, r.in, i)
				}
				if r.exit != 0 || sv(res.Verdict) != "pmtud-working" || bracketString(res.Bracket) != "[1436, 1437]" {
					t.Errorf("run %d mtu(%s), PTBs limited to 2/s: exit %d, verdict %s, bracket %s; want 0, pmtud-working, [1436, 1437] (%s)\nprobes: %s",
						i+1, r.in, r.exit, strp(res.Verdict), bracketString(res.Bracket), res.Error, probeSummary(res))
				}
				t.Logf("run %d mtu(%s): %v, verdict %s", i+1, r.in, r.elapsed.Round(time.Millisecond), strp(res.Verdict))
			}
			for i := range 2 { // cron: no flush between
				r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag}, mtuLabArgs(l)...)...)
				res := oneMTUResult(t, r, decodeMTU(t, r), fam.addr)
				if sv(res.Verdict) == string(mtu.VerdictBlackhole) || res.Reverse != nil && sv(res.Reverse.Verdict) == string(mtu.VerdictBlackhole) {
					t.Errorf("unflushed run %d mtu(%s): verdict %s, reverse %v; want no black hole", i+1, r.in, strp(res.Verdict), res.Reverse)
				}
			}
		})
	}
}

// TestE2EMTUTwoBottlenecks: r1's bottleneck (1436) answers with ICMP; a
// second, smaller one on r2 toward the server (1371) drops silently. The
// verdict is pmtu-blackhole at the smaller one, and the black-holed link
// is located after r2 (issue 17, item 6).
func TestE2EMTUTwoBottlenecks(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--mtu", "1436")
	l.run(t, "bottleneck2", l.ID, "1371")
	bin := smtpprobeBinary(t)
	for _, fam := range []struct {
		mtuFamily
		r2 string
	}{{mtuFamilies[0], labR2v4}, {mtuFamilies[1], labR2v6}} {
		t.Run(fam.flag, func(t *testing.T) {
			for i := range 2 {
				flushClientPMTU(t, l)
				r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag, "--direction", "out"}, mtuLabArgs(l)...)...)
				res := oneMTUResult(t, r, decodeMTU(t, r), fam.addr)
				if r.exit != 2 || sv(res.Verdict) != string(mtu.VerdictBlackhole) || bracketString(res.Bracket) != "[1371, 1372]" {
					t.Errorf("run %d mtu(%s): exit %d, verdict %s, bracket %s; want 2, pmtu-blackhole, [1371, 1372] (%s)\nprobes: %s",
						i+1, r.in, r.exit, strp(res.Verdict), bracketString(res.Bracket), res.Error, probeSummary(res))
				}
				var doc struct {
					Results []struct {
						Link *blackholeLink `json:"blackhole_link"`
					} `json:"results"`
				}
				if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Results) != 1 {
					t.Fatalf("mtu(%s): %v", r.in, err)
				}
				if bl := doc.Results[0].Link; bl == nil || !bl.Located || bl.Near != fam.r2 || bl.NearTTL != 2 || bl.Far != fam.addr || bl.FarTTL != 3 {
					t.Errorf("run %d mtu(%s): blackhole_link %+v; want located between hop 2 (%s) and the server, hop 3 (%s)", i+1, r.in, bl, fam.r2, fam.addr)
				}
				t.Logf("run %d mtu(%s): %v, verdict %s %s", i+1, r.in, r.elapsed.Round(time.Millisecond), strp(res.Verdict), bracketString(res.Bracket))
			}
		})
	}
}

// TestE2EMTUHeavyLoss: a black hole with 30 % random loss. Each run ends
// within 30 s, with the black hole or inconclusive (the loss measured, a
// retry hint), never a rejection or a bare reply-timeout; off a terminal
// nothing is printed on stderr (issue 17, item 7: before, 84 to 173 s and
// once rejected or reply-timeout).
func TestE2EMTUHeavyLoss(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--icmp", "drop", "--icmp-reverse", "drop", "--loss", "30")
	bin := smtpprobeBinary(t)
	for i, fam := range []mtuFamily{mtuFamilies[0], mtuFamilies[1], mtuFamilies[0], mtuFamilies[1]} {
		r := runMTUBinary(t, l, bin, append([]string{"ok.lab.example", fam.flag}, mtuLabArgs(l)...)...)
		rep := decodeMTU(t, r)
		res := oneMTUResult(t, r, rep, fam.addr)
		v := sv(res.Verdict)
		if r.elapsed > 30*time.Second {
			t.Errorf("run %d mtu(%s) took %v, want at most 30 s", i+1, r.in, r.elapsed)
		}
		if res.Outcome == "rejected" || res.Outcome == "reply-timeout" || res.Outcome == "connect-timeout" {
			t.Errorf("run %d mtu(%s): outcome %s (%s); want a verdict, never a dying probe session's outcome", i+1, r.in, res.Outcome, res.Error)
		}
		switch v {
		case string(mtu.VerdictBlackhole):
			if bracketString(res.Bracket) != "[1400, 1401]" || r.exit != 2 {
				t.Errorf("run %d mtu(%s): pmtu-blackhole %s, exit %d; want [1400, 1401], 2", i+1, r.in, bracketString(res.Bracket), r.exit)
			}
		case "inconclusive":
			f, ok := pathFinding(rep.Findings, dnscheck.CodeMTUInconclusive)
			if !ok || !strings.Contains(f.Message, "%") || !strings.Contains(f.Message, "Retry") || r.exit != 1 {
				t.Errorf("run %d mtu(%s): inconclusive, exit %d, finding %+v; want exit 1 and mtu-inconclusive with the loss and a retry hint\noutcome %s, reverse verdict %s, findings %+v", i+1, r.in, r.exit, f, res.Outcome, revVerdict(res), rep.Findings)
			}
		default:
			t.Errorf("run %d mtu(%s): verdict %q (%s), want pmtu-blackhole or inconclusive\nprobes: %s", i+1, r.in, v, res.Error, probeSummary(res))
		}
		if strings.TrimSpace(r.stderr) != "" {
			t.Errorf("run %d mtu(%s): stderr %q off a terminal, want nothing", i+1, r.in, r.stderr)
		}
		t.Logf("run %d mtu(%s): %v, verdict %s %s, reverse %v, loss %s %%", i+1, r.in, r.elapsed.Round(time.Millisecond), v, bracketString(res.Bracket), res.Reverse, floatp(res.LossPct))
	}
}

// revVerdict is the reverse direction's verdict, for failure messages.
func revVerdict(res mtuResult) string {
	if res.Reverse == nil || res.Reverse.Verdict == nil {
		return "(none)"
	}
	return *res.Reverse.Verdict
}
