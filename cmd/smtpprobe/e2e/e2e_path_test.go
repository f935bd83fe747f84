package e2e

// End-to-end tests of `smtpprobe path` and of the path findings in the other
// commands (issue 13): the real binary in the lab's client namespace. The
// lab's hops are r1 (198.18.1.1, 2001:db8:1::1), r2 (198.18.2.2,
// 2001:db8:2::2) and the server; lab.sh's header lists the rejecting
// addresses.

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
)

const (
	labR1v4 = "198.18.1.1"
	labR1v6 = "2001:db8:1::1"
	labR2v4 = "198.18.2.2"
	labR2v6 = "2001:db8:2::2"

	labProhibitedv4  = "198.18.3.21" // the server rejects tcp/25: admin-prohibited
	labProhibitedv6  = "2001:db8:3::21"
	labFilteredv4    = "198.18.3.22" // r2 rejects tcp/25: admin-prohibited
	labFilteredv6    = "2001:db8:3::22"
	labHostUnreachv4 = "198.18.3.23" // r2 rejects tcp/25: host-unreachable
	labHostUnreachv6 = "2001:db8:3::23"
	labNetUnreachv4  = "198.18.3.24" // r2 rejects tcp/25: no-route
	labNetUnreachv6  = "2001:db8:3::24"
)

type pathReport struct {
	Command  string       `json:"command"`
	Outcome  string       `json:"outcome"`
	Results  []pathResult `json:"results"`
	Findings []mxFinding  `json:"findings"`
}

type pathResult struct {
	Address string    `json:"address"`
	Outcome string    `json:"outcome"`
	Error   string    `json:"error"`
	Hops    []pathHop `json:"hops"`
	PathEnd *struct {
		Answer        string  `json:"answer"`
		TTL           int     `json:"ttl"`
		HopTTL        int     `json:"hop_ttl"`
		Address       string  `json:"address"`
		ICMP          string  `json:"icmp"`
		LastTTL       int     `json:"last_ttl"`
		LastAddress   string  `json:"last_address"`
		Probes        int     `json:"probes"`
		ElapsedMS     float64 `json:"elapsed_ms"`
		ComparePort   int     `json:"compare_port"`
		CompareAnswer string  `json:"compare_answer"`
		CompareTTL    int     `json:"compare_ttl"`
	} `json:"path_end"`
	Verdict *string `json:"verdict"`
}

type pathHop struct {
	TTL     int    `json:"ttl"`
	Address string `json:"address"`
	Answer  string `json:"answer"`
	ICMP    string `json:"icmp"`
	Type    *int   `json:"icmp_type"`
	Code    *int   `json:"icmp_code"`
	Probes  int    `json:"probes"`
}

// runJSON runs the binary in the lab's client namespace with --json and
// decodes its report.
func runJSON(t *testing.T, l *Lab, ctx context.Context, args ...string) (pathReport, int, time.Duration) {
	t.Helper()
	bin := smtpprobeBinary(t)
	start := time.Now()
	stdout, stderr, exit := l.Exec(t, ctx, bin, append(args, "--json")...)
	el := time.Since(start)
	var rep pathReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("smtpprobe %s --json: exit %d, not JSON: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), exit, err, stdout, stderr)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("smtpprobe %s: %d results, want 1\n%s", strings.Join(args, " "), len(rep.Results), stdout)
	}
	return rep, exit, el
}

func hopAddrs(hs []pathHop) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Address+" "+h.Answer)
	}
	return out
}

