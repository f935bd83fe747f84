package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
)

// DefaultFetchTimeout bounds a policy fetch: connect, TLS, request and
// body. RFC 8461 §3.3 leaves the value to the sender; a minute is what
// common senders allow, and a probe need not wait longer than they do.
const DefaultFetchTimeout = 20 * time.Second

// DefaultMaxBytes caps the policy body. RFC 8461 §3.3 lets senders limit
// it; 64 KiB is far above any real policy (a few hundred bytes).
const DefaultMaxBytes = 64 << 10

// Port is the port of the policy host (HTTPS, RFC 8461 §3.3).
const Port = 443

// WellKnownPath is where the policy lives (RFC 8461 §3.3).
const WellKnownPath = "/.well-known/mta-sts.txt"

// PolicyHost is the name of the policy host of domain (RFC 8461 §3.3).
func PolicyHost(domain string) string {
	return "mta-sts." + strings.TrimSuffix(domain, ".")
}

// PolicyURL is the URL of domain's policy (RFC 8461 §3.3).
func PolicyURL(domain string) string {
	return "https://" + PolicyHost(domain) + WellKnownPath
}

// Fetcher fetches policies. Dial is required: it opens the TCP connection
// to "mta-sts.DOMAIN:443", so it resolves the name (through the run's
// resolver, not the system's) and decides which addresses may be
// contacted. No proxy from the environment is used.
type Fetcher struct {
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	RootCAs  *x509.CertPool // nil: the system pool (SSL_CERT_FILE, SSL_CERT_DIR)
	Timeout  time.Duration  // 0 means DefaultFetchTimeout
	MaxBytes int64          // 0 means DefaultMaxBytes
}

// FetchError is a policy that could not be fetched or parsed. Its Error is
// one line that names the URL.
type FetchError struct {
	URL    string
	Status int   // the HTTP status, when there was a response
	Err    error // the cause; a *SyntaxError for a policy that does not parse
}

func (e *FetchError) Error() string { return e.URL + ": " + e.Err.Error() }
func (e *FetchError) Unwrap() error { return e.Err }

// Errors a FetchError can wrap besides transport, TLS and syntax errors.
var (
	ErrRedirect    = errors.New("redirect not followed (RFC 8461 §3.3)")
	ErrStatus      = errors.New("HTTP status is not 200 OK (RFC 8461 §3.3)")
	ErrContentType = errors.New("Content-Type is not text/plain (RFC 8461 §3.2)")
	ErrTooLarge    = errors.New("policy larger than the size limit")
)

// Fetch fetches and parses domain's policy from PolicyURL(domain) by RFC
// 8461 §3.3: HTTPS with a certificate valid for the policy host (PKIX),
// no redirects, status 200, Content-Type text/plain, at most MaxBytes.
// Every failure is a *FetchError, except a cancelled ctx.
func (f *Fetcher) Fetch(ctx context.Context, domain string) (*Policy, error) {
	url := PolicyURL(domain)
	fail := func(status int, err error) (*Policy, error) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &FetchError{URL: url, Status: status, Err: err}
	}
	if f.Dial == nil {
		return fail(0, errors.New("no dialer configured"))
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	max := f.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{
		Proxy:       nil, // never an environment proxy: the dialer decides where bytes go
		DialContext: f.Dial,
		TLSClientConfig: &tls.Config{
			RootCAs:    f.RootCAs,
			ServerName: PolicyHost(domain),
			MinVersion: tls.VersionTLS12,
		},
		DisableKeepAlives:      true,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 16 << 10,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(0, err)
	}
	req.Header.Set("User-Agent", "smtpprobe")
	resp, err := client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap() // drop net/http's `Get "URL":` prefix; FetchError names the URL
		}
		return fail(0, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc := resp.Header.Get("Location")
		return fail(resp.StatusCode, fmt.Errorf("%w: %s to %q", ErrRedirect, resp.Status, clip(loc)))
	case resp.StatusCode != http.StatusOK:
		return fail(resp.StatusCode, fmt.Errorf("%w: %s", ErrStatus, clip(resp.Status)))
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "text/plain" {
		return fail(resp.StatusCode, fmt.Errorf("%w: %q", ErrContentType, clip(resp.Header.Get("Content-Type"))))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return fail(resp.StatusCode, fmt.Errorf("reading the body: %w", err))
	}
	if int64(len(body)) > max {
		return fail(resp.StatusCode, fmt.Errorf("%w of %d bytes", ErrTooLarge, max))
	}
	p, err := ParsePolicy(string(body))
	if err != nil {
		return fail(resp.StatusCode, err)
	}
	return p, nil
}
