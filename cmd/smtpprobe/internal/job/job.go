// Package job is the one option model of smtpprobe: a Job is one run of
// a probe kind (Kinds: mx, session, timeout, mtu, path) against one
// target, as a command line, a module of a check configuration or an
// exporter scrape describes it. Every front end fills a Job, calls Validate and Run, and
// renders a *FieldError in its own words (--timeout on the command line,
// "check.yaml:12: timeout" in a configuration).
//
// A new probe option goes here: a field of Job (or of the probe options
// it carries), its default and its check in its kind's row of Kinds (a
// neutral Field key in the check's error). The flag that sets it belongs
// to cmd/smtpprobe, the YAML key to the config package. A new probe kind
// is a row of Kinds (kinds.go).
package job

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/help"
	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// Defaults and bounds of a job.
const (
	DefaultPort     = 25   // RFC 5321 §4.5.4.2 (port 25, SMTP relay)
	DefaultParallel = 8    // mx, session, timeout: addresses at once
	MaxParallel     = 1024 // any command
	DefaultSize     = 2048 // session: message bytes

	// MaxMessageSize bounds a session's size: a synthetic message larger
	// than this is more likely a typo than a test.
	MaxMessageSize = 256 << 20

	// Postmaster is the recipient every server must accept for an IP
	// literal target (RFC 5321 §4.5.1): probe.Postmaster.
	Postmaster = probe.Postmaster
)

// Job is one run of a probe command against one target. Command lines
// and configuration modules go through the same Validate and Run, so
// that they cannot drift apart.
type Job struct {
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
	NoPolicy       bool // mx: skip MTA-STS, TLS-RPT and DANE (issue 12)
	// TLSGroups is the ClientHello's key shares (wire.TLSGroups): pq,
	// classical, default; "" is default (mx, session, timeout).
	TLSGroups string

	Session  probe.SessionOptions // session
	Timeout  probe.TimeoutOptions // timeout
	Phase    string               // timeout: one phase or "all"
	MTU      probe.MTUOptions     // mtu
	Path     probe.PathOptions    // path
	PauseCmp map[string]time.Duration

	// Limiter bounds the sessions per destination address (check).
	Limiter *wire.HostLimiter
	// Allow, if set, decides which addresses may be connected to (serve).
	Allow func(netip.AddrPort) error
	// Progress, if set, is called as the run goes on with the parts done
	// and the parts known so far (timeout: phases; the other commands:
	// addresses), possibly from several goroutines at once. The total
	// grows as the addresses of the target start.
	Progress func(done, total int)

	host   string
	port   uint16
	phases []string
	note   string
}

// New returns a job for command with its defaults: the one place they
// are set for every front end.
func New(command string) *Job {
	j := &Job{Command: command, ConnectTimeout: probe.DefaultConnectTimeout,
		ReplyTimeout: probe.DefaultReplyTimeout, Parallel: DefaultParallel}
	if k, ok := KindOf(command); ok && k.defaults != nil {
		k.defaults(j)
	}
	return j
}

// Note is how Validate read a target that could be meant otherwise
// (TargetNote), or "".
func (j *Job) Note() string { return j.note }

// Host is the target's host (a domain or an IP literal), set by Validate.
func (j *Job) Host() string { return j.host }

// Port is the target's port (DefaultPort unless the target names one),
// set by Validate.
func (j *Job) Port() uint16 { return j.port }

// DefaultRecipient is postmaster at the target's domain, which RFC 5321
// §4.5.1 requires to exist; for an IP literal it is the bare "postmaster"
// every server must accept.
func DefaultRecipient(host string) string { return probe.DefaultRecipient(host) }

