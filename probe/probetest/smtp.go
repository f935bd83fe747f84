// Package probetest provides real protocol peers on loopback for tests, the
// demo and benchmarks: go-smtp servers with configurable misbehaviour and a
// miekg/dns server for a zone given as master-file text.
package probetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTPOptions configure a test SMTP server.
type SMTPOptions struct {
	Domain      string        // greeting and EHLO name; default "mx.example.com"
	GreetDelay  time.Duration // delay before the 220 greeting
	ReadTimeout time.Duration // go-smtp answers "421 4.4.2 Idle timeout" after this much silence
	TLS         bool          // offer STARTTLS with a fresh self-signed certificate for Domain
	CertTTL     time.Duration // certificate lifetime; default 90 days; negative: expired that long ago
	MaxBytes    int64         // advertised SIZE; 0 means go-smtp's default
}

// SMTPServer is a running go-smtp server.
type SMTPServer struct {
	Addr netip.AddrPort
	Cert *x509.Certificate // when TLS is on

	srv      *smtp.Server
	log      *panicLog
	ln       *trackListener
	messages atomic.Int64
	sessions atomic.Int64
	wg       sync.WaitGroup
}

// StartSMTP listens on addr ("127.0.0.1:0") and serves SMTP until Close.
func StartSMTP(addr string, opt SMTPOptions) (*SMTPServer, error) {
	if opt.Domain == "" {
		opt.Domain = "mx.example.com"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &SMTPServer{ln: &trackListener{Listener: ln, conns: map[net.Conn]struct{}{}}}
	ap, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.Addr = ap
	srv := smtp.NewServer(&backend{s: s})
	s.log = &panicLog{Logger: log.New(os.Stderr, "smtp/server ", log.LstdFlags)}
	srv.ErrorLog = s.log
	srv.Domain = opt.Domain
	srv.ReadTimeout = opt.ReadTimeout
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = false
	srv.EnableSMTPUTF8 = true
	srv.EnableBINARYMIME = false
	if opt.MaxBytes > 0 {
		srv.MaxMessageBytes = opt.MaxBytes
	}
	if opt.TLS {
		cfg, cert, err := SelfSigned(opt.Domain, opt.CertTTL)
		if err != nil {
			ln.Close()
			return nil, err
		}
		srv.TLSConfig = cfg
		s.Cert = cert
	}
	s.srv = srv
	var l net.Listener = s.ln
	if opt.GreetDelay > 0 {
		l = &delayListener{Listener: s.ln, delay: opt.GreetDelay}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = srv.Serve(l)
	}()
	return s, nil
}

// Messages returns how many messages the server accepted (final dot).
func (s *SMTPServer) Messages() int64 { return s.messages.Load() }

// Sessions returns how many sessions the server saw.
func (s *SMTPServer) Sessions() int64 { return s.sessions.Load() }

// Close stops the server and closes its connections, in an order that
// keeps go-smtp's handlers to themselves: stop accepting and wait for
// Serve to return, then close each connection's socket underneath
// go-smtp, so that every handler fails its read or write and ends the
// session in its own goroutine, and wait for the handlers. go-smtp's own
// Server.Close instead closes each Conn from this goroutine while its
// handler runs, which (v0.25.1) races with handleStartTLS replacing
// Conn.conn and nils the session that handleData is about to call
// (panic: nil pointer in handleData).
func (s *SMTPServer) Close() error {
	s.ln.Close() // Serve's Accept fails and Serve returns
	s.wg.Wait()  // no handler starts after this
	s.ln.closeConns()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Shutdown waits for the handlers; its other errors are only the
	// listener closed above, or a second Close.
	if err := s.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
		return errors.New("probetest: go-smtp handlers still running 10s after their sockets were closed")
	}
	return s.log.err()
}

// panicLog is go-smtp's error log, which also remembers the first panic
// a handler recovered from, for Close to return.
type panicLog struct {
	*log.Logger
	mu    sync.Mutex
	panic string
}

func (l *panicLog) Printf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(msg, "panic serving") {
		l.mu.Lock()
		if l.panic == "" {
			l.panic, _, _ = strings.Cut(msg, "\n")
		}
		l.mu.Unlock()
	}
	l.Logger.Print(msg)
}

func (l *panicLog) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.panic != "" {
		return errors.New("probetest: a go-smtp handler panicked: " + l.panic)
	}
	return nil
}

// trackListener remembers the sockets it accepted, so that Close can
// shut them underneath go-smtp.
type trackListener struct {
	net.Listener
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
	} else {
		l.conns[c] = struct{}{}
	}
	return c, nil
}

// closeConns closes every accepted socket, and any accepted later.
func (l *trackListener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

type backend struct{ s *SMTPServer }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.sessions.Add(1)
	return &session{s: b.s}, nil
}

type session struct{ s *SMTPServer }

func (*session) Mail(from string, opts *smtp.MailOptions) error { return nil }
func (*session) Rcpt(to string, opts *smtp.RcptOptions) error   { return nil }
func (s *session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.s.messages.Add(1)
	return nil
}
func (*session) Reset()        {}
func (*session) Logout() error { return nil }

// delayListener delays the first write of each connection: the greeting.
type delayListener struct {
	net.Listener
	delay time.Duration
}

func (l *delayListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &delayConn{Conn: c, delay: l.delay}, nil
}

type delayConn struct {
	net.Conn
	delay time.Duration
	once  sync.Once
}

func (c *delayConn) Write(p []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.delay) })
	return c.Conn.Write(p)
}

// SelfSigned makes a TLS server configuration with a new self-signed
// ECDSA certificate for name, valid from an hour ago for ttl (default 90
// days).
func SelfSigned(name string, ttl time.Duration) (*tls.Config, *x509.Certificate, error) {
	if ttl == 0 {
		ttl = 90 * 24 * time.Hour
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(min(-time.Hour, ttl-24*time.Hour)), // a negative ttl: expired
		NotAfter:     time.Now().Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	return cfg, cert, nil
}
