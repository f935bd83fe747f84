package dnscheck

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// rrKey indexes test records by owner (lower-case, fully qualified) and type.
type rrKey struct {
	name  string
	qtype uint16
}

// testZone is an in-process recursive resolver over a fixed set of records.
// It chases CNAMEs like a recursive server, answers NXDOMAIN for names
// without records, and truncates UDP answers larger than the client's EDNS0
// buffer, so that the client must retry over TCP.
type testZone struct {
	rrs    map[rrKey][]dns.RR
	names  map[string]bool
	rcodes map[string]int // forced response code per owner name, any type

	udpQueries, tcpQueries atomic.Int32
}

// newZone parses zone-file lines with dns.NewRR.
func newZone(t testing.TB, lines ...string) *testZone {
	t.Helper()
	z := &testZone{rrs: map[rrKey][]dns.RR{}, names: map[string]bool{}, rcodes: map[string]int{}}
	for _, line := range lines {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("dns.NewRR(%q) = %v", line, err)
		}
		name := strings.ToLower(rr.Header().Name)
		k := rrKey{name, rr.Header().Rrtype}
		z.rrs[k] = append(z.rrs[k], rr)
		z.names[name] = true
	}
	return z
}

// force makes every query for name answer with rcode.
func (z *testZone) force(name string, rcode int) *testZone {
	z.rcodes[dns.Fqdn(strings.ToLower(name))] = rcode
	return z
}

func (z *testZone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	if udp {
		z.udpQueries.Add(1)
	} else {
		z.tcpQueries.Add(1)
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	cur := strings.ToLower(q.Name)
	for range 10 {
		if rc, ok := z.rcodes[cur]; ok {
			m.Rcode = rc
			break
		}
		if rrs := z.rrs[rrKey{cur, q.Qtype}]; len(rrs) > 0 {
			m.Answer = append(m.Answer, rrs...)
			break
		}
		if c := z.rrs[rrKey{cur, dns.TypeCNAME}]; len(c) > 0 && q.Qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, c[0])
			cur = strings.ToLower(c[0].(*dns.CNAME).Target)
			continue
		}
		if !z.names[cur] {
			m.Rcode = dns.RcodeNameError
		}
		break
	}
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
		m.SetEdns0(opt.UDPSize(), false)
	}
	if udp && m.Len() > size {
		m.Answer = nil
		m.Truncated = true
	}
	_ = w.WriteMsg(m)
}

// startServer serves h on 127.0.0.1 over UDP and TCP on the same port and
// returns "127.0.0.1:port".
func startServer(t testing.TB, h dns.Handler) string {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("net.ListenPacket = %v", err)
		}
		addr := pc.LocalAddr().String()
		l, err := net.Listen("tcp", addr)
		if err != nil {
			pc.Close() // TCP port taken: try another
			continue
		}
		var started sync.WaitGroup
		started.Add(2)
		us := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: started.Done}
		ts := &dns.Server{Listener: l, Handler: h, NotifyStartedFunc: started.Done}
		for _, s := range []*dns.Server{us, ts} {
			go func() {
				if err := s.ActivateAndServe(); err != nil {
					t.Logf("dns server %s: %v", addr, err)
				}
			}()
		}
		started.Wait()
		t.Cleanup(func() {
			_ = us.Shutdown()
			_ = ts.Shutdown()
		})
		return addr
	}
	t.Fatalf("no free UDP+TCP port pair on 127.0.0.1")
	return ""
}

// silentServer reads UDP queries and never answers; TCP is not listened on.
func silentServer(t testing.TB) string {
	t.Helper()
	addr, _ := countingSilentServer(t)
	return addr
}

// countingSilentServer is silentServer, with the number of queries it
// has read.
func countingSilentServer(t testing.TB) (string, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.ListenPacket = %v", err)
	}
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return pc.LocalAddr().String(), &n
}

