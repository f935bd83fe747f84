package trace

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
)

// TestReport: a sweep's JSON model, its one-line stop and its findings,
// for each way SYNs stop, without a network.
func TestReport(t *testing.T) {
	r1, r2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	dst := netip.MustParseAddr("192.0.2.25")
	target := netip.AddrPortFrom(dst, 25)
	hops := []Hop{{TTL: 1, Addr: r1, Kind: TimeExceeded, Type: 11, RTT: time.Millisecond, Sent: 1},
		{TTL: 2, Addr: r2, Kind: TimeExceeded, Type: 11, RTT: 3 * time.Millisecond, Sent: 2, Unanswered: 1}}
	silent := &Path{Target: target, Hops: append(hops, Hop{TTL: 3, Kind: Silent, Sent: 3}), Stop: Stop{Kind: Silent, LastTTL: 2, LastAddr: r2}, Probes: 6}
	cmp := &Path{Target: netip.AddrPortFrom(dst, 587), Hops: hops, Stop: Stop{Kind: Reset, TTL: 3, From: dst}, Probes: 3}
	for _, tc := range []struct {
		name      string
		path, cmp *Path
		stop      string   // StopText
		codes     []string // Findings
		text      []string // in the findings' messages
		end       string   // Summarize's PathEnd, as JSON
	}{
		{"dropped at the destination, 587 answers", silent, cmp, "SYNs to port 25 dropped after hop 2 (192.0.2.2): no answer from hop 3 on",
			[]string{dnscheck.CodeSYNDroppedAfterHop, dnscheck.CodePort25FilteredAtHop}, []string{"mx [192.0.2.25]: SYNs to port 25", "3 hops away", "its firewall"},
			`{"answer":"silent","last_ttl":2,"last_address":"192.0.2.2","probes":6,"elapsed_ms":0,"compare_port":587,"compare_answer":"rst","compare_ttl":3,"compare_probes":3}`},
		{"dropped after us, dead path", &Path{Target: target, Stop: Stop{Kind: Silent}}, nil, "no answer from any hop to SYNs to port 25",
			[]string{dnscheck.CodeSYNDroppedAfterHop}, []string{"not even the first router", "near us"},
			`{"answer":"silent","last_ttl":0,"probes":0,"elapsed_ms":0}`},
		{"admin-prohibited at hop 2", &Path{Target: target, Hops: hops[:1], Stop: Stop{Kind: Unreachable, TTL: 2, From: r2, Type: 3, Code: 13, LastTTL: 1, LastAddr: r1}}, nil,
			"ICMP administratively prohibited (type 3 code 13) from hop 2 (192.0.2.2)",
			[]string{dnscheck.CodeICMPAdminProhibited}, []string{"a firewall rejects them; look for a reject rule for port 25 at 192.0.2.2"},
			`{"answer":"unreachable","ttl":2,"hop_ttl":2,"address":"192.0.2.2","icmp":"admin-prohibited","icmp_type":3,"icmp_code":13,"last_ttl":1,"last_address":"192.0.2.1","probes":0,"elapsed_ms":0}`},
		{"no local route", &Path{Target: target, Stop: Stop{Kind: LocalError}}, nil, "the SYN could not leave this host: no route to it here",
			[]string{dnscheck.CodeNoLocalRoute}, []string{"check the local firewall and routes"}, `{"answer":"local-error","last_ttl":0,"probes":0,"elapsed_ms":0}`},
		{"reached", &Path{Target: target, Hops: hops, Stop: Stop{Kind: SynAck, TTL: 3, From: dst}}, nil, "SYN-ACK from 192.0.2.25 at hop 3", nil, nil,
			`{"answer":"syn-ack","ttl":3,"hop_ttl":3,"address":"192.0.2.25","last_ttl":0,"probes":0,"elapsed_ms":0}`},
	} {
		if got := StopText(tc.path); got != tc.stop {
			t.Errorf("%s: StopText = %q, want %q", tc.name, got, tc.stop)
		}
		var codes []string
		var msgs string
		for _, f := range Findings(tc.path, tc.cmp, "mx [192.0.2.25]") {
			codes, msgs = append(codes, f.Code), msgs+f.Message+"\n"
		}
		if strings.Join(codes, " ") != strings.Join(tc.codes, " ") {
			t.Errorf("%s: Findings = %v, want %v", tc.name, codes, tc.codes)
		}
		for _, w := range tc.text {
			if !strings.Contains(msgs, w) {
				t.Errorf("%s: findings %q lack %q", tc.name, msgs, w)
			}
		}
		hs, end := Summarize(tc.path, tc.cmp)
		if b, _ := json.Marshal(end); string(b) != tc.end {
			t.Errorf("%s: Summarize end = %s, want %s", tc.name, b, tc.end)
		}
		if len(hs) != len(tc.path.Hops) {
			t.Errorf("%s: Summarize hops = %d, want %d", tc.name, len(hs), len(tc.path.Hops))
		}
	}
	hs, _ := Summarize(silent, nil)
	if b, _ := json.Marshal(hs); string(b) != `[{"ttl":1,"address":"192.0.2.1","answer":"time-exceeded","icmp":"time-exceeded","icmp_type":11,"icmp_code":0,"rtt_ms":1,"probes":1},`+
		`{"ttl":2,"address":"192.0.2.2","answer":"time-exceeded","icmp":"time-exceeded","icmp_type":11,"icmp_code":0,"rtt_ms":3,"probes":2,"unanswered":1},{"ttl":3,"answer":"silent","probes":3}]` {
		t.Errorf("Summarize hops = %s", b)
	}
	if d := silent.SlowestRTT(); d != 3*time.Millisecond {
		t.Errorf("SlowestRTT = %s, want 3ms", d)
	}
}
