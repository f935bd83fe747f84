package render_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
)

// The key shares and a stalled hello's retries, in text ("hello:") and
// JSON (tls.key_share, tls.hello_stall), for the three cases of issue 18
// item 5.
func TestHelloOutput(t *testing.T) {
	stalled := probe.HelloAttempt{Kind: "whole", KeyShare: []string{"X25519MLKEM768", "x25519"}, Bytes: 1511, Writes: []int{1511}, Segments: 2, Error: "stalled"}
	for _, tc := range []struct {
		name    string
		outcome probe.Outcome
		tls     probe.TLSInfo
		text    []string
	}{
		{"clean", probe.OK,
			probe.TLSInfo{Version: "TLS 1.3", KeyShare: []string{"X25519MLKEM768", "x25519"}, HelloBytes: 1511, Group: "X25519MLKEM768"},
			[]string{"hello:  key share X25519MLKEM768, x25519 (ClientHello 1511 bytes), negotiated X25519MLKEM768\n"}},
		{"middlebox", probe.TLSMiddlebox,
			probe.TLSInfo{Version: "TLS 1.3", KeyShare: []string{"x25519"}, HelloBytes: 283, Group: "x25519", HelloStall: &probe.HelloStall{
				Hello: stalled, LostPacket: 1500, FullSegment: &probe.SegmentCheck{Packet: 1500, Segments: 2, Passed: true},
				Retry: &probe.HelloAttempt{Kind: "classical", KeyShare: []string{"x25519"}, Bytes: 283, Writes: []int{283}, Segments: 1, Passed: true}, Verdict: probe.TLSMiddlebox}},
			[]string{"key share x25519 (ClientHello 283 bytes)", "first hello (key share X25519MLKEM768, x25519, 1511 bytes) stalled: 1500-byte packets lost",
				"full-size 1500-byte segments without a hello passed", "a classical hello passed: tls-middlebox"}},
		{"blackhole", probe.PMTUBlackhole,
			probe.TLSInfo{Version: "TLS 1.3", KeyShare: []string{"X25519MLKEM768", "x25519"}, HelloBytes: 1511, Group: "x25519", HelloStall: &probe.HelloStall{
				Hello: stalled, LostPacket: 1500, FullSegment: &probe.SegmentCheck{Packet: 1500, Segments: 2, Retransmits: 2},
				Retry: &probe.HelloAttempt{Kind: "split", KeyShare: []string{"X25519MLKEM768", "x25519"}, Bytes: 1511, Writes: []int{755, 756}, Segments: 2, Passed: true}, Verdict: probe.PMTUBlackhole}},
			[]string{"full-size 1500-byte segments without a hello vanished too", "the hello in writes of 755+756 bytes passed: pmtu-blackhole"}},
	} {
		tls := tc.tls
		rep := &probe.Report{Command: "mx", Target: "example.com", Outcome: tc.outcome, Results: []probe.Result{{
			Host: "mx.example.com", Address: "192.0.2.10", Port: 25, Outcome: tc.outcome, TLS: &tls}}}
		var b strings.Builder
		if err := render.Text(&b, rep, render.Options{}); err != nil {
			t.Fatal(err)
		}
		for _, want := range tc.text {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s: Text =\n%s\nwant %q", tc.name, b.String(), want)
			}
		}
		var js strings.Builder
		if err := render.JSON(&js, rep); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Results []struct {
				TLS struct {
					KeyShare   []string          `json:"key_share"`
					HelloStall *probe.HelloStall `json:"hello_stall"`
				} `json:"tls"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(js.String()), &doc); err != nil || len(doc.Results) != 1 {
			t.Fatalf("%s: JSON does not parse: %v\n%s", tc.name, err, js.String())
		}
		got := doc.Results[0].TLS
		if strings.Join(got.KeyShare, ",") != strings.Join(tc.tls.KeyShare, ",") || (got.HelloStall == nil) != (tc.tls.HelloStall == nil) ||
			(got.HelloStall != nil && got.HelloStall.Verdict != tc.tls.HelloStall.Verdict) {
			t.Errorf("%s: JSON tls = %+v, want key_share %q and hello_stall %+v", tc.name, got, tc.tls.KeyShare, tc.tls.HelloStall)
		}
	}
}
