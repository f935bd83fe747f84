package mtu

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// probesOf parses a probe list as the e2e tests print it,
// "round:size->result(sent)"; icmp probes get PMTU pmtu (IP_MTU after the
// probe, which the printed list leaves out).
func probesOf(t *testing.T, list string, pmtu int) []Probe {
	t.Helper()
	var ps []Probe
	for _, f := range strings.Fields(list) {
		var pr Probe
		var res string
		f = strings.NewReplacer("->", " ", "(", " ", ")", "").Replace(f)
		if _, err := fmt.Sscanf(f, "%d:%d %s %d", &pr.Round, &pr.Size, &res, &pr.Sent); err != nil {
			t.Fatalf("bad probe %q: %v", f, err)
		}
		pr.Result = ProbeResult(res)
		pr.OK = pr.Result == ProbeDelivered
		if pr.Result == ProbeICMP {
			pr.PMTU = pmtu
		}
		ps = append(ps, pr)
	}
	return ps
}

// The outbound probes of TestE2EMTUWorking/cached-4's failing first run
// (load ~6): ICMP in round 1, only clamped sizes above 1400 after.
const cached4Out = "1:722->delivered(722) 1:870->delivered(870) 1:1017->delivered(1017) 1:1165->delivered(1165) " +
	"1:1312->delivered(1312) 1:1460->icmp(1460) 1:1461->icmp(1461) 1:1480->icmp(1480) 1:1481->icmp(1481) " +
	"1:1492->icmp(1492) 1:1493->clamped(1400) 1:1500->icmp(1500) 2:1312->delivered(1312) " +
	"2:1334->delivered(1334) 2:1357->delivered(1357) 2:1380->delivered(1380) 2:1381->delivered(1381) " +
	"2:1400->delivered(1400) 2:1401->clamped(1400) 2:1420->clamped(1400) 2:1421->clamped(1400) " +
	"2:1440->clamped(1400) 2:1441->clamped(1400) 2:1460->clamped(1400) 3:1400->delivered(1400) " +
	"3:1401->clamped(1400) 4:1400->delivered(1400) 4:1401->clamped(1400)"

