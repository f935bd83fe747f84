package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
)

// commands are the probe commands a job can run.
var commands = []string{"mx", "session", "timeout", "mtu"}

// job is one run of a probe command against one target: what a command
// line describes, and what a module of a check configuration describes.
// Command lines and modules go through the same validation and the same
// run, so that they cannot drift apart.
type job struct {
	Command string
	Target  string // DOMAIN[:PORT], host name or IP literal

	Resolver       string // host[:port]; "" means /etc/resolv.conf
	ConnectTimeout time.Duration
	ReplyTimeout   time.Duration
	IPv4, IPv6     bool
	Parallel       int // mx, session, timeout: addresses at once; mtu: sessions per round
	Helo           string
	NoStartTLS     bool // mx
	NoPTR          bool // mx

	Session  probe.SessionOptions // session
	Timeout  probe.TimeoutOptions // timeout
	Phase    string               // timeout: one phase or "all"
	MTU      probe.MTUOptions     // mtu
	PauseCmp map[string]time.Duration

	// Limiter bounds the sessions per destination address (check).
	Limiter *probe.HostLimiter
	// Allow, if set, decides which addresses may be connected to (serve).
	Allow func(netip.AddrPort) error

	host   string
	port   uint16
	phases []string
}

// newJob returns a job for command with the defaults of the command line.
func newJob(command string) *job {
	j := &job{Command: command, ConnectTimeout: probe.DefaultConnectTimeout,
		ReplyTimeout: probe.DefaultReplyTimeout, Parallel: 8}
	switch command {
	case "session":
		j.Session.Size = 2048
	case "timeout":
		j.Phase = "all"
		j.Timeout.MaxWait = probe.DefaultMaxWait
	case "mtu":
		j.Parallel = mtu.DefaultParallel
	}
	return j
}

// validate checks the job and resolves its target's syntax. Every
// problem is a *usageError naming the input.
func (j *job) validate() error {
	switch j.Command {
	case "mx", "session", "timeout", "mtu":
	default:
		return usagef("unknown command %q (want %s)", j.Command, strings.Join(commands, ", "))
	}
	if j.ConnectTimeout <= 0 {
		return usagef("--connect-timeout %s: want a positive duration such as 30s", j.ConnectTimeout)
	}
	if j.ReplyTimeout <= 0 {
		return usagef("--timeout %s: want a positive duration such as 60s", j.ReplyTimeout)
	}
	if j.IPv4 && j.IPv6 {
		return usagef("-4 and -6 exclude each other")
	}
	if j.Parallel < 1 || j.Parallel > 1024 {
		return usagef("--parallel %d: want 1 to 1024", j.Parallel)
	}
	if err := checkHelo(j.Helo); err != nil {
		return err
	}
	if j.Resolver != "" {
		if _, err := dnscheck.ParseServer(j.Resolver); err != nil {
			return usagef("--resolver: %v", err)
		}
	}
	host, port, err := splitTarget(j.Target, 25)
	if err != nil {
		return err
	}
	_, ipErr := netip.ParseAddr(host)
	switch {
	case ipErr == nil && j.Command == "mx":
		return usagef("mx: %q is an address; mx wants a domain", host)
	case ipErr != nil:
		if _, err := dnscheck.NormalizeDomain(host); err != nil {
			return usagef("%s: %v", j.Command, err)
		}
	}
	j.host, j.port = host, port
	switch j.Command {
	case "session":
		return j.validateSession()
	case "timeout":
		return j.validateTimeout()
	case "mtu":
		return j.validateMTU()
	}
	return nil
}

func (j *job) validateSession() error {
	o := &j.Session
	if err := nonNegative(map[string]time.Duration{"chunk-pause": o.ChunkPause,
		"pause-before-data": o.PauseBeforeData, "pause-after-data": o.PauseAfterData}); err != nil {
		return err
	}
	if o.Size < 1 || o.Size > maxMessageSize {
		return usagef("--size %d: want 1 to %d bytes", o.Size, maxMessageSize)
	}
	if o.ChunkSize < 0 || o.ChunkSize > maxMessageSize {
		return usagef("--chunk-size %d: want 1 to %d bytes", o.ChunkSize, maxMessageSize)
	}
	if err := validPath("from", o.From); err != nil {
		return err
	}
	for _, t := range o.To {
		if t == "" {
			return usagef("--to: empty recipient")
		}
		if err := validPath("to", t); err != nil {
			return err
		}
	}
	if len(o.To) == 0 {
		o.To = []string{defaultRecipient(j.host)}
	}
	return nil
}

func (j *job) validateTimeout() error {
	j.phases = []string{j.Phase}
	switch {
	case j.Phase == "all":
		j.phases = probe.TimeoutPhases
	case !probe.IsPhase(j.Phase):
		return usagef("--phase %q: want one of %s or all", j.Phase, strings.Join(probe.TimeoutPhases, ", "))
	}
	if j.Timeout.MaxWait <= 0 {
		return usagef("--max-wait %s: want a positive duration such as 10m", j.Timeout.MaxWait)
	}
	if err := nonNegative(j.PauseCmp); err != nil {
		return err
	}
	j.Timeout.Pauses = map[string]time.Duration{}
	for name, d := range j.PauseCmp {
		if d > 0 {
			j.Timeout.Pauses[name] = d
		}
	}
	if err := validPath("from", j.Timeout.From); err != nil {
		return err
	}
	if err := validPath("to", j.Timeout.To); err != nil {
		return err
	}
	if j.Timeout.To == "" {
		j.Timeout.To = defaultRecipient(j.host)
	}
	return nil
}

