package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// exString renders an exchanger compactly for comparisons:
// "10 mx1.example.com [192.0.2.1 2001:db8::1]", "implicit" appended.
func exString(e Exchanger) string {
	s := fmt.Sprintf("%d %s %v", e.Preference, e.Host, e.Addrs)
	if e.Implicit {
		s += " implicit"
	}
	return s
}

func exStrings(exs []Exchanger) []string {
	out := []string{}
	for _, e := range exs {
		out = append(out, exString(e))
	}
	return out
}

func codes(fs []Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, string(f.Severity)+":"+f.Code)
	}
	return out
}

func TestLookupMX(t *testing.T) {
	server, _ := testServer(t)
	tests := []struct {
		name       string
		domain     string
		fam        Family
		shuffle    func(int, func(i, j int))
		outcome    string
		rcode      string
		exchangers []string
		findings   []string // "severity:code", in order
	}{
		{
			name:    "preference order",
			domain:  "example.com",
			outcome: "ok",
			exchangers: []string{
				"10 mx1.example.com [192.0.2.1 2001:db8::1]",
				"20 mx2.example.com [192.0.2.2]",
			},
			findings: []string{},
		},
		{
			name:    "equal preferences keep order with identity shuffle",
			domain:  "equal.example",
			outcome: "ok",
			exchangers: []string{
				"5 first.equal.example [192.0.2.10]",
				"10 a.equal.example [192.0.2.11]",
				"10 b.equal.example [192.0.2.12]",
				"10 c.equal.example [192.0.2.13]",
			},
			findings: []string{},
		},
		{
			name:    "equal preferences shuffled",
			domain:  "equal.example",
			shuffle: reverseShuffle,
			outcome: "ok",
			exchangers: []string{
				"5 first.equal.example [192.0.2.10]",
				"10 c.equal.example [192.0.2.13]",
				"10 b.equal.example [192.0.2.12]",
				"10 a.equal.example [192.0.2.11]",
			},
			findings: []string{},
		},
		{
			name:       "implicit MX",
			domain:     "implicit.example",
			outcome:    "ok",
			exchangers: []string{"0 implicit.example [192.0.2.20 2001:db8::20] implicit"},
			findings:   []string{"info:implicit-mx"},
		},
		{
			name:       "no MX and no address",
			domain:     "noaddr.example",
			outcome:    "dns-error",
			rcode:      "NODATA",
			exchangers: []string{},
			findings:   []string{"critical:no-mx-no-address"},
		},
		{
			name:       "implicit MX without the wanted family",
			domain:     "implicit4.example",
			fam:        IPv6Only,
			outcome:    "dns-error",
			rcode:      "NODATA",
			exchangers: []string{},
			findings:   []string{"critical:no-mx-no-address"},
		},
		{
			name:       "null MX",
			domain:     "null.example",
			outcome:    OutcomeNullMX,
			exchangers: []string{},
			findings:   []string{"critical:null-mx"},
		},
		{
			name:       "null MX mixed with others",
			domain:     "nullmixed.example",
			outcome:    "ok",
			exchangers: []string{"10 mx1.example.com [192.0.2.1 2001:db8::1]"},
			findings:   []string{"warning:null-mx-mixed"},
		},
		{
			name:       "CNAME target",
			domain:     "cname.example",
			outcome:    "ok",
			exchangers: []string{"10 alias.cname.example [192.0.2.1 2001:db8::1]"},
			findings:   []string{"warning:mx-cname"},
		},
		{
			name:    "CNAME on the domain is followed",
			domain:  "alias-domain.example",
			outcome: "ok",
			exchangers: []string{
				"10 mx1.example.com [192.0.2.1 2001:db8::1]",
				"20 mx2.example.com [192.0.2.2]",
			},
			findings: []string{},
		},
		{
			name:       "IP literal target",
			domain:     "literal.example",
			outcome:    "ok",
			exchangers: []string{"10 192.0.2.30 [192.0.2.30]"},
			findings:   []string{"warning:mx-ip-literal"},
		},
		{
			name:       "IP literal target of the wrong family",
			domain:     "literal.example",
			fam:        IPv6Only,
			outcome:    "ok",
			exchangers: []string{"10 192.0.2.30 []"},
			findings:   []string{"warning:mx-ip-literal", "warning:mx-no-address"},
		},
		{
			name:    "invalid IP literal target",
			domain:  "badliteral.example",
			outcome: "ok",
			exchangers: []string{
				"10 192.0.2.300 []",
				"20 mx2.example.com [192.0.2.2]",
			},
			findings: []string{"warning:mx-ip-literal"},
		},
		{
			name:    "exchanger NXDOMAIN",
			domain:  "noaddrmx.example",
			outcome: "ok",
			exchangers: []string{
				"10 missing.example []",
				"20 mx2.example.com [192.0.2.2]",
			},
			findings: []string{"warning:mx-no-address"},
		},
		{
			name:    "exchanger NODATA",
			domain:  "nodatamx.example",
			outcome: "ok",
			exchangers: []string{
				"10 txtonly.example []",
				"20 mx2.example.com [192.0.2.2]",
			},
			findings: []string{"warning:mx-no-address"},
		},
		{
			name:       "exchanger lookup SERVFAIL",
			domain:     "mxfail.example",
			outcome:    "ok",
			exchangers: []string{"10 broken.example []"},
			findings:   []string{"warning:mx-lookup-failed", "warning:mx-lookup-failed"},
		},
		{
			name:    "duplicate exchanger keeps the lowest preference",
			domain:  "dup.example",
			outcome: "ok",
			exchangers: []string{
				"10 mx1.example.com [192.0.2.1 2001:db8::1]",
				"20 mx2.example.com [192.0.2.2]",
			},
			findings: []string{"info:mx-duplicate"},
		},
		{
			name:       "NXDOMAIN",
			domain:     "does-not-exist.example",
			outcome:    "dns-error",
			rcode:      "NXDOMAIN",
			exchangers: []string{},
			findings:   []string{"critical:nxdomain"},
		},
		{
			name:       "SERVFAIL",
			domain:     "servfail.example",
			outcome:    "dns-error",
			rcode:      "SERVFAIL",
			exchangers: []string{},
			findings:   []string{"critical:servfail"},
		},
		{
			name:       "REFUSED",
			domain:     "refused.example",
			outcome:    "dns-error",
			rcode:      "REFUSED",
			exchangers: []string{},
			findings:   []string{"critical:refused"},
		},
		{
			name:       "IDN",
			domain:     "Bücher.example.",
			outcome:    "ok",
			exchangers: []string{"10 mx1.example.com [192.0.2.1 2001:db8::1]"},
			findings:   []string{},
		},
		{
			name:    "IPv4 only",
			domain:  "example.com",
			fam:     IPv4Only,
			outcome: "ok",
			exchangers: []string{
				"10 mx1.example.com [192.0.2.1]",
				"20 mx2.example.com [192.0.2.2]",
			},
			findings: []string{},
		},
		{
			name:    "IPv6 only",
			domain:  "example.com",
			fam:     IPv6Only,
			outcome: "ok",
			exchangers: []string{
				"10 mx1.example.com [2001:db8::1]",
				"20 mx2.example.com []",
			},
			findings: []string{"warning:mx-no-address"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newResolver(server)
			if tt.shuffle != nil {
				r.Shuffle = tt.shuffle
			}
			rep, err := r.LookupMX(context.Background(), tt.domain, tt.fam)
			if err != nil {
				t.Fatalf("LookupMX(%q) error = %v, want nil", tt.domain, err)
			}
			if rep.Outcome != tt.outcome || rep.RCode != tt.rcode {
				t.Errorf("LookupMX(%q) outcome, rcode = %q, %q, want %q, %q", tt.domain, rep.Outcome, rep.RCode, tt.outcome, tt.rcode)
			}
			if got := exStrings(rep.Exchangers); !slices.Equal(got, tt.exchangers) {
				t.Errorf("LookupMX(%q) exchangers = %q, want %q", tt.domain, got, tt.exchangers)
			}
			if got := codes(rep.Findings); !slices.Equal(got, tt.findings) {
				t.Errorf("LookupMX(%q) findings = %q, want %q\n%v", tt.domain, got, tt.findings, rep.Findings)
			}
			if rep.Server != server {
				t.Errorf("LookupMX(%q) server = %q, want %q", tt.domain, rep.Server, server)
			}
			if rep.Exchangers == nil || rep.Findings == nil {
				t.Errorf("LookupMX(%q) has nil slices (JSON null): exchangers %v, findings %v", tt.domain, rep.Exchangers == nil, rep.Findings == nil)
			}
			for _, f := range rep.Findings {
				if f.Message == "" || strings.Contains(f.Message, "\n") {
					t.Errorf("LookupMX(%q) finding %s message = %q, want one non-empty line", tt.domain, f.Code, f.Message)
				}
			}
		})
	}
}