func TestOutVerdict(t *testing.T) {
	tests := []struct {
		name     string
		probes   string
		pmtu     int       // icmp probes' IP_MTU
		cached   int       // < 0: cached and deleted before the probes (CacheCleared)
		udp      DFVerdict // the DF datagrams' answer; "" none sent
		ok, fail int
		want     PathVerdict
	}{
		{"cached-4 under load: ICMP in round 1, clamped after", cached4Out, 1400, 0, "", 1400, 1401, VerdictPMTUDWorking},
		{"black hole", "1:1400->delivered(1400) 1:1401->lost(1401) 2:1400->delivered(1400) 2:1401->lost(1401)", 0, 0, "", 1400, 1401, VerdictBlackhole},
		{"upper end lost by the timer after ICMP lowered the path MTU to the bracket",
			"1:1400->delivered(1400) 1:1460->icmp(1460) 2:1400->delivered(1400) 2:1401->lost(1401)", 1400, 0, "", 1400, 1401, VerdictPMTUDWorking},
		{"ICMP from a 1480 hop, black hole at 1400 behind it",
			"1:1400->delivered(1400) 1:1500->icmp(1500) 2:1400->delivered(1400) 2:1401->lost(1401)", 1480, 0, "", 1400, 1401, VerdictBlackhole},
		{"upper end timed out, no ICMP", "1:1400->delivered(1400) 1:1401->timed-out(1401)", 0, 0, "", 1400, 1401, VerdictBlackhole},
		// A cache is never pmtud-working: untested, unless the DF
		// datagrams decide (issue 17).
		{"cached path MTU", "1:1400->delivered(1400) 1:1401->clamped(1400)", 0, 1400, "", 1400, 1401, VerdictUntested},
		{"cached path MTU, DF datagrams unanswered", "1:1400->delivered(1400) 1:1401->clamped(1400)", 0, 1400, DFUnknown, 1400, 1401, VerdictUntested},
		{"cached path MTU, a hop's packet-too-big", "1:1400->delivered(1400) 1:1401->clamped(1400)", 0, 1400, DFICMPWorks, 1400, 1401, VerdictPMTUDWorking},
		{"cached path MTU, DF datagrams vanish", "1:1400->delivered(1400) 1:1401->clamped(1400)", 0, 1400, DFBlackhole, 1400, 1401, VerdictBlackhole},
		{"peer MSS clamp", "1:1400->delivered(1400) 1:1401->clamped(1400)", 0, 0, "", 1400, 1401, VerdictMSSClamped},
		{"peer MSS clamp, DF datagrams unanswered", "1:1400->delivered(1400) 1:1401->clamped(1400)", 0, 0, DFUnknown, 1400, 1401, VerdictMSSClamped},
		{"peer MSS (the server's cache), DF datagrams vanish", "1:1400->delivered(1400) 1:1401->clamped(1400)", 0, 0, DFBlackhole, 1400, 1401, VerdictBlackhole},
		{"peer MSS, a hop's packet-too-big", "1:1400->delivered(1400) 1:1401->clamped(1400)", 0, 0, DFICMPWorks, 1400, 1401, VerdictPMTUDWorking},
		{"a cache deleted before the probes (IPv6), then lost above it: a black hole", "1:1400->delivered(1400) 1:1401->lost(1401) 2:1400->delivered(1400) 2:1401->lost(1401)", 0, -1400, "", 1400, 1401, VerdictBlackhole},
		{"peer MSS, the largest datagram arrives", "1:1400->delivered(1400) 1:1401->clamped(1400)", 0, 0, DFNoBottleneck, 1400, 1401, VerdictNoBottleneck},
		{"no bottleneck", "1:1500->delivered(1500)", 0, 0, "", 1500, 0, VerdictNoBottleneck},
		// A copy of the upper end whose session died (heavy loss) proves
		// nothing and does not stand for the size's last attempt: the CI
		// run that found it said no-bottleneck with bracket [1400, 1401].
		{"black hole, the last copy's session failed",
			"2:1400->delivered(1400) 2:1401->lost(1401) 3:1400->delivered(1400) 3:1401->lost(1401) 3:1401->lost(1401) 3:1401->session-failed(0)", 0, 0, "", 1400, 1401, VerdictBlackhole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := &Result{Probes: probesOf(t, tt.probes, tt.pmtu), CachedPMTU: tt.cached, InterfaceMTU: 1500}
			if tt.cached < 0 { // cached, and deleted before the probes
				info.CachedPMTU, info.CacheCleared = -tt.cached, true
			}
			for i, pr := range info.Probes {
				info.ICMPSeen = info.ICMPSeen || pr.Result == ProbeICMP
				if pr.Result == ProbeClamped && tt.cached > 0 && pr.Sent <= tt.cached {
					info.Probes[i].Limit = LimitPathMTU
				}
			}
			if tt.udp != "" {
				info.UDP = &DFCheck{Verdict: tt.udp}
			}
			b := Bracket{LargestOK: tt.ok, SmallestFailed: tt.fail}
			if got := OutVerdict(b, info); got != tt.want {
				t.Errorf("OutVerdict([%d, %d], %s) = %s, want %s", tt.ok, tt.fail, tt.probes, got, tt.want)
			}
		})
	}
}

