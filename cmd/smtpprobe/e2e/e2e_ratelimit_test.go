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
var dropCodes = []string{"syn-dropped-after-hop", "port25-filtered-at-hop"}

// TestE2EICMPRateLimit: sessions in a row to the server's rejecting
// addresses. Every one is unreachable with the ICMP finding of what the
// connect received, and none carries a drop finding from its follow-up
// sweep (issue 17, item 5: before, every second session did). Then `path`,
// which paces its retries, still finds the rejection.
func TestE2EICMPRateLimit(t *testing.T) {
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
				target, icmp := fam.prohibited, "icmp-admin-prohibited"
				if i%2 == 1 {
					target, icmp = fam.hostReject, "icmp-host-unreachable"
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
					if !slices.Contains(codes, "icmp-rate-limited") {
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
