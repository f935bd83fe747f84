package wire

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

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
