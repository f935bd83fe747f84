//go:build linux

package probe

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// On loopback nothing is lost and no ICMP comes: every size up to --max
// passes, and the clamp shows in TCP_INFO as the packet size sent.
// Black holes and working PMTUD need a routed path: the lab tests
// (cmd/smtpprobe/e2e_mtu_test.go) cover them.
func TestMTULoopbackNoBottleneck(t *testing.T) {
	t.Parallel()
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := &Prober{ReplyTimeout: 3 * time.Second, Helo: "probe.example.com"}
	r, err := p.MTU(ctx, Target{Host: "mx.example.com", Addr: s.Addr, Preference: -1},
		MTUOptions{Min: 576, Max: 1500, To: "postmaster@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	m := r.MTUInfo
	if r.Outcome != OK || m == nil || m.Verdict != VerdictNoBottleneck {
		t.Fatalf("MTU(loopback) = %s (%s), %+v; want ok, no-bottleneck", r.Outcome, r.Error, m)
	}
	if m.PathMTU == nil || *m.PathMTU != 1500 || m.Bracket[1] != nil || m.Rounds != 1 {
		t.Errorf("MTU(loopback) path_mtu %v, bracket %v, rounds %d; want 1500, [1500, null], 1 round", m.PathMTU, m.Bracket, m.Rounds)
	}
	for _, pr := range m.Probes {
		if !pr.OK || pr.Sent != pr.Size || pr.Result != "delivered" {
			t.Errorf("probe %+v: want delivered at the requested size", pr)
		}
	}
	if got := s.Messages(); got != 0 {
		t.Errorf("MTU delivered %d messages, want 0 (no final dot)", got)
	}
}

func TestMTURecipientRefused(t *testing.T) {
	t.Parallel()
	addr := scriptPeer(t, func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
		if expect(r, "EHLO") {
			fmt.Fprint(c, "250 mx.example.com\r\n")
		}
		if expect(r, "MAIL") {
			fmt.Fprint(c, "250 2.1.0 Ok\r\n")
		}
		if expect(r, "RCPT") {
			fmt.Fprint(c, "550 5.1.1 <nobody@example.com>: Recipient address rejected\r\n")
		}
		if expect(r, "QUIT") {
			fmt.Fprint(c, "221 2.0.0 Bye\r\n")
		}
	})
	r, err := (&Prober{ReplyTimeout: 2 * time.Second}).MTU(context.Background(),
		Target{Host: "mx.example.com", Addr: addr, Preference: -1}, MTUOptions{Min: 576, Max: 1500, Parallel: 2, To: "nobody@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Rejected || !hasFinding(r.Findings, "rcpt-refused") {
		t.Errorf("MTU(recipient refused) = %s (%s), %+v; want rejected with rcpt-refused", r.Outcome, r.Error, r.Findings)
	}
}
