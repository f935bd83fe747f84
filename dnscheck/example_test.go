package dnscheck_test

import (
	"context"
	"fmt"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// Where mail for a domain goes: the exchangers in preference order with
// their addresses, and what is wrong with the records. The resolver is
// an in-process DNS server on loopback.
func ExampleResolver_LookupMX() {
	srv, err := probetest.StartDNS("127.0.0.1:0", `
example.org.       300 IN MX 10 mx1.example.org.
example.org.       300 IN MX 20 mx2.example.org.
example.org.       300 IN MX 30 alias.example.org.
mx1.example.org.   300 IN A 192.0.2.10
mx2.example.org.   300 IN A 192.0.2.20
mx2.example.org.   300 IN AAAA 2001:db8::20
alias.example.org. 300 IN CNAME mx1.example.org.
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	r := &dnscheck.Resolver{Servers: []string{srv.Addr}}
	rep, err := r.LookupMX(context.Background(), "example.org", dnscheck.AnyFamily)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Outcome)
	for _, ex := range rep.Exchangers {
		fmt.Println(ex.Preference, ex.Host, ex.Addrs)
	}
	for _, f := range rep.Findings {
		fmt.Println(f.Severity, f.Code)
	}
	// Output:
	// ok
	// 10 mx1.example.org [192.0.2.10]
	// 20 mx2.example.org [192.0.2.20 2001:db8::20]
	// 30 alias.example.org [192.0.2.10]
	// warning mx-cname
}

// Selecting the one MTA-STS or TLS-RPT record among a name's TXT records
// (RFC 8461 §3.1, RFC 8460 §3): another version is not this one.
func ExampleSelectTXT() {
	txt := []string{"v=spf1 -all", "v=TLSRPTv1; rua=mailto:tlsrpt@example.org", "v=TLSRPTv10; rua=mailto:x@example.org"}
	rec, n := dnscheck.SelectTXT(txt, "v=TLSRPTv1")
	fmt.Println(n, rec)
	// Output:
	// 1 v=TLSRPTv1; rua=mailto:tlsrpt@example.org
}

// Every finding code has its severities in one table.
func ExampleCodeOf() {
	for _, code := range []string{dnscheck.CodeMXCNAME, dnscheck.CodeMTASTSNoStartTLS, dnscheck.CodeICMPPrefix + "port-unreachable"} {
		c, _ := dnscheck.CodeOf(code)
		fmt.Println(code, c.Code, c.Severities)
	}
	// Output:
	// mx-cname mx-cname [warning]
	// mta-sts-no-starttls mta-sts-no-starttls [critical warning]
	// icmp-port-unreachable icmp-CLASS [warning]
}