func TestLookupMXDomain(t *testing.T) {
	server, _ := testServer(t)
	rep, err := newResolver(server).LookupMX(context.Background(), "bücher.example", AnyFamily)
	if err != nil {
		t.Fatalf("LookupMX(bücher.example) error = %v", err)
	}
	if want := "xn--bcher-kva.example"; rep.Domain != want {
		t.Errorf("LookupMX(bücher.example).Domain = %q, want %q", rep.Domain, want)
	}
}

func TestLookupMXFindingMessages(t *testing.T) {
	server, _ := testServer(t)
	tests := []struct {
		domain string
		code   string
		want   []string // substrings of the message
	}{
		{"does-not-exist.example", CodeNXDOMAIN, []string{"does-not-exist.example", server}},
		{"servfail.example", CodeServFail, []string{"servfail.example", server}},
		{"null.example", CodeNullMX, []string{"null.example", "accepts no mail"}},
		{"cname.example", CodeMXCNAME, []string{"alias.cname.example", "mx1.example.com"}},
		{"literal.example", CodeMXIPLiteral, []string{"192.0.2.30", "using it as the address"}},
		{"badliteral.example", CodeMXIPLiteral, []string{"192.0.2.300", "not used"}},
		{"noaddrmx.example", CodeMXNoAddress, []string{"missing.example", "NXDOMAIN"}},
	}
	for _, tt := range tests {
		rep, err := newResolver(server).LookupMX(context.Background(), tt.domain, AnyFamily)
		if err != nil {
			t.Fatalf("LookupMX(%q) error = %v", tt.domain, err)
		}
		i := slices.IndexFunc(rep.Findings, func(f Finding) bool { return f.Code == tt.code })
		if i < 0 {
			t.Errorf("LookupMX(%q) findings = %v, want code %q", tt.domain, rep.Findings, tt.code)
			continue
		}
		for _, w := range tt.want {
			if msg := rep.Findings[i].Message; !strings.Contains(msg, w) {
				t.Errorf("LookupMX(%q) %s message = %q, want it to contain %q", tt.domain, tt.code, msg, w)
			}
		}
	}
}

