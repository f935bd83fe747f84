package probe

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// BenchmarkMX runs the whole `mx` session against an in-process go-smtp
// server on loopback: connect, banner, EHLO, (STARTTLS, EHLO,) QUIT. The
// TLS variant trusts the server's certificate, so verification succeeds
// without loading the system roots.
func BenchmarkMX(b *testing.B) {
	for _, bc := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"starttls", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{Domain: "mx.example.com", TLS: bc.tls})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			p := &Prober{Helo: "probe.example.com", ConnectTimeout: 2 * time.Second, ReplyTimeout: 5 * time.Second}
			if bc.tls {
				p.RootCAs = x509CertPool(s)
			}
			t := Target{Host: "mx.example.com", Addr: s.Addr, Preference: 10}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := p.MX(ctx, t)
				if r.Outcome != OK {
					b.Fatalf("MX = %s (%s), want ok\n%s", r.Outcome, r.Error, dump(r.Timeline))
				}
				if bc.tls && (r.TLS == nil || !r.TLS.Verified) {
					b.Fatalf("MX.TLS = %+v, want a verified TLS session", r.TLS)
				}
			}
		})
	}
}

// benchEHLO is a Postfix-like EHLO reply of 12 lines.
const benchEHLO = "250-mx.example.com\r\n" +
	"250-PIPELINING\r\n" +
	"250-SIZE 10240000\r\n" +
	"250-VRFY\r\n" +
	"250-ETRN\r\n" +
	"250-STARTTLS\r\n" +
	"250-AUTH PLAIN LOGIN\r\n" +
	"250-ENHANCEDSTATUSCODES\r\n" +
	"250-8BITMIME\r\n" +
	"250-DSN\r\n" +
	"250-SMTPUTF8\r\n" +
	"250 CHUNKING\r\n"

// pipePeer serves the client end of a net.Pipe: a greeting, benchEHLO for
// every EHLO, 221 for QUIT; it returns when the client closes.
func pipePeer(c net.Conn) {
	defer c.Close()
	if _, err := c.Write([]byte("220 mx.example.com ESMTP bench\r\n")); err != nil {
		return
	}
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		reply := "502 5.5.2 unknown command\r\n"
		switch {
		case strings.HasPrefix(l, "EHLO "):
			reply = benchEHLO
		case strings.HasPrefix(l, "QUIT"):
			_, _ = c.Write([]byte("221 2.0.0 bye\r\n"))
			return
		}
		if _, err := c.Write([]byte(reply)); err != nil {
			return
		}
	}
}

// BenchmarkReadReply sends EHLO and reads the 12-line reply through Conn
// (its reader goroutine, line parsing, timeline and queue) over net.Pipe,
// so no network stack is involved. A session is replaced every
// sessionOps commands to keep its timeline from growing without bound.
func BenchmarkReadReply(b *testing.B) {
	const sessionOps = 1024
	ctx := context.Background()
	var c *Conn
	open := func() {
		client, server := net.Pipe()
		go pipePeer(server)
		c = newConn(client, time.Now(), nil, "pipe")
		if r, err := c.ReadReply(ctx, 5*time.Second); err != nil || r.Code != 220 {
			b.Fatalf("greeting = %v, %v; want 220", r, err)
		}
	}
	open()
	b.Cleanup(func() { c.Close() })
	b.SetBytes(int64(len(benchEHLO)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%sessionOps == 0 {
			b.StopTimer()
			c.Close()
			open()
			b.StartTimer()
		}
		r, err := c.Cmd(ctx, 5*time.Second, "EHLO probe.example.com")
		if err != nil || r.Code != 250 || len(r.Lines) != 12 {
			b.Fatalf("EHLO = %+v, %v; want 250 with 12 lines", r, err)
		}
	}
}
