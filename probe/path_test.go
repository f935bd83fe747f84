package probe

import (
	"context"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// fakeNet answers sweeps as a path of two routers and a target, per port.
type fakeNet struct {
	routers  []netip.Addr
	ends     map[uint16]trace.Reply // per destination port; Kind Silent: dropped at the target
	rejectAt int                    // TTL from which a router rejects port 25 (0: none)
}

func (f fakeNet) probe(ctx context.Context, dst netip.AddrPort, ttl int, sent func()) trace.Reply {
	sent()
	if f.rejectAt > 0 && dst.Port() == 25 && ttl >= f.rejectAt {
		return trace.Reply{Kind: trace.Unreachable, From: f.routers[f.rejectAt-2], Type: 3, Code: 13, RTT: time.Millisecond}
	}
	if ttl <= len(f.routers) {
		return trace.Reply{Kind: trace.TimeExceeded, From: f.routers[ttl-1], Type: 11, RTT: time.Millisecond}
	}
	end := f.ends[dst.Port()]
	if end.Kind == trace.Silent {
		<-ctx.Done()
		return end
	}
	end.RTT = time.Millisecond
	return end
}

func withTracer(t *testing.T, f trace.ProbeFunc) {
	old := tracer
	tracer = f
	t.Cleanup(func() { tracer = old })
}

func TestPathFindings(t *testing.T) {
	r1, r2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	dst := netip.MustParseAddr("192.0.2.25")
	tests := []struct {
		name        string
		net         fakeNet
		wantOutcome Outcome
		wantCodes   []string
		wantText    []string // substrings of the findings' messages
		wantHops    int
	}{
		{
			name:        "dropped at the destination, 587 answers",
			net:         fakeNet{routers: []netip.Addr{r1, r2}, ends: map[uint16]trace.Reply{587: {Kind: trace.Reset, From: dst}}},
			wantOutcome: ConnectTimeout,
			wantCodes:   []string{dnscheck.CodeSYNDroppedAfterHop, dnscheck.CodePort25FilteredAtHop},
			wantText:    []string{"after hop 2 (192.0.2.2)", "3 hops away", "at the destination", "its firewall"},
			wantHops:    3,
		},
		{
			name:        "dropped on a dead path",
			net:         fakeNet{routers: []netip.Addr{r1, r2}},
			wantOutcome: ConnectTimeout,
			wantCodes:   []string{dnscheck.CodeSYNDroppedAfterHop},
			wantText:    []string{"after hop 2 (192.0.2.2)", "port 587 got no answer from it either"},
			wantHops:    3,
		},
		{
			name:        "dropped right after us",
			net:         fakeNet{routers: []netip.Addr{r1}},
			wantOutcome: ConnectTimeout,
			wantCodes:   []string{dnscheck.CodeSYNDroppedAfterHop},
			wantText:    []string{"after hop 1 (192.0.2.1)"},
		},
		{
			name:        "admin-prohibited at router 2",
			net:         fakeNet{routers: []netip.Addr{r1, r2}, rejectAt: 3},
			wantOutcome: Unreachable,
			wantCodes:   []string{dnscheck.CodeICMPAdminProhibited},
			wantText:    []string{"hop 2 (192.0.2.2)", "administratively prohibited (type 3 code 13)", "reject rule for port 25 at 192.0.2.2"},
			wantHops:    3,
		},
		{
			name:        "open",
			net:         fakeNet{routers: []netip.Addr{r1, r2}, ends: map[uint16]trace.Reply{25: {Kind: trace.SynAck, From: dst}}},
			wantOutcome: OK,
			wantHops:    3,
		},
		{
			name:        "closed",
			net:         fakeNet{routers: []netip.Addr{r1, r2}, ends: map[uint16]trace.Reply{25: {Kind: trace.Reset, From: dst}}},
			wantOutcome: Refused,
			wantHops:    3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withTracer(t, tt.net.probe)
			p := &Prober{}
			opt := PathOptions{}
			opt.Wait, opt.MinWait, opt.Spacing = 200*time.Millisecond, 20*time.Millisecond, time.Millisecond
			r, _ := p.Path(context.Background(), Target{Host: dst.String(), Addr: netip.AddrPortFrom(dst, 25), Preference: -1}, opt)
			if r.Outcome != tt.wantOutcome {
				t.Errorf("Path() outcome = %s (%s), want %s", r.Outcome, r.Error, tt.wantOutcome)
			}
			var codes []string
			var text string
			for _, f := range r.Findings {
				codes = append(codes, f.Code)
				text += f.Message + "\n"
				if strings.Contains(f.Message, "--") {
					t.Errorf("finding %s names a flag: %q", f.Code, f.Message)
				}
			}
			if strings.Join(codes, ",") != strings.Join(tt.wantCodes, ",") {
				t.Errorf("Path() findings = %q, want %q\n%s", codes, tt.wantCodes, text)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(text, w) {
					t.Errorf("Path() findings = %q, want them to say %q", text, w)
				}
			}
			if tt.wantHops > 0 && len(r.Hops) != tt.wantHops {
				t.Errorf("Path() hops = %+v, want %d", r.Hops, tt.wantHops)
			}
			if r.PathEnd == nil {
				t.Fatalf("Path().PathEnd = nil")
			}
		})
	}
}