func TestLookupMXBadInput(t *testing.T) {
	r := newResolver("127.0.0.1:1") // never queried
	for _, in := range []string{"", "ex ample.com", "192.0.2.1"} {
		rep, err := r.LookupMX(context.Background(), in, AnyFamily)
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("LookupMX(%q) = %v, %v, want *InputError", in, rep, err)
		}
	}
}

func TestTruncationFallsBackToTCP(t *testing.T) {
	lines := []string{"big.example. 300 IN MX 10 mx.big.example."}
	var want []string
	for i := range 100 {
		a := netip.MustParseAddr("2001:db8::").As16()
		a[14], a[15] = byte(i>>8), byte(i)
		addr := netip.AddrFrom16(a)
		want = append(want, addr.String())
		lines = append(lines, "mx.big.example. 300 IN AAAA "+addr.String())
	}
	z := newZone(t, lines...)
	server := startServer(t, z)
	r := newResolver(server)

	got, err := r.LookupAddrs(context.Background(), "mx.big.example", IPv6Only)
	if err != nil {
		t.Fatalf("LookupAddrs(mx.big.example) error = %v", err)
	}
	var gotS []string
	for _, a := range got {
		gotS = append(gotS, a.String())
	}
	if !slices.Equal(gotS, want) {
		t.Errorf("LookupAddrs(mx.big.example) = %d addresses %v, want %d", len(got), gotS, len(want))
	}
	if n := z.tcpQueries.Load(); n == 0 {
		t.Errorf("TCP queries = %d, want > 0 (truncated UDP answer must be retried over TCP)", n)
	}

	rep, err := r.LookupMX(context.Background(), "big.example", IPv6Only)
	if err != nil {
		t.Fatalf("LookupMX(big.example) error = %v", err)
	}
	if len(rep.Exchangers) != 1 || len(rep.Exchangers[0].Addrs) != 100 {
		t.Errorf("LookupMX(big.example) exchangers = %v, want one with 100 addresses", exStrings(rep.Exchangers))
	}
}

