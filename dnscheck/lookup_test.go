package dnscheck

import (
	"context"
	"errors"
	"testing"

	"github.com/miekg/dns"
)

// adZone answers like a validating resolver: AD on answers for names
// under secure.example., when the query asked for DNSSEC (DO, RFC 3225).
type adZone struct{ *testZone }

func (z adZone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	rw := &adWriter{ResponseWriter: w, req: req}
	z.testZone.ServeDNS(rw, req)
}

type adWriter struct {
	dns.ResponseWriter
	req *dns.Msg
}

func (w *adWriter) WriteMsg(m *dns.Msg) error {
	opt := w.req.IsEdns0()
	if opt != nil && opt.Do() && w.req.AuthenticatedData && dns.IsSubDomain("secure.example.", w.req.Question[0].Name) {
		m.AuthenticatedData = true
	}
	return w.ResponseWriter.WriteMsg(m)
}

func TestLookup(t *testing.T) {
	z := newZone(t,
		"_25._tcp.mx.secure.example. 60 IN TLSA 3 1 1 d2abde240d7cd3ee6b4b28c54df034b97983a1d16e8a410e4561cb106618e971",
		"_mta-sts.plain.example. 60 IN TXT \"v=STSv1; \" \"id=1\"",
		"alias.secure.example. 60 IN CNAME mx.secure.example.",
		"mx.secure.example. 60 IN A 192.0.2.1",
	).force("_mta-sts.fail.example", dns.RcodeServerFailure)
	r := newResolver(startServer(t, adZone{z}))
	ctx := context.Background()

	a, err := r.Lookup(ctx, "_25._tcp.mx.secure.example", dns.TypeTLSA)
	if err != nil || !a.Secure || len(a.Records) != 1 {
		t.Errorf("Lookup(TLSA in the secure zone) = %+v, %v; want one secure record", a, err)
	}
	a, err = r.Lookup(ctx, "_mta-sts.plain.example.", dns.TypeTXT)
	if err != nil || a.Secure || len(a.Records) != 1 {
		t.Errorf("Lookup(TXT in the plain zone) = %+v, %v; want one insecure record", a, err)
	}
	a, err = r.Lookup(ctx, "alias.secure.example", dns.TypeA)
	if err != nil || len(a.Records) != 1 || a.Canonical != "mx.secure.example." {
		t.Errorf("Lookup(CNAME) = %+v, %v; want the A record of mx.secure.example.", a, err)
	}
	a, err = r.Lookup(ctx, "_25._tcp.none.secure.example", dns.TypeTLSA)
	if err != nil || !a.NXDomain || !a.Secure || len(a.Records) != 0 {
		t.Errorf("Lookup(missing name) = %+v, %v; want a secure NXDOMAIN", a, err)
	}
	var qe *QueryError
	if _, err = r.Lookup(ctx, "_mta-sts.fail.example", dns.TypeTXT); !errors.As(err, &qe) || !errors.Is(err, ErrServFail) {
		t.Errorf("Lookup(SERVFAIL) = %v, want a *QueryError for SERVFAIL", err)
	}
	var ie *InputError
	if _, err = r.Lookup(ctx, "a..example", dns.TypeTXT); !errors.As(err, &ie) {
		t.Errorf("Lookup(a..example) = %v, want an *InputError", err)
	}
}

func TestFollowCNAME(t *testing.T) {
	cname := func(from, to string) dns.RR {
		return &dns.CNAME{Hdr: dns.RR_Header{Name: from, Rrtype: dns.TypeCNAME, Class: dns.ClassINET}, Target: to}
	}
	a := &dns.A{Hdr: dns.RR_Header{Name: "c.example.", Rrtype: dns.TypeA, Class: dns.ClassINET}}
	loop := []dns.RR{cname("x.example.", "y.example."), cname("y.example.", "x.example.")}
	for _, tc := range []struct {
		name   string
		answer []dns.RR
		want   string
		hops   int
	}{
		{"no alias", []dns.RR{a}, "c.example.", 0},
		{"chain, out of order, case-blind", []dns.RR{cname("B.example.", "c.example."), a, cname("a.example.", "b.example.")}, "c.example.", 2},
		{"another name's alias", []dns.RR{cname("z.example.", "c.example.")}, "a.example.", 0},
		{"loop", loop, "x.example.", maxCNAMEHops},
	} {
		start := "a.example."
		if tc.name == "no alias" {
			start = "c.example."
		}
		if tc.name == "loop" {
			start = "x.example."
		}
		if got, hops := followCNAME(tc.answer, start); got != tc.want || hops != tc.hops {
			t.Errorf("%s: followCNAME(%s) = %s, %d; want %s, %d", tc.name, start, got, hops, tc.want, tc.hops)
		}
	}
}
