package dnscheck

import (
	"context"
	"testing"
)

// BenchmarkLookupMX resolves mail domains of the shared test zone against
// the in-process miekg/dns server on loopback (UDP with EDNS0): one MX
// query and then the A and AAAA queries of every exchanger.
func BenchmarkLookupMX(b *testing.B) {
	server, _ := testServer(b)
	for _, bc := range []struct {
		name, domain string
		fam          Family
		outcome      string
		exchangers   int
	}{
		{"two-exchangers", "example.com", AnyFamily, OutcomeOK, 2},     // MX + 2×(A, AAAA)
		{"two-exchangers-ipv4", "example.com", IPv4Only, OutcomeOK, 2}, // MX + 2×A
		{"four-exchangers", "equal.example", AnyFamily, OutcomeOK, 4},  // MX + 4×(A, AAAA)
		{"cname-exchanger", "cname.example", AnyFamily, OutcomeOK, 1},  // alias followed
		{CodeImplicitMX, "implicit.example", AnyFamily, OutcomeOK, 1},  // no MX: A, AAAA of the domain
		{OutcomeNullMX, "null.example", AnyFamily, OutcomeNullMX, 0},   // RFC 7505
		{CodeNXDOMAIN, "missing.nowhere.example", AnyFamily, OutcomeDNSError, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := newResolver(server)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, err := r.LookupMX(ctx, bc.domain, bc.fam)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Outcome != bc.outcome || len(rep.Exchangers) != bc.exchangers {
					b.Fatalf("LookupMX(%s) = %s with %d exchangers (%+v), want %s with %d",
						bc.domain, rep.Outcome, len(rep.Exchangers), rep.Findings, bc.outcome, bc.exchangers)
				}
			}
		})
	}
}