func TestUnreachableResolver(t *testing.T) {
	const timeout, attempts = 150 * time.Millisecond, 2
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d silent servers", n), func(t *testing.T) {
			var servers []string
			var queries []*atomic.Int32
			for range n {
				s, q := countingSilentServer(t)
				servers, queries = append(servers, s), append(queries, q)
			}
			r := &Resolver{Servers: servers, Timeout: timeout, Attempts: attempts, Shuffle: noShuffle}
			start := time.Now()
			rep, err := r.LookupMX(context.Background(), "example.com", AnyFamily)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("LookupMX(example.com) error = %v, want nil", err)
			}
			// Each server is asked exactly Attempts times: one query per
			// attempt, no more (a looser bound let extra attempts pass).
			for i, q := range queries {
				if got := q.Load(); got != attempts {
					t.Errorf("server %d of %d got %d queries, want %d (Attempts)", i+1, n, got, attempts)
				}
			}
			limit := time.Duration(len(servers)*attempts)*timeout + time.Second
			if elapsed > limit {
				t.Errorf("LookupMX(example.com) took %v, want at most %v", elapsed, limit)
			}
			if rep.Outcome != "dns-error" || rep.RCode != "timeout" {
				t.Errorf("LookupMX(example.com) outcome, rcode = %q, %q, want dns-error, timeout", rep.Outcome, rep.RCode)
			}
			if got := codes(rep.Findings); !slices.Equal(got, []string{"critical:resolver-timeout"}) {
				t.Errorf("LookupMX(example.com) findings = %q, want [critical:resolver-timeout]", got)
			}
			if last := servers[len(servers)-1]; rep.Server != last {
				t.Errorf("LookupMX(example.com) server = %q, want %q", rep.Server, last)
			}
			if len(rep.Findings) > 0 && !strings.Contains(rep.Findings[0].Message, servers[0]) {
				t.Errorf("LookupMX(example.com) finding message = %q, want it to name %s", rep.Findings[0].Message, servers[0])
			}
		})
	}
}

func TestFailover(t *testing.T) {
	good, _ := testServer(t)
	r := &Resolver{Servers: []string{silentServer(t), good}, Timeout: 100 * time.Millisecond, Attempts: 2, Shuffle: noShuffle}
	rep, err := r.LookupMX(context.Background(), "example.com", AnyFamily)
	if err != nil {
		t.Fatalf("LookupMX(example.com) error = %v", err)
	}
	if rep.Outcome != "ok" || rep.Server != good {
		t.Errorf("LookupMX(example.com) outcome, server = %q, %q, want ok, %q", rep.Outcome, rep.Server, good)
	}
}

func TestAnswerWithAnyRCodeStopsFailover(t *testing.T) {
	first, _ := testServer(t)
	second, _ := testServer(t)
	r := newResolver(first, second)
	rep, err := r.LookupMX(context.Background(), "servfail.example", AnyFamily)
	if err != nil {
		t.Fatalf("LookupMX(servfail.example) error = %v", err)
	}
	if rep.RCode != "SERVFAIL" || rep.Server != first {
		t.Errorf("LookupMX(servfail.example) rcode, server = %q, %q, want SERVFAIL, %q", rep.RCode, rep.Server, first)
	}
}

func TestLookupMXContext(t *testing.T) {
	silent := silentServer(t)
	r := &Resolver{Servers: []string{silent}, Timeout: 10 * time.Second, Attempts: 3}

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		rep, err := r.LookupMX(ctx, "example.com", AnyFamily)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("LookupMX(example.com) = %v, %v, want context.DeadlineExceeded", rep, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("LookupMX(example.com) took %v after a 100ms deadline", d)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		rep, err := r.LookupMX(ctx, "example.com", AnyFamily)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("LookupMX(example.com) = %v, %v, want context.Canceled", rep, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("LookupMX(example.com) took %v after cancel at 100ms", d)
		}
	})
}

