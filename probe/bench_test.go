package probe

import (
	"context"
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
				r, _ := p.MX(ctx, t, MXOptions{})
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
