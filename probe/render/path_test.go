package render

import (
	"bytes"
	"testing"

	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe"
)

func u8(v uint8) *uint8 { return &v }

func TestHopTable(t *testing.T) {
	tests := []struct {
		name string
		r    probe.Result
		want string
	}{
		{"no hops", probe.Result{}, ""},
		{"dropped after hop 2", probe.Result{
			Hops: []trace.HopReport{
				{TTL: 1, Address: "192.0.2.1", Answer: "time-exceeded", ICMP: "time-exceeded", Type: u8(11), Code: u8(0), RTTMS: 0.5, Probes: 1},
				{TTL: 2, Address: "192.0.2.2", Answer: "time-exceeded", ICMP: "time-exceeded", Type: u8(11), Code: u8(0), RTTMS: 1.25, Probes: 1},
				{TTL: 3, Answer: "silent", Probes: 3},
			},
			PathEnd: &trace.PathEnd{Answer: "silent", LastTTL: 2, LastAddress: "192.0.2.2", Probes: 18, ElapsedMS: 655,
				ComparePort: 587, CompareAnswer: "rst", CompareTTL: 3, CompareProbes: 8},
		}, "" +
			"  hop  address    answer                        rtt  probes\n" +
			"    1  192.0.2.1  time-exceeded             0.500ms  1\n" +
			"    2  192.0.2.2  time-exceeded              1.25ms  1\n" +
			"    3  *          silent                             3\n" +
			"  SYNs stop: silent after hop 2 (192.0.2.2); port 587 answers (rst) at hop 3; 26 SYNs in 655ms\n"},
		{"rejected at hop 2", probe.Result{
			Hops: []trace.HopReport{
				{TTL: 1, Address: "192.0.2.1", Answer: "time-exceeded", ICMP: "time-exceeded", Type: u8(11), Code: u8(0), RTTMS: 0.5, Probes: 1},
				{TTL: 2, Address: "192.0.2.2\n", Answer: "unreachable", ICMP: "admin-prohibited", Type: u8(3), Code: u8(13), RTTMS: 0.5, Probes: 1},
			},
			PathEnd: &trace.PathEnd{Answer: "unreachable", TTL: 2, HopTTL: 2, Address: "192.0.2.2", ICMP: "admin-prohibited", Type: u8(3), Code: u8(13), LastTTL: 1, Probes: 8, ElapsedMS: 1},
		}, "" +
			"  hop  address        answer                        rtt  probes\n" +
			"    1  192.0.2.1      time-exceeded             0.500ms  1\n" +
			"    2  192.0.2.2\\x0a  admin-prohibited 3/13     0.500ms  1\n" +
			"  SYNs stop: ICMP admin-prohibited (3/13) from hop 2 (192.0.2.2); 8 SYNs in 1.00ms\n"},
		{"rate-limited (issue 17)", probe.Result{
			Hops: []trace.HopReport{
				{TTL: 1, Address: "192.0.2.1", Answer: "time-exceeded", ICMP: "time-exceeded", Type: u8(11), Code: u8(0), RTTMS: 0.5, Probes: 1},
				{TTL: 2, Address: "192.0.2.25", Answer: "unreachable", ICMP: "host-unreachable", Type: u8(3), Code: u8(1), RTTMS: 0.5, Probes: 2, Unanswered: 1},
			},
			PathEnd: &trace.PathEnd{Answer: "unreachable", TTL: 2, HopTTL: 2, Address: "192.0.2.25", ICMP: "host-unreachable", Type: u8(3), Code: u8(1), LastTTL: 1, Probes: 9, ElapsedMS: 1000},
		}, "" +
			"  hop  address     answer                        rtt  probes\n" +
			"    1  192.0.2.1   time-exceeded             0.500ms  1\n" +
			"    2  192.0.2.25  host-unreachable 3/1      0.500ms  2  1× no answer (ICMP rate limit likely), then this answer\n" +
			"  SYNs stop: ICMP host-unreachable (3/1) from hop 2 (192.0.2.25); 9 SYNs in 1.000s\n"},
		{"the connect's ICMP, the sweep rate-limited (issue 17)", probe.Result{
			Hops: []trace.HopReport{
				{TTL: 1, Address: "192.0.2.1", Answer: "time-exceeded", ICMP: "time-exceeded", Type: u8(11), Code: u8(0), RTTMS: 0.5, Probes: 1},
				{TTL: 2, Answer: "rate-limited", Probes: 3},
			},
			PathEnd: &trace.PathEnd{Answer: "unreachable", TTL: 2, HopTTL: 2, Address: "192.0.2.25", ICMP: "host-unreachable", Type: u8(3), Code: u8(1), LastTTL: 1, RateLimited: true, Probes: 9, ElapsedMS: 1},
		}, "" +
			"  hop  address    answer                        rtt  probes\n" +
			"    1  192.0.2.1  time-exceeded             0.500ms  1\n" +
			"    2  *          silent                             3  no answer (ICMP rate limit likely)\n" +
			"  SYNs stop: ICMP host-unreachable (3/1) from hop 2 (192.0.2.25), as the connect received it; the sweep's SYNs at hop 2 got no answer (ICMP rate limit likely); 9 SYNs in 1.00ms\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			HopTable(&b, "  ", tt.r)
			if b.String() != tt.want {
				t.Errorf("HopTable() =\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}
