package probe_test

import (
	"context"
	"fmt"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// The mx probe of a domain: resolve its MX, open a session to every
// address (EHLO, STARTTLS when offered, QUIT), and judge. The peers are
// in-process: a DNS server and a go-smtp server on loopback, which offers
// no STARTTLS (a warning).
func ExampleProber_RunMX() {
	smtp, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{Domain: "mx.example.org"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer smtp.Close()
	dns, err := probetest.StartDNS("127.0.0.1:0", `
example.org.    300 IN MX 10 mx.example.org.
mx.example.org. 300 IN A 127.0.0.1
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dns.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := &probe.Prober{Helo: "probe.example.net", ReplyTimeout: 5 * time.Second}
	res := &dnscheck.Resolver{Servers: []string{dns.Addr}}
	rep, err := p.RunMX(ctx, res, "example.org", probe.RunOptions{Port: smtp.Addr.Port(), NoPTR: true, NoPolicy: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Outcome, rep.Status())
	for _, r := range rep.Results {
		fmt.Println(r.Host, r.Address, r.Outcome, r.Reply.Code)
	}
	for _, f := range rep.Findings {
		fmt.Println(f.Severity, f.Code)
	}
	// Output:
	// ok WARNING
	// mx.example.org 127.0.0.1 ok 221
	// warning starttls-not-offered
}

// The session probe of one address: a transaction up to DATA and a body
// of the size asked for, abandoned without the final dot, so nothing is
// delivered.
func ExampleProber_Session() {
	smtp, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer smtp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := &probe.Prober{Helo: "probe.example.net", ReplyTimeout: 5 * time.Second}
	r, err := p.Session(ctx, probe.Target{Host: "mx.example.org", Addr: smtp.Addr, Preference: -1},
		probe.SessionOptions{Size: 10000, To: []string{"postmaster@example.org"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	time.Sleep(50 * time.Millisecond) // the server counts a message at its final dot
	fmt.Println(r.Outcome, r.MessageBytes >= 10000, smtp.Messages())
	// Output:
	// ok true 0
}
