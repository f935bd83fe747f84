package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
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

// followCNAME follows the alias chain from name within an answer section
// (RFC 1034 §3.6.2), for at most maxCNAMEHops aliases, and returns where
// it ends and how many aliases it followed.
func followCNAME(answer []dns.RR, name string) (target string, hops int) {
	target = name
	for hops < maxCNAMEHops {
		next := ""
		for _, rr := range answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, target) {
				next = c.Target
				break
			}
		}
		if next == "" {
			break
		}
		target = next
		hops++
	}
	return target, hops
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
		target, hops := followCNAME(msg.Answer, cur)
		if hop == 0 && hops > 0 {
			ans.alias = true
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

// exchange sends one query to the servers in order and returns the first
// response of any rcode with the server that gave it. A server that does
// not answer in time is asked up to Attempts times; one that answers with
// garbage, or whose port is unreachable, is not asked again (the next
// server is). When none answers, the error is a *QueryError whose Err is
// the last server's *ExchangeError.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, error) {
	return r.exchangeDO(ctx, name, qtype, false)
}

// exchangeDO is exchange; with dnssec the query has the DO bit (RFC 3225)
// and the AD bit (RFC 6840 §5.7) set, so that a validating resolver says
// whether it validated the answer.
func (r *Resolver) exchangeDO(ctx context.Context, name string, qtype uint16, dnssec bool) (*dns.Msg, string, error) {
	servers, err := r.servers()
	if err != nil {
		return nil, "", err
	}
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	q.AuthenticatedData = dnssec
	q.SetEdns0(ednsBufSize, dnssec)

	var lastErr *ExchangeError
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
			if err.Kind != ErrTimeout {
				break // asking again gets the same garbage or refusal
			}
		}
	}
	rcode := map[error]string{ErrTimeout: rcodeTimeout, ErrMalformed: rcodeMalformed,
		ErrTruncated: rcodeTruncated, ErrUnreachable: rcodeUnreachable}[lastErr.Kind]
	return nil, last, &QueryError{Name: name, Type: typeString(qtype), Server: last, RCode: rcode, Err: lastErr}
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
// (RFC 7766 §5). Each transport gets its own Timeout. A failure says what
// went wrong: no answer in time, an answer that is not a DNS message, an
// unreachable port, or a truncated answer whose TCP retry failed.
func (r *Resolver) exchangeOnce(ctx context.Context, q *dns.Msg, server string) (*dns.Msg, *ExchangeError) {
	resp, err := r.do(ctx, "udp", q, server)
	if err != nil && (resp == nil || !resp.Truncated) {
		return nil, exchangeError(server, resp, err)
	}
	if err == nil && !resp.Truncated {
		if e := checkAnswer(q, resp); e != nil {
			return nil, &ExchangeError{Server: server, Kind: ErrMalformed, Err: e}
		}
		return resp, nil
	}
	resp, err = r.do(ctx, "tcp", q, server)
	if err != nil {
		e := exchangeError(server, resp, err)
		if e.Kind != ErrMalformed {
			e.Kind = ErrTruncated
		}
		return nil, e
	}
	if e := checkAnswer(q, resp); e != nil {
		return nil, &ExchangeError{Server: server, Kind: ErrMalformed, Err: fmt.Errorf("over TCP: %w", e)}
	}
	return resp, nil
}

// errAnswerMismatch: a response that does not answer the question asked.
var errAnswerMismatch = errors.New("the response does not answer the question asked")

// checkAnswer checks that resp is a response to q (RFC 1035 §4.1.1: QR
// set, the same question; RFC 5452 §4.1 for matching the question).
func checkAnswer(q, resp *dns.Msg) error {
	if !resp.Response {
		return fmt.Errorf("QR bit not set: %w", errAnswerMismatch)
	}
	// A response may leave out the question section (FORMERR, NOTIMP);
	// if it has one, it must be ours.
	if len(resp.Question) > 0 {
		if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, q.Question[0].Name) ||
			resp.Question[0].Qtype != q.Question[0].Qtype {
			return fmt.Errorf("question %s: %w", safeQuestion(resp.Question), errAnswerMismatch)
		}
	}
	return nil
}

func safeQuestion(qs []dns.Question) string {
	if len(qs) != 1 {
		return fmt.Sprintf("section with %d entries", len(qs))
	}
	return fmt.Sprintf("%s %s", qs[0].Name, typeString(qs[0].Qtype))
}

// exchangeError classifies the error of one transport's exchange.
func exchangeError(server string, resp *dns.Msg, err error) *ExchangeError {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &ExchangeError{Server: server, Kind: ErrTimeout, Err: err}
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return &ExchangeError{Server: server, Kind: ErrUnreachable, Err: err}
	}
	var oe *net.OpError
	if resp == nil && errors.As(err, &oe) {
		// Some other socket failure on the way to the server.
		return &ExchangeError{Server: server, Kind: ErrUnreachable, Err: err}
	}
	// What is left came from parsing the bytes that arrived: a short
	// read, an unpack error, a wrong ID over TCP.
	return &ExchangeError{Server: server, Kind: ErrMalformed, Err: err}
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