func TestRevVerdict(t *testing.T) {
	tests := []struct {
		name     string
		probes   string
		ok, fail int
		want     PathVerdict
	}{
		// The first flight at Max outlasted the round's loss limit on a
		// loaded host while the server resent it in 1400-byte packets;
		// from then on its cached path MTU made every larger size adapted.
		{"Max stalled under load, larger sizes adapted",
			"0:576->delivered(576) 0:1500->lost(0) 1:1400->delivered(1400) 1:1401->adapted(1400) 1:1460->adapted(1400) " +
				"2:1400->delivered(1400) 2:1401->adapted(1400) 3:1400->delivered(1400) 3:1401->adapted(1400)", 1400, 1401, VerdictPMTUDWorking},
		{"clamped upper end, then a copy whose session failed: still clamped",
			"0:576->delivered(576) 0:1500->clamped(1400) 1:1400->delivered(1400) 1:1401->clamped(1400) 1:1401->session-failed(0)", 1400, 1401, VerdictMSSClamped},
		{"upper end stalled, the server adapted to the bracket before",
			"0:576->delivered(576) 0:1500->lost(0) 1:1400->delivered(1400) 1:1460->adapted(1400) 2:1400->delivered(1400) 2:1401->lost(0)", 1400, 1401, VerdictPMTUDWorking},
		{"black hole: every flight above 1400 stalls",
			"0:576->delivered(576) 0:1500->lost(0) 1:1400->delivered(1400) 1:1401->lost(0) 2:1400->delivered(1400) 2:1401->lost(0)", 1400, 1401, VerdictBlackhole},
		{"adapted to 1480, black hole at 1400 behind it",
			"0:576->delivered(576) 0:1500->lost(0) 1:1400->delivered(1400) 1:1401->lost(0) 1:1490->adapted(1480)", 1400, 1401, VerdictBlackhole},
		{"clamped upper end", "0:576->delivered(576) 0:1500->lost(0) 1:1400->delivered(1400) 1:1401->clamped(1400)", 1400, 1401, VerdictMSSClamped},
		{"the stall was noise", "0:576->delivered(576) 0:1500->lost(0) 1:1500->delivered(1500)", 1500, 0, VerdictNoBottleneck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Bracket{LargestOK: tt.ok, SmallestFailed: tt.fail}
			if got := RevVerdict(b, probesOf(t, tt.probes, 0)); got != tt.want {
				t.Errorf("RevVerdict([%d, %d], %s) = %s, want %s", tt.ok, tt.fail, tt.probes, got, tt.want)
			}
		})
	}
}

// TestProbeWireFields: probeJSON lists every JSON field of Probe, in the
// same order, with the same type, plus rtt_ms and wait_ms for RTT and Wait
// (as probe's TestWireFields checks its own wire structs): a field added
// to Probe and not to probeJSON fails here rather than vanishing from the
// JSON.
func TestProbeWireFields(t *testing.T) {
	name := func(f reflect.StructField) string { n, _, _ := strings.Cut(f.Tag.Get("json"), ","); return n }
	extra := map[string]string{"rtt_ms": "RTT", "wait_ms": "Wait"}
	mt, wt := reflect.TypeOf(Probe{}), reflect.TypeOf(probeJSON{})
	var mf []reflect.StructField
	for i := 0; i < mt.NumField(); i++ {
		if f := mt.Field(i); f.IsExported() && name(f) != "" && name(f) != "-" {
			mf = append(mf, f)
		}
	}
	j := 0
	for i := 0; i < wt.NumField(); i++ {
		w := wt.Field(i)
		if field, ok := extra[name(w)]; ok {
			if _, found := mt.FieldByName(field); !found {
				t.Errorf("probeJSON.%s (%s) stands for Probe.%s, which does not exist", w.Name, name(w), field)
			}
			continue
		}
		if j >= len(mf) {
			t.Errorf("probeJSON.%s has no counterpart in Probe", w.Name)
			continue
		}
		m := mf[j]
		j++
		if m.Name != w.Name || m.Type != w.Type || m.Tag.Get("json") != w.Tag.Get("json") {
			t.Errorf("probeJSON field %d is %s %s %q, Probe has %s %s %q", i, w.Name, w.Type, w.Tag.Get("json"), m.Name, m.Type, m.Tag.Get("json"))
		}
	}
	for ; j < len(mf); j++ {
		t.Errorf("Probe.%s (json %q) is missing from probeJSON", mf[j].Name, name(mf[j]))
	}
}