// closedPort returns a 127.0.0.1 UDP address that was bound and closed, so
// queries to it get ICMP port unreachable.
func closedPort(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.ListenPacket = %v", err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// noShuffle keeps the answer order among equal preferences.
func noShuffle(int, func(i, j int)) {}

// reverseShuffle reverses equal-preference groups, a pinned "random" order.
func reverseShuffle(n int, swap func(i, j int)) {
	for i := range n / 2 {
		swap(i, n-1-i)
	}
}

// newResolver returns a Resolver for servers with short timeouts and a
// pinned shuffle.
func newResolver(servers ...string) *Resolver {
	return &Resolver{Servers: servers, Timeout: 2 * time.Second, Attempts: 1, Shuffle: noShuffle}
}

// testRecords is the shared zone of the resolver tests.
var testRecords = []string{
	// Preference order: listed out of order on purpose.
	"example.com. 300 IN MX 20 mx2.example.com.",
	"example.com. 300 IN MX 10 mx1.example.com.",
	"mx1.example.com. 300 IN A 192.0.2.1",
	"mx1.example.com. 300 IN AAAA 2001:db8::1",
	"mx2.example.com. 300 IN A 192.0.2.2",

	"equal.example. 300 IN MX 10 a.equal.example.",
	"equal.example. 300 IN MX 10 b.equal.example.",
	"equal.example. 300 IN MX 10 c.equal.example.",
	"equal.example. 300 IN MX 5 first.equal.example.",
	"a.equal.example. 300 IN A 192.0.2.11",
	"b.equal.example. 300 IN A 192.0.2.12",
	"c.equal.example. 300 IN A 192.0.2.13",
	"first.equal.example. 300 IN A 192.0.2.10",

	"implicit.example. 300 IN A 192.0.2.20",
	"implicit.example. 300 IN AAAA 2001:db8::20",
	"implicit4.example. 300 IN A 192.0.2.21",
	"noaddr.example. 300 IN TXT \"v=spf1 -all\"",

	"null.example. 300 IN MX 0 .",
	"nullmixed.example. 300 IN MX 0 .",
	"nullmixed.example. 300 IN MX 10 mx1.example.com.",

	"cname.example. 300 IN MX 10 alias.cname.example.",
	"alias.cname.example. 300 IN CNAME mx1.example.com.",
	"alias-domain.example. 300 IN CNAME example.com.",

	"literal.example. 300 IN MX 10 192.0.2.30.",
	"badliteral.example. 300 IN MX 10 192.0.2.300.",
	"badliteral.example. 300 IN MX 20 mx2.example.com.",

	"noaddrmx.example. 300 IN MX 10 missing.example.",
	"noaddrmx.example. 300 IN MX 20 mx2.example.com.",
	"nodatamx.example. 300 IN MX 10 txtonly.example.",
	"nodatamx.example. 300 IN MX 20 mx2.example.com.",
	"txtonly.example. 300 IN TXT \"no address here\"",
	"mxfail.example. 300 IN MX 10 broken.example.",

	"dup.example. 300 IN MX 30 mx1.example.com.",
	"dup.example. 300 IN MX 20 mx2.example.com.",
	"dup.example. 300 IN MX 10 MX1.example.com.",

	"xn--bcher-kva.example. 300 IN MX 10 mx1.example.com.",

	// Reverse DNS.
	"1.2.0.192.in-addr.arpa. 300 IN PTR mx1.example.com.",
	"2.2.0.192.in-addr.arpa. 300 IN PTR wrong.example.",
	"wrong.example. 300 IN A 192.0.2.99",
	"5.2.0.192.in-addr.arpa. 300 IN PTR broken.example.",
	ptrLine("2001:db8::1", "mx1.example.com."),
}

func ptrLine(addr, name string) string {
	arpa, err := dns.ReverseAddr(addr)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s 300 IN PTR %s", arpa, name)
}

// testServer starts the shared zone and returns its address and the zone.
func testServer(t testing.TB) (string, *testZone) {
	t.Helper()
	z := newZone(t, testRecords...).
		force("servfail.example.", dns.RcodeServerFailure).
		force("refused.example.", dns.RcodeRefused).
		force("broken.example.", dns.RcodeServerFailure).
		force("4.2.0.192.in-addr.arpa.", dns.RcodeServerFailure)
	return startServer(t, z), z
}