// TestLocateHook: a connect-timeout from begin gets the sweep's hops and
// findings; a refused connect gets none (the RST already says where).
func TestLocateHook(t *testing.T) {
	r1 := netip.MustParseAddr("192.0.2.1")
	withTracer(t, fakeNet{routers: []netip.Addr{r1}}.probe)
	dst := netip.MustParseAddrPort("192.0.2.25:25")
	tg := Target{Host: "192.0.2.25", Addr: dst, Preference: -1}
	p := &Prober{}
	r := newResult(tg)
	p.locate(context.Background(), tg, &r, &wire.DialError{Kind: wire.DialTimeout})
	if len(r.Hops) == 0 || r.PathEnd == nil || r.PathEnd.LastAddress != "192.0.2.1" || len(r.Findings) == 0 || r.Findings[0].Code != dnscheck.CodeSYNDroppedAfterHop {
		t.Errorf("locate(connect-timeout) = hops %+v, end %+v, findings %+v; want the sweep and syn-dropped-after-hop after 192.0.2.1", r.Hops, r.PathEnd, r.Findings)
	}
	r = newResult(tg)
	p.locate(context.Background(), tg, &r, &wire.DialError{Kind: wire.DialRefused})
	if len(r.Hops) != 0 || len(r.Findings) != 0 {
		t.Errorf("locate(refused) = hops %+v, findings %+v; want none", r.Hops, r.Findings)
	}
	r = newResult(tg)
	p.locate(context.Background(), tg, &r, &wire.DialError{Kind: wire.DialUnreachable, Err: &wire.PolicyError{Addr: dst}})
	if len(r.Hops) != 0 {
		t.Errorf("locate(policy refusal) swept %+v; want no packet at all", r.Hops)
	}
}

// TestLocateBlackholeNoRaw: without a raw ICMP socket, a black-hole
// verdict gets a finding that says the link was not located and why, and
// nothing is sent.
func TestLocateBlackholeNoRaw(t *testing.T) {
	old := rawICMP
	rawICMP = func(bool) (*trace.ICMPReader, error) {
		return nil, &trace.RawSocketError{Err: syscall.EPERM}
	}
	t.Cleanup(func() { rawICMP = old })
	withTracer(t, func(context.Context, netip.AddrPort, int, func()) trace.Reply {
		t.Errorf("a probe was sent without the raw socket")
		return trace.Reply{}
	})
	tg := Target{Host: "192.0.2.25", Addr: netip.MustParseAddrPort("192.0.2.25:25"), Preference: -1}
	r := newResult(tg)
	r.MTUInfo = &MTUInfo{Verdict: mtu.VerdictBlackhole, Bracket: [2]*int{ptr(1400), ptr(1401)}}
	(&Prober{}).locateBlackhole(context.Background(), tg, &r, false)
	if r.BlackholeLink == nil || r.BlackholeLink.Located || !strings.Contains(r.BlackholeLink.Reason, "CAP_NET_RAW") {
		t.Errorf("locateBlackhole(no raw socket).BlackholeLink = %+v, want not located, naming CAP_NET_RAW", r.BlackholeLink)
	}
	if len(r.Findings) != 1 || r.Findings[0].Code != dnscheck.CodeBlackholeLinkNotLocated || !strings.Contains(r.Findings[0].Message, "not located") {
		t.Errorf("locateBlackhole(no raw socket) findings = %+v, want one blackhole-link-not-located", r.Findings)
	}
	r = newResult(tg)
	r.MTUInfo = &MTUInfo{Verdict: mtu.VerdictNoBottleneck}
	(&Prober{}).locateBlackhole(context.Background(), tg, &r, false)
	if r.BlackholeLink != nil || len(r.Findings) != 0 {
		t.Errorf("locateBlackhole(no-bottleneck) = %+v, %+v; want nothing", r.BlackholeLink, r.Findings)
	}
}