func pathCodes(fs []mxFinding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func pathFinding(fs []mxFinding, code string) (mxFinding, bool) {
	for _, f := range fs {
		if f.Code == code {
			return f, true
		}
	}
	return mxFinding{}, false
}

// TestE2EPath: `smtpprobe path` against each kind of stop, over IPv4 and
// IPv6: the hop addresses, the answer that ended the SYNs, the findings and
// the exit code.
func TestE2EPath(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	type fam struct{ r1, r2, mx1, dropped, prohibited, filtered, hostUnreach, netUnreach, noRoute string }
	fams := map[string]fam{
		"v4": {labR1v4, labR2v4, labMX1v4, labDroppedv4, labProhibitedv4, labFilteredv4, labHostUnreachv4, labNetUnreachv4, labNoRoutev4},
		"v6": {labR1v6, labR2v6, labMX1v6, labDroppedv6, labProhibitedv6, labFilteredv6, labHostUnreachv6, labNetUnreachv6, labNoRoutev6},
	}
	for name, f := range fams {
		tests := []struct {
			name        string
			target      string
			wantExit    int
			wantOutcome string
			wantHops    []string
			wantEnd     string // path_end.answer
			wantEndAddr string
			wantHopTTL  int
			wantICMP    string
			wantCodes   []string
			wantText    []string
			maxWall     time.Duration
		}{
			{"open", f.mx1, 0, "ok", []string{f.r1 + " time-exceeded", f.r2 + " time-exceeded", f.mx1 + " syn-ack"},
				"syn-ack", f.mx1, 3, "", nil, nil, time.Second},
			{"dropped", f.dropped, 2, "connect-timeout", []string{f.r1 + " time-exceeded", f.r2 + " time-exceeded", " silent"},
				"silent", "", 0, "", []string{dnscheck.CodeSYNDroppedAfterHop, dnscheck.CodePort25FilteredAtHop},
				[]string{"after hop 2 (" + f.r2 + ")", "3 hops away", "at the destination"}, 2500 * time.Millisecond}, // one retry paced by an ICMP token (issue 17)
			{"prohibited at the server", f.prohibited, 2, "unreachable", []string{f.r1 + " time-exceeded", f.r2 + " time-exceeded", f.prohibited + " unreachable"},
				"unreachable", f.prohibited, 3, "admin-prohibited", []string{dnscheck.CodeICMPAdminProhibited},
				[]string{"by the destination itself, hop 3 (" + f.prohibited + ")", "reject rule"}, time.Second},
			{"prohibited at r2", f.filtered, 2, "unreachable", []string{f.r1 + " time-exceeded", f.r2 + " time-exceeded", f.r2 + " unreachable"},
				"unreachable", f.r2, 2, "admin-prohibited", []string{dnscheck.CodeICMPAdminProhibited},
				[]string{"at hop 2 (" + f.r2 + ")", "reject rule for port 25 at " + f.r2}, time.Second},
			{"host-unreachable at r2", f.hostUnreach, 2, "unreachable", nil,
				"unreachable", f.r2, 2, "host-unreachable", []string{dnscheck.CodeICMPHostUnreachable}, []string{"hop 2 (" + f.r2 + ")"}, time.Second},
			{"net-unreachable at r2", f.netUnreach, 2, "unreachable", nil,
				"unreachable", f.r2, 2, "net-unreachable", []string{dnscheck.CodeICMPNetUnreachable}, []string{"hop 2 (" + f.r2 + ")"}, time.Second},
			{"no route at r1", f.noRoute, 2, "unreachable", []string{f.r1 + " unreachable"},
				"unreachable", f.r1, 1, "net-unreachable", []string{dnscheck.CodeICMPNetUnreachable}, []string{"hop 1 (" + f.r1 + ")", "near us"}, 3 * time.Second},
		}
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				rep, exit, wall := runJSON(t, l, ctx, "path", tt.target)
				r := rep.Results[0]
				if exit != tt.wantExit || rep.Outcome != tt.wantOutcome || r.Outcome != tt.wantOutcome {
					t.Errorf("path %s: exit %d, outcome %s (result %s: %s), want exit %d, %s", tt.target, exit, rep.Outcome, r.Outcome, r.Error, tt.wantExit, tt.wantOutcome)
				}
				if tt.wantHops != nil && strings.Join(hopAddrs(r.Hops), ",") != strings.Join(tt.wantHops, ",") {
					t.Errorf("path %s: hops %q, want %q", tt.target, hopAddrs(r.Hops), tt.wantHops)
				}
				e := r.PathEnd
				if e == nil {
					t.Fatalf("path %s: no path_end", tt.target)
				}
				if e.Answer != tt.wantEnd || e.Address != tt.wantEndAddr || (tt.wantHopTTL > 0 && e.HopTTL != tt.wantHopTTL) || e.ICMP != tt.wantICMP {
					t.Errorf("path %s: path_end %+v, want answer %s from %q (hop %d), icmp %q", tt.target, *e, tt.wantEnd, tt.wantEndAddr, tt.wantHopTTL, tt.wantICMP)
				}
				if tt.wantEnd == "silent" && (e.LastTTL != 2 || e.LastAddress != f.r2 || e.CompareAnswer != "rst" || e.CompareTTL != 3) {
					t.Errorf("path %s: path_end %+v, want silent after hop 2 (%s) and the compare port answering rst at hop 3", tt.target, *e, f.r2)
				}
				if strings.Join(pathCodes(rep.Findings), ",") != strings.Join(tt.wantCodes, ",") {
					t.Errorf("path %s: findings %q, want %q\n%+v", tt.target, pathCodes(rep.Findings), tt.wantCodes, rep.Findings)
				}
				var text string
				for _, fd := range rep.Findings {
					text += fd.Message + "\n"
				}
				for _, w := range tt.wantText {
					if !strings.Contains(text, w) {
						t.Errorf("path %s: findings %q, want them to say %q", tt.target, text, w)
					}
				}
				if wall > tt.maxWall {
					t.Errorf("path %s took %v, want at most %v", tt.target, wall, tt.maxWall)
				}
			})
		}
	}

	t.Run("text", func(t *testing.T) {
		stdout, stderr, exit := l.Exec(t, ctx, smtpprobeBinary(t), "path", labFilteredv4)
		if exit != 2 || !strings.Contains(stdout, "hop  address") || !strings.Contains(stdout, "admin-prohibited 3/13") ||
			!strings.Contains(stdout, "SYNs stop: ICMP admin-prohibited (3/13) from hop 2 ("+labR2v4+")") {
			t.Errorf("path %s (text): exit %d, want 2 and a hop table ending in admin-prohibited from hop 2\n%s\n%s", labFilteredv4, exit, stdout, stderr)
		}
	})
}