// Validate checks the job, fills in defaults that depend on the target
// (the postmaster recipient) and resolves the target's syntax. A problem
// with one option is a *FieldError; one with the command or the target
// is an *InputError.
func (j *Job) Validate() error {
	kind, ok := KindOf(j.Command)
	if !ok {
		return inputf("unknown command %q (want %s)", j.Command, strings.Join(KindNames(), ", "))
	}
	if j.ConnectTimeout <= 0 {
		return &FieldError{Field: "connect_timeout", Value: j.ConnectTimeout.String(), Reason: "want a positive duration such as 30s"}
	}
	if j.ReplyTimeout <= 0 {
		return &FieldError{Field: "timeout", Value: j.ReplyTimeout.String(), Reason: "want a positive duration such as 60s"}
	}
	if j.IPv4 && j.IPv6 {
		return &FieldError{Field: "ipv4", Reason: "and %s exclude each other", Other: "ipv6"}
	}
	if j.Parallel < 1 || j.Parallel > MaxParallel {
		return &FieldError{Field: "parallel", Value: fmt.Sprint(j.Parallel), Reason: fmt.Sprintf("want 1 to %d", MaxParallel)}
	}
	if err := CheckHelo(j.Helo); err != nil {
		return err
	}
	j.TLSGroups = strings.ToLower(j.TLSGroups)
	if !wire.ValidTLSGroups(j.TLSGroups) {
		return &FieldError{Field: "tls_groups", Value: fmt.Sprintf("%q", j.TLSGroups), Reason: "want " + strings.Join(wire.TLSGroupsChoices, ", ") + help.DidYouMean(j.TLSGroups, wire.TLSGroupsChoices)}
	}
	if j.Resolver != "" {
		if _, err := dnscheck.ParseServer(j.Resolver); err != nil {
			return &FieldError{Field: "resolver", Reason: err.Error()}
		}
	}
	if d, rcpt := TargetHint(j.Target); d != "" {
		return &TargetError{Target: j.Target, Domain: d, Recipient: rcpt}
	}
	host, port, err := SplitTarget(j.Target, DefaultPort)
	if err != nil {
		return err
	}
	j.note = TargetNote(j.Target, port)
	if _, ipErr := netip.ParseAddr(host); ipErr != nil {
		if _, err := dnscheck.NormalizeDomain(host); err != nil {
			return inputf("%s: %v", j.Command, err)
		}
	}
	j.host, j.port = host, port
	if kind.validate != nil {
		return kind.validate(j)
	}
	return nil
}

func (j *Job) validateSession() error {
	o := &j.Session
	if err := nonNegative(map[string]time.Duration{"chunk_pause": o.ChunkPause,
		"pause_before_data": o.PauseBeforeData, "pause_after_data": o.PauseAfterData}); err != nil {
		return err
	}
	if o.Size < 1 || o.Size > MaxMessageSize {
		return &FieldError{Field: "size", Value: fmt.Sprint(o.Size), Reason: fmt.Sprintf("want 1 to %d bytes", MaxMessageSize)}
	}
	if o.ChunkSize < 0 || o.ChunkSize > MaxMessageSize {
		return &FieldError{Field: "chunk_size", Value: fmt.Sprint(o.ChunkSize), Reason: fmt.Sprintf("want 1 to %d bytes", MaxMessageSize)}
	}
	if err := validPath("from", o.From); err != nil {
		return err
	}
	for _, t := range o.To {
		if t == "" {
			return &FieldError{Field: "to", Reason: "empty recipient"}
		}
		if err := validPath("to", t); err != nil {
			return err
		}
	}
	if len(o.To) == 0 {
		o.To = []string{DefaultRecipient(j.host)}
	}
	return nil
}

func (j *Job) validateTimeout() error {
	j.Phase = strings.ToLower(j.Phase) // enum values are case-insensitive
	j.phases = []string{j.Phase}
	switch {
	case j.Phase == "all":
		j.phases = probe.TimeoutPhases
	case !probe.IsPhase(j.Phase):
		return &FieldError{Field: "phase", Value: fmt.Sprintf("%q", j.Phase),
			Reason: fmt.Sprintf("want one of %s or all", strings.Join(probe.TimeoutPhases, ", ")) + help.DidYouMean(j.Phase, append(probe.TimeoutPhases[:len(probe.TimeoutPhases):len(probe.TimeoutPhases)], "all"))}
	}
	if j.Timeout.MaxWait <= 0 {
		return &FieldError{Field: "max_wait", Value: j.Timeout.MaxWait.String(), Reason: "want a positive duration such as 10m"}
	}
	cmp := map[string]time.Duration{}
	for name, d := range j.PauseCmp {
		cmp[strings.ReplaceAll(name, "-", "_")] = d
	}
	if err := nonNegative(cmp); err != nil {
		return err
	}
	j.Timeout.Pauses = map[wire.Pause]time.Duration{}
	for name, d := range j.PauseCmp {
		if d > 0 {
			j.Timeout.Pauses[wire.Pause(name)] = d
		}
	}
	if err := validPath("from", j.Timeout.From); err != nil {
		return err
	}
	if err := validPath("to", j.Timeout.To); err != nil {
		return err
	}
	if j.Timeout.To == "" {
		j.Timeout.To = DefaultRecipient(j.host)
	}
	return nil
}