func TestLookupAddrs(t *testing.T) {
	server, _ := testServer(t)
	tests := []struct {
		host  string
		fam   Family
		want  []string
		rcode string // "" for no error
		is    error  // sentinel the error matches
		input bool   // want *InputError
	}{
		{host: "mx1.example.com", want: []string{"192.0.2.1", "2001:db8::1"}},
		{host: "MX1.Example.COM.", fam: IPv4Only, want: []string{"192.0.2.1"}},
		{host: "mx1.example.com", fam: IPv6Only, want: []string{"2001:db8::1"}},
		{host: "alias.cname.example", want: []string{"192.0.2.1", "2001:db8::1"}},
		{host: "txtonly.example", want: []string{}},
		{host: "mx2.example.com", fam: IPv6Only, want: []string{}},
		{host: "192.0.2.7", want: []string{"192.0.2.7"}},
		{host: "2001:db8::7", fam: IPv4Only, want: []string{}},
		{host: "missing.example", want: []string{}, rcode: "NXDOMAIN", is: ErrNXDOMAIN},
		{host: "broken.example", want: []string{}, rcode: "SERVFAIL", is: ErrServFail},
		{host: "refused.example", fam: IPv4Only, want: []string{}, rcode: "REFUSED", is: ErrRefused},
		{host: "bad name.example", input: true},
	}
	r := newResolver(server)
	for _, tt := range tests {
		got, err := r.LookupAddrs(context.Background(), tt.host, tt.fam)
		if tt.input {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Errorf("LookupAddrs(%q) = %v, %v, want *InputError", tt.host, got, err)
			}
			continue
		}
		gotS := []string{}
		for _, a := range got {
			gotS = append(gotS, a.String())
		}
		if got == nil || !slices.Equal(gotS, tt.want) {
			t.Errorf("LookupAddrs(%q, %d) = %q (nil %v), want %q", tt.host, tt.fam, gotS, got == nil, tt.want)
		}
		if tt.rcode == "" {
			if err != nil {
				t.Errorf("LookupAddrs(%q) error = %v, want nil", tt.host, err)
			}
			continue
		}
		var qe *QueryError
		if !errors.As(err, &qe) || qe.RCode != tt.rcode || !errors.Is(err, tt.is) || qe.Server != server {
			t.Errorf("LookupAddrs(%q) error = %#v, want *QueryError %s from %s", tt.host, err, tt.rcode, server)
		}
	}
}

func TestLookupAddrsTimeout(t *testing.T) {
	r := &Resolver{Servers: []string{silentServer(t)}, Timeout: 100 * time.Millisecond, Attempts: 1}
	_, err := r.LookupAddrs(context.Background(), "mx1.example.com", IPv4Only)
	var qe *QueryError
	if !errors.As(err, &qe) || !errors.Is(err, ErrTimeout) || qe.RCode != "timeout" || qe.Type != "A" || qe.Name != "mx1.example.com." {
		t.Errorf("LookupAddrs(mx1.example.com) error = %#v, want *QueryError timeout for mx1.example.com. A", err)
	}
}

func TestQueryErrorMessage(t *testing.T) {
	err := error(&QueryError{Name: "example.com.", Type: "MX", Server: "192.0.2.53:53", RCode: "SERVFAIL", Err: ErrServFail})
	if got, want := err.Error(), "lookup example.com. MX at 192.0.2.53:53: SERVFAIL"; got != want {
		t.Errorf("QueryError.Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrServFail) || errors.Is(err, ErrNXDOMAIN) {
		t.Errorf("errors.Is(%v, ErrServFail/ErrNXDOMAIN) = wrong, want true/false", err)
	}
}

// TestCNAMEChainAcrossQueries covers a server that returns an alias without
// the records it points to: the resolver must ask for the target itself.
func TestCNAMEChainAcrossQueries(t *testing.T) {
	z := newZone(t,
		"mx.alias.example. 300 IN CNAME real.alias.example.",
		"real.alias.example. 300 IN A 192.0.2.40",
	)
	lazy := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		name := strings.ToLower(req.Question[0].Name)
		if c := z.rrs[rrKey{name, dns.TypeCNAME}]; len(c) > 0 {
			m.Answer = c // alias only, not chased
		} else {
			m.Answer = z.rrs[rrKey{name, req.Question[0].Qtype}]
		}
		_ = w.WriteMsg(m)
	})
	r := newResolver(startServer(t, lazy))
	got, err := r.LookupAddrs(context.Background(), "mx.alias.example", IPv4Only)
	if err != nil || len(got) != 1 || got[0] != netip.MustParseAddr("192.0.2.40") {
		t.Errorf("LookupAddrs(mx.alias.example) = %v, %v, want [192.0.2.40], nil", got, err)
	}
}
