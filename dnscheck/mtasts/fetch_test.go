package mtasts

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testCA returns a pool with a fresh CA and a server certificate for names.
func testCA(t testing.TB, names ...string) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serve starts an HTTPS server with h and returns a Fetcher whose Dial
// always reaches it (on loopback), whatever name is asked.
func serve(t *testing.T, h http.HandlerFunc, names ...string) (*Fetcher, *[]string) {
	pool, cert := testCA(t, names...)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	var dialed []string
	f := &Fetcher{RootCAs: pool, Timeout: 5 * time.Second, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}}
	return f, &dialed
}

func TestFetch(t *testing.T) {
	policy := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != WellKnownPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(rfcPolicy))
	}
	f, dialed := serve(t, policy, "mta-sts.example.com")
	p, err := f.Fetch(context.Background(), "example.com")
	if err != nil || p.Mode != ModeEnforce || len(p.MX) != 3 {
		t.Fatalf("Fetch = %+v, %v; want the RFC policy", p, err)
	}
	if len(*dialed) != 1 || (*dialed)[0] != "mta-sts.example.com:443" {
		t.Errorf("dialed %v, want [mta-sts.example.com:443]", *dialed)
	}
}

func TestFetchFailures(t *testing.T) {
	big := "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n" + strings.Repeat("x: y\n", DefaultMaxBytes/5+1)
	for _, tc := range []struct {
		name  string
		h     http.HandlerFunc
		names []string
		want  error  // errors.Is target, or nil
		sub   string // substring of the error
	}{
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		}, []string{"mta-sts.example.com"}, ErrRedirect, "elsewhere.example"},
		{"404", http.NotFound, []string{"mta-sts.example.com"}, ErrStatus, "404"},
		{"content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(rfcPolicy))
		}, []string{"mta-sts.example.com"}, ErrContentType, "text/html"},
		{"too large", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(big))
		}, []string{"mta-sts.example.com"}, ErrTooLarge, "65536"},
		{"syntax", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("version: STSv1\nmode: strict\n"))
		}, []string{"mta-sts.example.com"}, nil, "mode \"strict\""},
		{"wrong name", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(rfcPolicy))
		}, []string{"www.example.com"}, nil, "certificate is valid for www.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := serve(t, tc.h, tc.names...)
			p, err := f.Fetch(context.Background(), "example.com")
			var fe *FetchError
			if !errors.As(err, &fe) || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.sub) {
				t.Fatalf("Fetch = %+v, %v; want a *FetchError (%v) containing %q", p, err, tc.want, tc.sub)
			}
			if !strings.HasPrefix(err.Error(), "https://mta-sts.example.com/.well-known/mta-sts.txt: ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line that starts with the URL", err)
			}
		})
	}
}

func TestFetchUntrusted(t *testing.T) {
	f, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {}, "mta-sts.example.com")
	f.RootCAs = x509.NewCertPool() // trusts nothing
	if _, err := f.Fetch(context.Background(), "example.com"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Fetch with an untrusted CA = %v, want a certificate error", err)
	}
}