func (j *Job) validateMTU() error {
	o := &j.MTU
	for _, r := range []struct {
		name string
		v    int
	}{{"min", o.Min}, {"max", o.Max}} {
		if r.v != 0 && (r.v < mtu.MinIPv4 || r.v > mtu.MaxIP) {
			return &FieldError{Field: r.name, Value: fmt.Sprint(r.v), Reason: fmt.Sprintf("want an IP packet size from %d to %d", mtu.MinIPv4, mtu.MaxIP)}
		}
	}
	if o.Min > 0 && o.Max > 0 && o.Min > o.Max {
		return &FieldError{Field: "min", Value: fmt.Sprint(o.Min), Reason: "is above %s", Other: "max", OtherValue: fmt.Sprint(o.Max)}
	}
	o.Direction = strings.ToLower(o.Direction)
	if !probe.ValidDirection(o.Direction) {
		return &FieldError{Field: "direction", Value: fmt.Sprintf("%q", o.Direction), Reason: "want out, in or both" + help.DidYouMean(o.Direction, []string{"out", "in", "both"})}
	}
	o.Parallel = j.Parallel
	if err := validPath("from", o.From); err != nil {
		return err
	}
	if err := validPath("to", o.To); err != nil {
		return err
	}
	if o.To == "" {
		o.To = DefaultRecipient(j.host)
	}
	return nil
}

// validPath checks a mailbox for characters that would break the SMTP
// command line (RFC 5321 §4.1.2: a Path is "<" Mailbox ">").
func validPath(field, s string) error {
	if strings.ContainsAny(s, "<> \t\r\n") {
		return &FieldError{Field: field, Value: fmt.Sprintf("%q", s), Reason: "want a bare address such as user@example.com, without <>, spaces or line breaks"}
	}
	return nil
}

// nonNegative checks durations that may be zero but not negative, keyed
// by field.
func nonNegative(durs map[string]time.Duration) error {
	for _, name := range sortedKeys(durs) {
		if d := durs[name]; d < 0 {
			return &FieldError{Field: name, Value: d.String(), Reason: "want a duration of zero or more, such as 90s"}
		}
	}
	return nil
}

func (j *Job) family() dnscheck.Family {
	switch {
	case j.IPv4:
		return dnscheck.IPv4Only
	case j.IPv6:
		return dnscheck.IPv6Only
	}
	return dnscheck.AnyFamily
}

// ErrNoResolver means no DNS server was given and none could be read
// from /etc/resolv.conf.
var ErrNoResolver = errors.New("no DNS resolver")

// NewResolver builds the DNS resolver from Resolver or /etc/resolv.conf.
// Its error is a *FieldError for a bad Resolver, or wraps ErrNoResolver.
func (j *Job) NewResolver() (*dnscheck.Resolver, error) {
	if j.Resolver != "" {
		s, err := dnscheck.ParseServer(j.Resolver)
		if err != nil {
			return nil, &FieldError{Field: "resolver", Reason: err.Error()}
		}
		return &dnscheck.Resolver{Servers: []string{s}}, nil
	}
	servers, err := dnscheck.ResolvConf("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoResolver, err)
	}
	return &dnscheck.Resolver{Servers: servers}, nil
}

