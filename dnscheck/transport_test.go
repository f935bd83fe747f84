package dnscheck

// Tests of what the resolver says when a server answers badly: bytes that
// are not a DNS message, a truncated answer with no TCP listener, a port
// that is not listened on, and exchanger names that are not host names.
// Peers are in process on 127.0.0.1.

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"
)

// rawUDPServer answers every UDP query with reply(query); nothing listens
// on TCP at its port (it is bound and closed, so a TCP connect is refused).
func rawUDPServer(t testing.TB, reply func(q []byte) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.ListenPacket = %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for range 1000 {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if b := reply(buf[:n]); b != nil {
				_, _ = pc.WriteTo(b, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return pc.LocalAddr().String()
}

// truncatedReply answers with TC set and an empty answer section.
func truncatedReply(q []byte) []byte {
	var m dns.Msg
	if err := m.Unpack(q); err != nil {
		return nil
	}
	r := new(dns.Msg)
	r.SetReply(&m)
	r.Truncated = true
	b, _ := r.Pack()
	return b
}

func TestResolverTransportErrors(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	tests := []struct {
		name   string
		server func(t testing.TB) string
		kind   error
		rcode  string
		code   string // the critical finding
		msg    string // substring of the finding's message, with SERVER for the address
	}{{
		name: "garbage after the header",
		server: func(t testing.TB) string {
			return rawUDPServer(t, func(q []byte) []byte {
				// The query's ID and a header claiming one question and
				// one answer, then 3 bytes: not a DNS message.
				return append([]byte{q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}, 0xc0, 0xff, 0x07)
			})
		},
		kind: ErrMalformed, rcode: "malformed", code: CodeResolverMalformed,
		msg: "MX query for example.com: malformed answer from SERVER: bad question name: dns: buffer size too small",
	}, {
		name: "short answer",
		server: func(t testing.TB) string {
			return rawUDPServer(t, func(q []byte) []byte { return []byte{q[0], q[1], 0x81} })
		},
		kind: ErrMalformed, rcode: "malformed", code: CodeResolverMalformed,
		msg: "malformed answer from SERVER: dns: short read",
	}, {
		name: "answer to another question",
		server: func(t testing.TB) string {
			return rawUDPServer(t, func(q []byte) []byte {
				var m dns.Msg
				if m.Unpack(q) != nil {
					return nil
				}
				r := new(dns.Msg)
				r.SetReply(&m)
				r.Question[0].Name = "other.example."
				b, _ := r.Pack()
				return b
			})
		},
		kind: ErrMalformed, rcode: "malformed", code: CodeResolverMalformed,
		msg: "malformed answer from SERVER: question other.example. MX: the response does not answer the question asked",
	}, {
		name:   "TC set, no TCP listener",
		server: func(t testing.TB) string { return rawUDPServer(t, truncatedReply) },
		kind:   ErrTruncated, rcode: "truncated", code: CodeResolverTruncated,
		msg: "MX query for example.com: truncated UDP answer from SERVER and TCP failed: connection refused",
	}, {
		name:   "port unreachable",
		server: closedPort,
		kind:   ErrUnreachable, rcode: "unreachable", code: CodeResolverUnreachable,
		msg: "MX query for example.com: SERVER unreachable: connection refused (ICMP port unreachable: no DNS server listens there)",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := tt.server(t)
			r := &Resolver{Servers: []string{server}, Timeout: timeout, Attempts: 2, Shuffle: noShuffle}
			start := time.Now()
			rep, err := r.LookupMX(context.Background(), "example.com", AnyFamily)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("LookupMX(example.com) error = %v, want nil (a failure is part of the report)", err)
			}
			// Each of these is known at once: waiting for the per-attempt
			// timeout, or asking again, would only delay the same answer.
			if elapsed >= timeout {
				t.Errorf("LookupMX(example.com) took %v, want less than one attempt's timeout %v", elapsed, timeout)
			}
			if rep.Outcome != OutcomeDNSError || rep.RCode != tt.rcode {
				t.Errorf("LookupMX(example.com) outcome, rcode = %q, %q, want dns-error, %q", rep.Outcome, rep.RCode, tt.rcode)
			}
			if len(rep.Findings) != 1 || rep.Findings[0].Code != tt.code || rep.Findings[0].Severity != SeverityCritical {
				t.Fatalf("LookupMX(example.com) findings = %+v, want one critical %s", rep.Findings, tt.code)
			}
			msg := rep.Findings[0].Message
			if want := strings.ReplaceAll(tt.msg, "SERVER", server); !strings.Contains(msg, want) {
				t.Errorf("LookupMX(example.com) finding = %q, want it to contain %q", msg, want)
			}
			if strings.Contains(msg, "attempts") || strings.Contains(msg, "no answer") {
				t.Errorf("LookupMX(example.com) finding = %q, want no talk of unanswered attempts", msg)
			}

			_, err = r.LookupAddrs(context.Background(), "mx.example.com", IPv4Only)
			var qe *QueryError
			var ee *ExchangeError
			if !errors.As(err, &qe) || !errors.Is(err, tt.kind) || errors.Is(err, ErrTimeout) || !errors.As(err, &ee) ||
				ee.Server != server || qe.RCode != tt.rcode {
				t.Errorf("LookupAddrs(mx.example.com) error = %#v, want *QueryError matching %v (rcode %s) with an *ExchangeError from %s",
					err, tt.kind, tt.rcode, server)
			}
		})
	}
}

// A malformed answer from the first server moves on to the next.
func TestMalformedFailsOver(t *testing.T) {
	t.Parallel()
	bad := rawUDPServer(t, func(q []byte) []byte { return []byte{q[0], q[1], 0x81} })
	good, _ := testServer(t)
	r := &Resolver{Servers: []string{bad, good}, Timeout: 2 * time.Second, Attempts: 2, Shuffle: noShuffle}
	rep, err := r.LookupMX(context.Background(), "example.com", AnyFamily)
	if err != nil || rep.Outcome != OutcomeOK || rep.Server != good {
		t.Errorf("LookupMX(example.com) = %+v, %v; want ok from %s", rep, err, good)
	}
}

// TestHostileExchangerNames: MX targets a hostile server can send. The
// names come back quoted and escaped, never with a raw control byte, and
// the names that are not host names are not used.
func TestHostileExchangerNames(t *testing.T) {
	t.Parallel()
	mx := func(pref uint16, target string) dns.RR {
		return &dns.MX{Hdr: dns.RR_Header{Name: "hostile.example.", Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 300},
			Preference: pref, Mx: target}
	}
	z := newZone(t, "good.hostile.example. 300 IN A 192.0.2.8")
	// Raw bytes in labels: miekg/dns packs them as they are.
	for i, target := range []string{
		"mx\nevil.hostile.example.", "mx\r\n250 ok.hostile.example.", "\x00\x01\x7f.hostile.example.",
		"m\xffx.hostile.example.", "mx\u2028.hostile.example.", "mx|perf.hostile.example.", "good.hostile.example.",
	} {
		k := rrKey{"hostile.example.", dns.TypeMX}
		z.rrs[k] = append(z.rrs[k], mx(uint16(10+i), target))
	}
	z.names["hostile.example."] = true
	server := startServer(t, z)
	rep, err := newResolver(server).LookupMX(context.Background(), "hostile.example", IPv4Only)
	if err != nil {
		t.Fatalf("LookupMX(hostile.example) error = %v", err)
	}
	if len(rep.Exchangers) != 7 {
		t.Fatalf("LookupMX(hostile.example) exchangers = %v, want 7", exStrings(rep.Exchangers))
	}
	for _, ex := range rep.Exchangers {
		if !utf8.ValidString(ex.Host) || strings.ContainsFunc(ex.Host, func(r rune) bool { return r < ' ' || r >= 0x7f }) {
			t.Errorf("LookupMX(hostile.example) exchanger %q, want printable ASCII (escaped)", ex.Host)
		}
		used := len(ex.Addrs) > 0
		if wantUsed := ex.Host == "good.hostile.example"; used != wantUsed {
			t.Errorf("LookupMX(hostile.example) exchanger %q addresses %v, want used %v", ex.Host, ex.Addrs, wantUsed)
		}
	}
	invalid := 0
	for _, f := range rep.Findings {
		if strings.ContainsFunc(f.Message, func(r rune) bool { return r < ' ' || r == 0x7f }) || !utf8.ValidString(f.Message) {
			t.Errorf("LookupMX(hostile.example) finding %q holds a control character or invalid UTF-8", f.Message)
		}
		if f.Code == CodeMXInvalidName {
			invalid++
		}
	}
	// Every name but good.hostile.example (the one with "|" included: it
	// is not a host name either) is reported.
	if invalid != 6 {
		t.Errorf("LookupMX(hostile.example) has %d mx-invalid-name findings, want 6: %+v", invalid, rep.Findings)
	}
}