// TestE2EPathVerdicts: the other commands add the sweep's findings to a
// connect-timeout and an unreachable, and name the ICMP error and its hop
// instead of an errno.
func TestE2EPathVerdicts(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, f := range []struct{ r2, dropped, prohibited, filtered string }{
		{labR2v4, labDroppedv4, labProhibitedv4, labFilteredv4},
		{labR2v6, labDroppedv6, labProhibitedv6, labFilteredv6},
	} {
		t.Run("session connect-timeout "+f.dropped, func(t *testing.T) {
			rep, exit, wall := runJSON(t, l, ctx, "session", f.dropped, "--connect-timeout", "1s")
			r := rep.Results[0]
			if exit != 2 || r.Outcome != "connect-timeout" {
				t.Errorf("session %s: exit %d, outcome %s, want 2, connect-timeout", f.dropped, exit, r.Outcome)
			}
			fd, ok := pathFinding(rep.Findings, dnscheck.CodeSYNDroppedAfterHop)
			if !ok || !strings.Contains(fd.Message, "after hop 2 ("+f.r2+")") || !strings.Contains(fd.Message, "3 hops away") {
				t.Errorf("session %s: findings %+v, want syn-dropped-after-hop naming hop 2 (%s) and the distance", f.dropped, rep.Findings, f.r2)
			}
			if _, ok := pathFinding(rep.Findings, dnscheck.CodePort25FilteredAtHop); !ok {
				t.Errorf("session %s: findings %q, want port25-filtered-at-hop", f.dropped, pathCodes(rep.Findings))
			}
			if len(r.Hops) != 3 {
				t.Errorf("session %s: hops %q, want 3", f.dropped, hopAddrs(r.Hops))
			}
			// 1 s connect limit, then the sweep (bounded to 2 s).
			if wall > 1*time.Second+2500*time.Millisecond {
				t.Errorf("session %s took %v, want at most the connect limit plus about 2 s", f.dropped, wall)
			}
		})
		for _, tgt := range []struct{ addr, from string }{{f.prohibited, f.prohibited}, {f.filtered, f.r2}} {
			t.Run("mx-style unreachable "+tgt.addr, func(t *testing.T) {
				rep, exit, _ := runJSON(t, l, ctx, "session", tgt.addr)
				r := rep.Results[0]
				if exit != 2 || r.Outcome != "unreachable" {
					t.Errorf("session %s: exit %d, outcome %s, want 2, unreachable", tgt.addr, exit, r.Outcome)
				}
				if !strings.Contains(r.Error, "administratively prohibited") || !strings.Contains(r.Error, "from "+tgt.from) ||
					strings.Contains(r.Error, "no route to host") || strings.Contains(r.Error, "permission denied") {
					t.Errorf("session %s: error %q, want the ICMP error and its sender %s, not an errno", tgt.addr, r.Error, tgt.from)
				}
				fd, ok := pathFinding(rep.Findings, dnscheck.CodeICMPAdminProhibited)
				if !ok || !strings.Contains(fd.Message, tgt.from) {
					t.Errorf("session %s: findings %+v, want icmp-admin-prohibited naming %s", tgt.addr, rep.Findings, tgt.from)
				}
			})
		}
	}
}