// TestLocateSkipsLocalErrors: a failure of this host's own socket layer
// says nothing about the path; no sweep follows it.
func TestLocateSkipsLocalErrors(t *testing.T) {
	withTracer(t, func(context.Context, netip.AddrPort, int, func()) trace.Reply {
		t.Errorf("a probe was sent after a local socket error")
		return trace.Reply{}
	})
	tg := Target{Host: "192.0.2.25", Addr: netip.MustParseAddrPort("192.0.2.25:25"), Preference: -1}
	r := newResult(tg)
	(&Prober{}).locate(context.Background(), tg, &r, &wire.LocalError{Op: "socket", Err: syscall.EMFILE})
	if len(r.Hops) != 0 || len(r.Findings) != 0 {
		t.Errorf("locate(local error) = hops %+v, findings %+v; want none", r.Hops, r.Findings)
	}
}

// TestPathJSON: a result's hops, path_end and blackhole_link survive the
// JSON round trip (a saved baseline reads them back).
func TestPathJSON(t *testing.T) {
	r := Result{Host: "192.0.2.25", Address: "192.0.2.25", Port: 25, Outcome: ConnectTimeout,
		Hops:          []trace.HopReport{{TTL: 1, Address: "192.0.2.1", Answer: "time-exceeded", ICMP: "time-exceeded", Type: ptr(uint8(11)), Code: ptr(uint8(0)), RTTMS: 0.5, Probes: 1}},
		PathEnd:       &trace.PathEnd{Answer: "silent", LastTTL: 1, LastAddress: "192.0.2.1", Probes: 9},
		BlackholeLink: &trace.BlackholeLink{Located: true, NearTTL: 1, Near: "192.0.2.1", FarTTL: 2, Far: "192.0.2.2", Size: 1500}}
	b, err := json.Marshal(r)
	if err != nil || !strings.Contains(string(b), `"hops":[{"ttl":1,"address":"192.0.2.1"`) || !strings.Contains(string(b), `"path_end":{"answer":"silent"`) {
		t.Fatalf("json.Marshal(result with hops) = %s, %v; want hops and path_end", b, err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back.Hops, r.Hops) || *back.PathEnd != *r.PathEnd || *back.BlackholeLink != *r.BlackholeLink {
		t.Errorf("json round trip = %+v, %+v, %+v (%v); want %+v, %+v, %+v", back.Hops, back.PathEnd, back.BlackholeLink, err, r.Hops, r.PathEnd, r.BlackholeLink)
	}
}

// TestLocateHeedsConnectICMP: a connect that got ICMP from the target,
// whose follow-up sweep meets silence there (the target's ICMP rate
// limit), keeps the connect's answer: the ICMP finding and a rate-limit
// note, never a drop finding beside an unreachable outcome (issue 17).
func TestLocateHeedsConnectICMP(t *testing.T) {
	r1, r2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	dst := netip.MustParseAddrPort("192.0.2.25:25")
	// port 25 silent at the target (rate-limited), 587 answers RST there
	withTracer(t, fakeNet{routers: []netip.Addr{r1, r2}, ends: map[uint16]trace.Reply{587: {Kind: trace.Reset, From: dst.Addr()}}}.probe)
	tg := Target{Host: "192.0.2.25", Addr: dst, Preference: -1}
	r := newResult(tg)
	icmp := &trace.Reply{Kind: trace.Unreachable, From: dst.Addr(), Type: 3, Code: 1}
	(&Prober{}).locate(context.Background(), tg, &r, &wire.DialError{Kind: wire.DialUnreachable, ICMP: icmp})
	var codes []string
	for _, f := range r.Findings {
		codes = append(codes, f.Code)
	}
	if want := "icmp-host-unreachable,icmp-rate-limited"; strings.Join(codes, ",") != want {
		t.Errorf("locate(unreachable, sweep silent at the target) findings = %q, want %q", codes, want)
	}
	if e := r.PathEnd; e == nil || e.Answer != "unreachable" || !e.RateLimited || e.Address != "192.0.2.25" || e.TTL != 3 {
		t.Errorf("locate(unreachable, sweep silent at the target) end = %+v, want unreachable from 192.0.2.25 at hop 3, rate_limited", e)
	}
	if n := len(r.Hops); n != 3 || r.Hops[2].Answer != "rate-limited" {
		t.Errorf("locate(unreachable, sweep silent at the target) hops = %+v, want 3, the last rate-limited", r.Hops)
	}
}