func (j *Job) prober() *probe.Prober {
	return &probe.Prober{
		ConnectTimeout: j.ConnectTimeout,
		ReplyTimeout:   j.ReplyTimeout,
		Helo:           j.Helo,
		NoStartTLS:     j.NoStartTLS,
		TLSGroups:      wire.TLSGroups(j.TLSGroups),
		Limiter:        j.Limiter,
		Allow:          j.Allow,
	}
}

// ErrUnsupported means the probe needs a facility this system lacks:
// path-MTU probing needs Linux.
var ErrUnsupported = errors.New("path-MTU probing needs Linux (DF sockets, TCP_MAXSEG, TCP_INFO); not supported on this system")

// Run executes a validated job. Its error is a *FieldError for an option
// the servers or the path showed to be unusable (a message above SIZE,
// BDAT without CHUNKING, an MTU range above the interface), an
// *InputError for a target that is not a domain, a local failure, or ctx's
// error; with ctx's error it may also return the report of the sessions
// the deadline cut short.
func (j *Job) Run(ctx context.Context, res *dnscheck.Resolver) (*probe.Report, error) {
	kind, ok := KindOf(j.Command)
	if !ok {
		return nil, inputf("unknown command %q (want %s)", j.Command, strings.Join(KindNames(), ", "))
	}
	p := j.prober()
	opt := probe.RunOptions{Port: j.port, Family: j.family(), Parallel: j.Parallel, NoPTR: true}
	if kind.tune != nil {
		kind.tune(j, &opt)
	}
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
	var prog *counter
	if j.Progress != nil {
		prog = &counter{report: j.Progress}
	}
	// fn probes one address: the kind's parts (timeout's phases) at once,
	// each counted as it ends.
	fn := func(ctx context.Context, t probe.Target) []probe.Result {
		n := 1
		if kind.parts != nil {
			n = kind.parts(j)
		}
		prog.step(0, n)
		out := make([]probe.Result, n)
		each(n, func(i int) {
			r, err := kind.probe(ctx, j, p, t, i)
			keep(err)
			out[i] = r
			prog.step(1, 0)
		})
		return out
	}
	run := p.Run
	_, ipErr := netip.ParseAddr(j.host)
	if kind.policy && ipErr != nil { // a domain: the sessions, then its policies; an address is probed as it is
		run = func(ctx context.Context, res *dnscheck.Resolver, _, host string, opt probe.RunOptions, fn func(context.Context, probe.Target) []probe.Result) (*probe.Report, error) {
			return p.RunMXWith(ctx, res, host, opt, fn) // the sessions, then the domain's policies (issue 12)
		}
	}
	rep, err := run(ctx, res, j.Command, j.host, opt, fn)
	var ie *dnscheck.InputError
	switch {
	case errors.As(err, &ie):
		return nil, inputf("%s: %v", j.Command, err)
	case err != nil && rep != nil && ctx.Err() != nil:
		// The run's deadline cut the sessions short: the report is
		// complete as far as it goes (the cut sessions end in
		// reply-timeout), and the exporter shows it.
		return rep, err
	case err != nil:
		return nil, err
	}
	if kind.after != nil {
		kind.after(j, rep)
	}
	for _, e := range errs {
		var (
			ce *probe.CapabilityError
			re *probe.RangeError
		)
		switch {
		case errors.As(e, &ce):
			return nil, &FieldError{Field: ce.Field, Reason: ce.Error()}
		case errors.As(e, &re):
			return nil, &FieldError{Field: re.Field, Value: fmt.Sprint(re.Value), Reason: re.Reason()}
		case errors.Is(e, errors.ErrUnsupported):
			return nil, ErrUnsupported
		case errors.Is(e, context.Canceled), errors.Is(e, context.DeadlineExceeded):
			return nil, e
		default:
			return nil, fmt.Errorf("this process may not set the socket options the probe needs: %v", e)
		}
	}
	return rep, nil
}

// counter adds up a run's parts done and known for Job.Progress; a nil
// counter counts nothing.
type counter struct {
	mu          sync.Mutex
	done, total int
	report      func(done, total int)
}

func (c *counter) step(done, total int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.done, c.total = c.done+done, c.total+total
	d, t := c.done, c.total
	c.mu.Unlock()
	c.report(d, t)
}