type blackholeReport struct {
	Outcome string `json:"outcome"`
	Results []struct {
		Address       string    `json:"address"`
		Verdict       *string   `json:"verdict"`
		Hops          []pathHop `json:"hops"`
		BlackholeLink *struct {
			Located bool   `json:"located"`
			Reason  string `json:"reason"`
			NearTTL int    `json:"near_ttl"`
			Near    string `json:"near"`
			FarTTL  int    `json:"far_ttl"`
			Far     string `json:"far"`
			Size    int    `json:"size"`
		} `json:"blackhole_link"`
	} `json:"results"`
	Findings []mxFinding `json:"findings"`
}

// TestE2EPathBlackhole: with r1 dropping frag-needed / packet-too-big, mtu's
// pmtu-blackhole verdict names the black-holed link r1–r2 (both hops), over
// IPv4 and IPv6; without CAP_NET_RAW it says the link was not located and
// why.
func TestE2EPathBlackhole(t *testing.T) {
	t.Parallel()
	l := startLab(t, "--icmp", "drop")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := smtpprobeBinary(t)
	run := func(t *testing.T, prefix []string, addr string) blackholeReport {
		t.Helper()
		l.FlushPMTU(t)
		args := append(prefix, bin, "mtu", addr, "--direction", "out", "--json")
		stdout, stderr, exit := l.Exec(t, ctx, args[0], args[1:]...)
		var rep blackholeReport
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Results) != 1 {
			t.Fatalf("%s: exit %d, not one JSON result: %v\n%s\n%s", strings.Join(args, " "), exit, err, stdout, stderr)
		}
		if exit != 2 || rep.Outcome != string(probe.PMTUBlackhole) {
			t.Errorf("mtu %s: exit %d, outcome %s, want 2, pmtu-blackhole", addr, exit, rep.Outcome)
		}
		return rep
	}
	for _, f := range []struct{ mx1, r1, r2 string }{{labMX1v4, labR1v4, labR2v4}, {labMX1v6, labR1v6, labR2v6}} {
		t.Run("located "+f.mx1, func(t *testing.T) {
			rep := run(t, nil, f.mx1)
			bl := rep.Results[0].BlackholeLink
			if bl == nil || !bl.Located || bl.NearTTL != 1 || bl.Near != f.r1 || bl.FarTTL != 2 || bl.Far != f.r2 || bl.Size <= l.MTU {
				t.Fatalf("mtu %s: blackhole_link %+v, want located between hop 1 (%s) and hop 2 (%s) with a quoted size above %d", f.mx1, bl, f.r1, f.r2, l.MTU)
			}
			fd, ok := pathFinding(rep.Findings, dnscheck.CodeBlackholeLink)
			if !ok || !strings.Contains(fd.Message, "between hop 1 ("+f.r1+") and hop 2 ("+f.r2+")") {
				t.Errorf("mtu %s: findings %+v, want blackhole-link naming both hops", f.mx1, rep.Findings)
			}
		})
		t.Run("no CAP_NET_RAW "+f.mx1, func(t *testing.T) {
			if _, err := exec.LookPath("setpriv"); err != nil {
				if inCI() {
					t.Fatalf("setpriv not installed: %v", err)
				}
				t.Skipf("setpriv not installed: %v", err)
			}
			rep := run(t, []string{"setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw"}, f.mx1)
			bl := rep.Results[0].BlackholeLink
			if bl == nil || bl.Located || !strings.Contains(bl.Reason, "CAP_NET_RAW") {
				t.Errorf("mtu %s without CAP_NET_RAW: blackhole_link %+v, want not located, naming CAP_NET_RAW", f.mx1, bl)
			}
			fd, ok := pathFinding(rep.Findings, dnscheck.CodeBlackholeLinkNotLocated)
			if !ok || !strings.Contains(fd.Message, "not located") || !strings.Contains(fd.Message, "CAP_NET_RAW") {
				t.Errorf("mtu %s without CAP_NET_RAW: findings %+v, want blackhole-link-not-located saying why", f.mx1, rep.Findings)
			}
			if _, ok := pathFinding(rep.Findings, dnscheck.CodeBlackholeLink); ok {
				t.Errorf("mtu %s without CAP_NET_RAW: a blackhole-link finding, want none", f.mx1)
			}
		})
	}
}
