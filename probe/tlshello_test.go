package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe/probetest"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

func TestHelloVerdict(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   helloEvidence
		want Outcome
	}{
		{"full-size segments vanish, the split hello passes", helloEvidence{Full: mtu.Lost, Passed: true}, PMTUBlackhole},
		{"full-size segments vanish, the split hello fails too", helloEvidence{Full: mtu.Lost}, PMTUBlackhole},
		{"full-size segments pass, the classical hello passes", helloEvidence{Full: mtu.Delivered, Passed: true}, TLSMiddlebox},
		{"full-size segments pass, the classical hello fails", helloEvidence{Full: mtu.Delivered}, TLSError},
		{"the full-size check failed", helloEvidence{Full: mtu.Unknown, Passed: true}, ""},
		{"the full-size check timed out", helloEvidence{Full: mtu.TimedOut, Passed: true}, ""},
	} {
		if got := helloVerdict(tc.in); got != tc.want {
			t.Errorf("helloVerdict(%s: %+v) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// helloOf returns the ClientHello Go's TLS client writes with curves, as
// helloConn records it.
func helloOf(t *testing.T, curves []tls.CurveID) HelloAttempt {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		buf := make([]byte, 1<<14)
		_, _ = b.Read(buf)
		b.Close()
	}()
	h := wire.NewHelloConn(a, 0)
	c := tls.Client(h.Wrap(a), &tls.Config{ServerName: "mx.example.com", InsecureSkipVerify: true, CurvePreferences: curves})
	_ = c.Handshake() // the peer closes after the hello
	return helloRecord(h, "whole")
}

func TestHelloKeyShares(t *testing.T) {
	for _, tc := range []struct {
		groups   wire.TLSGroups
		want     []string
		min, max int
	}{
		{wire.TLSGroupsPQ, []string{"X25519MLKEM768", "x25519"}, 1300, 1700},
		{wire.TLSGroupsDefault, []string{"X25519MLKEM768", "x25519"}, 1300, 1700},
		{wire.TLSGroupsClassical, []string{"x25519"}, 200, 400},
	} {
		a := helloOf(t, tc.groups.Curves())
		if !slices.Equal(a.KeyShare, tc.want) || a.Bytes < tc.min || a.Bytes > tc.max {
			t.Errorf("hello of %s = key share %q, %d bytes; want %q, %d to %d bytes", tc.groups, a.KeyShare, a.Bytes, tc.want, tc.min, tc.max)
		}
		if len(a.Writes) != 1 || a.Writes[0] != a.Bytes {
			t.Errorf("hello of %s written as %v, want one write of %d", tc.groups, a.Writes, a.Bytes)
		}
	}
}

// TestSplitHello writes a real ClientHello with an X25519MLKEM768 key
// share in two writes on a loopback TCP connection to Go's TLS server,
// which reassembles the record (RFC 8446 §5.1: a record may span
// segments) and completes the handshake; TCP_INFO counts one segment per
// write (TCP_NODELAY).
func TestSplitHello(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.example.com"},
		DNSNames: []string{"mx.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		done <- tc.Handshake()
	}()
	raw, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	full := helloOf(t, wire.TLSGroupsPQ.Curves())
	h := wire.NewHelloConn(raw, full.Bytes/2)
	c := tls.Client(h.Wrap(raw), &tls.Config{InsecureSkipVerify: true, CurvePreferences: wire.TLSGroupsPQ.Curves()})
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatalf("split hello: client handshake: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("split hello: server handshake: %v", err)
	}
	a := helloRecord(h, "split")
	if len(a.Writes) != 2 || a.Writes[0] != h.Split() || a.Writes[0]+a.Writes[1] != a.Bytes {
		t.Errorf("split hello writes = %v for %d bytes, want %d and the rest", a.Writes, a.Bytes, h.Split())
	}
	if a.Segments != 2 {
		t.Errorf("split hello took %d segments (TCP_INFO), want 2", a.Segments)
	}
	if st := c.ConnectionState(); wire.GroupName(st.CurveID) != "X25519MLKEM768" {
		t.Errorf("split hello negotiated %s, want X25519MLKEM768", wire.GroupName(st.CurveID))
	}
}

// TestCheckKeyShare: mx's session records the key shares its hello
// offered and the group negotiated, for each --tls-groups choice, against
// an in-process go-smtp server (Go's TLS, which supports X25519MLKEM768).
func TestCheckKeyShare(t *testing.T) {
	srv, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{Domain: "mx.example.com", TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range []struct {
		groups wire.TLSGroups
		share  []string
		group  string
	}{
		{"", []string{"X25519MLKEM768", "x25519"}, "X25519MLKEM768"},
		{wire.TLSGroupsPQ, []string{"X25519MLKEM768", "x25519"}, "X25519MLKEM768"},
		{wire.TLSGroupsClassical, []string{"x25519"}, "x25519"},
	} {
		p := &Prober{RootCAs: x509CertPool(srv), TLSGroups: tc.groups, ReplyTimeout: 5 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, _ := p.MX(ctx, Target{Host: "mx.example.com", Addr: netip.AddrPortFrom(srv.Addr.Addr(), srv.Addr.Port()), Preference: -1}, MXOptions{})
		cancel()
		if r.Outcome != OK || r.TLS == nil {
			t.Fatalf("MX(tls groups %q) = %s (%s), want ok with TLS", tc.groups, r.Outcome, r.Error)
		}
		if !slices.Equal(r.TLS.KeyShare, tc.share) || r.TLS.Group != tc.group || r.TLS.HelloBytes == 0 || r.TLS.HelloStall != nil {
			t.Errorf("MX(tls groups %q) TLS = key share %q, group %q, hello %d bytes, stall %v; want %q, %q", tc.groups, r.TLS.KeyShare, r.TLS.Group, r.TLS.HelloBytes, r.TLS.HelloStall, tc.share, tc.group)
		}
	}
}