func (j *job) validateMTU() error {
	o := &j.MTU
	for _, r := range []struct {
		name string
		v    int
	}{{"min", o.Min}, {"max", o.Max}} {
		if r.v != 0 && (r.v < mtu.MinIPv4 || r.v > mtu.MaxIP) {
			return usagef("--%s %d: want an IP packet size from %d to %d", r.name, r.v, mtu.MinIPv4, mtu.MaxIP)
		}
	}
	if o.Min > 0 && o.Max > 0 && o.Min > o.Max {
		return usagef("--min %d is above --max %d", o.Min, o.Max)
	}
	if !probe.ValidDirection(o.Direction) {
		return usagef("--direction %q: want out, in or both", o.Direction)
	}
	o.Parallel = j.Parallel
	if err := validPath("from", o.From); err != nil {
		return err
	}
	if err := validPath("to", o.To); err != nil {
		return err
	}
	if o.To == "" {
		o.To = defaultRecipient(j.host)
	}
	return nil
}

func (j *job) family() dnscheck.Family {
	switch {
	case j.IPv4:
		return dnscheck.IPv4Only
	case j.IPv6:
		return dnscheck.IPv6Only
	}
	return dnscheck.AnyFamily
}

// resolver builds the DNS resolver from Resolver or resolv.conf.
func (j *job) resolver() (*dnscheck.Resolver, error) {
	if j.Resolver != "" {
		s, err := dnscheck.ParseServer(j.Resolver)
		if err != nil {
			return nil, usagef("--resolver: %v", err)
		}
		return &dnscheck.Resolver{Servers: []string{s}}, nil
	}
	servers, err := dnscheck.ResolvConf("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("no DNS resolver: %v (use --resolver host:port)", err)
	}
	return &dnscheck.Resolver{Servers: servers}, nil
}

func (j *job) prober() *probe.Prober {
	return &probe.Prober{
		ConnectTimeout: j.ConnectTimeout,
		ReplyTimeout:   j.ReplyTimeout,
		Helo:           j.Helo,
		NoStartTLS:     j.NoStartTLS,
		Limiter:        j.Limiter,
		Allow:          j.Allow,
	}
}

// run executes a validated job. Its error is a *usageError for input
// the servers showed to be unusable (a message above SIZE, --bdat without
// CHUNKING, an MTU range above the interface), a local failure, or ctx's
// error; with ctx's error it may also return the report of the sessions
// the deadline cut short.
func (j *job) run(ctx context.Context, res *dnscheck.Resolver) (*probe.Report, error) {
	p := j.prober()
	opt := probe.RunOptions{Port: j.port, Family: j.family(), Parallel: j.Parallel, NoPTR: true}
	var (
		mu   sync.Mutex
		errs []error
	)
	keep := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	var fn func(context.Context, probe.Target) []probe.Result
	switch j.Command {
	case "mx":
		opt.NoPTR = j.NoPTR
		fn = func(ctx context.Context, t probe.Target) []probe.Result { return []probe.Result{p.Check(ctx, t)} }
	case "session":
		fn = func(ctx context.Context, t probe.Target) []probe.Result {
			r, err := p.Session(ctx, t, j.Session)
			keep(err)
			return []probe.Result{r}
		}
	case "timeout":
		fn = func(ctx context.Context, t probe.Target) []probe.Result {
			return p.TimeoutAll(ctx, t, j.phases, j.Timeout)
		}
	case "mtu":
		opt.Parallel = 1 // addresses one after another; Parallel is per round
		fn = func(ctx context.Context, t probe.Target) []probe.Result {
			r, err := p.MTU(ctx, t, j.MTU)
			keep(err)
			return []probe.Result{r}
		}
	}
	rep, err := p.Run(ctx, res, j.Command, j.host, opt, fn)
	var ie *dnscheck.InputError
	switch {
	case errors.As(err, &ie):
		return nil, usagef("%s: %v", j.Command, err)
	case err != nil && rep != nil && ctx.Err() != nil:
		// The run's deadline cut the sessions short: the report is
		// complete as far as it goes (the cut sessions end in
		// reply-timeout), and the exporter shows it.
		return rep, err
	case err != nil:
		return nil, err
	}
	for _, e := range errs {
		var (
			ce *probe.CapabilityError
			re *probe.RangeError
		)
		switch {
		case errors.As(e, &ce), errors.As(e, &re):
			return nil, usagef("%s: %v", j.Command, e)
		case errors.Is(e, errors.ErrUnsupported):
			return nil, fmt.Errorf("path-MTU probing needs Linux (DF sockets, TCP_MAXSEG, TCP_INFO); not supported on this system")
		case errors.Is(e, context.Canceled), errors.Is(e, context.DeadlineExceeded):
			return nil, e
		default:
			return nil, fmt.Errorf("this process may not set the socket options the probe needs: %v", e)
		}
	}
	return rep, nil
}
