package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/miekg/dns"
)

const (
	defaultTimeout  = 3 * time.Second
	defaultAttempts = 2

	// ednsBufSize is the EDNS0 UDP payload size (RFC 6891 §6.2.5), the
	// value of DNS Flag Day 2020 that avoids IP fragmentation.
	ednsBufSize = 1232

	// maxCNAMEHops bounds alias chains (RFC 1034 §3.6.2 allows chains,
	// resolvers bound them to stop loops).
	maxCNAMEHops = 8

	// defaultResolvConf is read when Resolver.Servers is empty.
	defaultResolvConf = "/etc/resolv.conf"
)

// Resolver is a stub resolver that asks recursive servers. It sends each
// query over UDP with EDNS0 (RFC 6891) and a 1232-byte buffer, recursion
// desired, and repeats it over TCP when the answer is truncated (TC bit,
// RFC 1035 §4.2.1, RFC 7766 §5). The zero value reads its servers from
// /etc/resolv.conf. A Resolver is safe for concurrent use.
type Resolver struct {
	// Servers are "host:port" entries, tried in order until one answers.
	// An answer with any response code counts as answered.
	Servers []string
	// Timeout is the limit per attempt; 0 means 3s.
	Timeout time.Duration
	// Attempts is the number of attempts per server; 0 means 2.
	Attempts int
	// Shuffle orders exchangers of equal preference at random (RFC 5321
	// §5.1); nil means math/rand/v2's Shuffle. Tests pin it.
	Shuffle func(n int, swap func(i, j int))
}

func (r *Resolver) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return defaultTimeout
}

func (r *Resolver) attempts() int {
	if r.Attempts > 0 {
		return r.Attempts
	}
	return defaultAttempts
}

func (r *Resolver) shuffle(n int, swap func(i, j int)) {
	if r.Shuffle != nil {
		r.Shuffle(n, swap)
		return
	}
	rand.Shuffle(n, swap)
}

func (r *Resolver) servers() ([]string, error) {
	if len(r.Servers) > 0 {
		return r.Servers, nil
	}
	s, err := ResolvConf(defaultResolvConf)
	if err != nil {
		return nil, fmt.Errorf("dnscheck: no resolver configured: %w", err)
	}
	return s, nil
}

// answer is the outcome of one resolved name and type.
type answer struct {
	rrs       []dns.RR // records of the asked type at the end of the alias chain
	alias     bool     // the asked name itself is a CNAME (RFC 1034 §3.6.2)
	canonical string   // the name at the end of the alias chain, fully qualified
	server    string   // the server that answered last
}

// resolve looks up name (fully qualified) and type, following CNAME chains
// within the answer and, where a server returned a chain without the final
// records, by asking again for the chain's end. A DNS failure is a
// *QueryError; a cancelled ctx or an unusable configuration is returned as
// is. The answer is filled in as far as it got, even with an error.
func (r *Resolver) resolve(ctx context.Context, name string, qtype uint16) (answer, error) {
	ans := answer{canonical: name}
	cur := name
	seen := map[string]bool{}
	for hop := 0; ; hop++ {
		seen[strings.ToLower(cur)] = true
		msg, server, err := r.exchange(ctx, cur, qtype)
		ans.server = server
		if err != nil {
			return ans, err
		}
		// Follow the alias chain within the answer section.
		target := cur
		for range maxCNAMEHops {
			next := ""
			for _, rr := range msg.Answer {
				if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, target) {
					next = c.Target
					break
				}
			}
			if next == "" {
				break
			}
			if hop == 0 && target == name {
				ans.alias = true
			}
			target = next
		}
		ans.canonical = target
		if qerr := rcodeError(msg, cur, qtype, server); qerr != nil {
			return ans, qerr
		}
		for _, rr := range msg.Answer {
			if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, target) {
				ans.rrs = append(ans.rrs, rr)
			}
		}
		if len(ans.rrs) > 0 || strings.EqualFold(target, cur) || seen[strings.ToLower(target)] || hop >= maxCNAMEHops {
			return ans, nil
		}
		// The server gave an alias but not the records it points to (a
		// non-recursive or partial answer): ask for the chain's end.
		cur = target
	}
}

// rcodeError maps a response code to a *QueryError, nil for NOERROR.
func rcodeError(msg *dns.Msg, name string, qtype uint16, server string) error {
	var sentinel error
	switch msg.Rcode {
	case dns.RcodeSuccess:
		return nil
	case dns.RcodeNameError:
		sentinel = ErrNXDOMAIN
	case dns.RcodeServerFailure:
		sentinel = ErrServFail
	case dns.RcodeRefused:
		sentinel = ErrRefused
	}
	rc := dns.RcodeToString[msg.Rcode]
	if rc == "" {
		rc = fmt.Sprintf("RCODE%d", msg.Rcode)
	}
	if sentinel == nil {
		sentinel = errors.New(rc)
	}
	return &QueryError{Name: name, Type: typeString(qtype), Server: server, RCode: rc, Err: sentinel}
}

func typeString(qtype uint16) string {
	if s, ok := dns.TypeToString[qtype]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", qtype)
}

// exchange sends one query to the servers in order, each up to Attempts
// times, and returns the first response of any rcode with the server that
// gave it. When none answers, the error is a *QueryError matching
// [ErrTimeout] that also wraps the last network error.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, error) {
	servers, err := r.servers()
	if err != nil {
		return nil, "", err
	}
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	q.SetEdns0(ednsBufSize, false)

	var lastErr error
	var last string
	for _, s := range servers {
		for range r.attempts() {
			if err := ctxErr(ctx); err != nil {
				return nil, last, err
			}
			last = s
			q.Id = dns.Id()
			resp, err := r.exchangeOnce(ctx, q, s)
			if err == nil {
				return resp, s, nil
			}
			if err := ctxErr(ctx); err != nil {
				return nil, s, err
			}
			lastErr = err
		}
	}
	return nil, last, &QueryError{
		Name:   name,
		Type:   typeString(qtype),
		Server: last,
		RCode:  rcodeTimeout,
		Err:    fmt.Errorf("%w (%w)", ErrTimeout, lastErr),
	}
}

// ctxErr is ctx.Err, but also reports a deadline that has passed before
// the context's own timer has fired: a socket deadline taken from ctx can
// expire a moment earlier, and that failure is the caller's deadline, not a
// silent resolver.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// exchangeOnce is one attempt: UDP, then TCP if the UDP answer is truncated
// (RFC 7766 §5). Each transport gets its own Timeout.
func (r *Resolver) exchangeOnce(ctx context.Context, q *dns.Msg, server string) (*dns.Msg, error) {
	resp, err := r.do(ctx, "udp", q, server)
	if err != nil && (resp == nil || !resp.Truncated) {
		return nil, err
	}
	if !resp.Truncated {
		return resp, nil
	}
	return r.do(ctx, "tcp", q, server)
}

// do sends q over network with (*dns.Client).ExchangeWithConnContext, the
// body of ExchangeContext, so that a cancelled ctx also unblocks the read.
func (r *Resolver) do(ctx context.Context, network string, q *dns.Msg, server string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	c := &dns.Client{Net: network, Timeout: r.timeout(), UDPSize: ednsBufSize}
	co, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	// miekg/dns turns the ctx deadline into a socket deadline but does not
	// watch for cancellation; this does.
	stop := context.AfterFunc(ctx, func() { _ = co.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, q, co)
	return resp, err
}
