package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
)

// errHelp means --help was asked for and printed.
var errHelp = errors.New("help printed")

// commonFlags are shared by the commands that open sessions.
type commonFlags struct {
	format         string
	jsonOut        bool
	quiet          bool
	verbose        bool
	resolver       string
	connectTimeout time.Duration
	replyTimeout   time.Duration
	ipv4, ipv6     bool
	parallel       int
	noStartTLS     bool
	noPTR          bool
	helo           string
}

func (c *commonFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.format, "format", "text", "output format: text or json")
	fs.BoolVar(&c.jsonOut, "json", false, "short for --format json")
	fs.BoolVarP(&c.quiet, "quiet", "q", false, "print nothing when the result is OK (for cron)")
	fs.BoolVarP(&c.verbose, "verbose", "v", false, "text output: show each session's timeline")
	fs.StringVar(&c.resolver, "resolver", "", "DNS server host[:port] (default: nameservers in /etc/resolv.conf)")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", probe.DefaultConnectTimeout, "TCP connect limit (as Postfix smtp_connect_timeout)")
	fs.DurationVar(&c.replyTimeout, "timeout", probe.DefaultReplyTimeout, "limit for each SMTP reply, the greeting included")
	fs.BoolVarP(&c.ipv4, "ipv4", "4", false, "probe IPv4 addresses only")
	fs.BoolVarP(&c.ipv6, "ipv6", "6", false, "probe IPv6 addresses only")
	fs.IntVar(&c.parallel, "parallel", 8, "sessions at once")
	fs.StringVar(&c.helo, "helo", "", "EHLO name (default: this host's FQDN, else its address literal)")
}

// validate checks the values and normalises --json into --format.
func (c *commonFlags) validate() error {
	if c.jsonOut {
		c.format = "json"
	}
	switch c.format {
	case "text", "json":
	default:
		return usagef("--format %q: want text or json", c.format)
	}
	if c.connectTimeout <= 0 {
		return usagef("--connect-timeout %s: want a positive duration such as 30s", c.connectTimeout)
	}
	if c.replyTimeout <= 0 {
		return usagef("--timeout %s: want a positive duration such as 60s", c.replyTimeout)
	}
	if c.ipv4 && c.ipv6 {
		return usagef("-4 and -6 exclude each other")
	}
	if c.parallel < 1 || c.parallel > 1024 {
		return usagef("--parallel %d: want 1 to 1024", c.parallel)
	}
	if c.helo != "" && strings.ContainsAny(c.helo, " \t\r\n") {
		return usagef("--helo %q: want a domain or address literal without spaces", c.helo)
	}
	return nil
}

func (c *commonFlags) family() dnscheck.Family {
	switch {
	case c.ipv4:
		return dnscheck.IPv4Only
	case c.ipv6:
		return dnscheck.IPv6Only
	}
	return dnscheck.AnyFamily
}

// newResolver builds the DNS resolver from --resolver or resolv.conf.
func (c *commonFlags) newResolver() (*dnscheck.Resolver, error) {
	if c.resolver != "" {
		s, err := dnscheck.ParseServer(c.resolver)
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

func (c *commonFlags) prober() *probe.Prober {
	return &probe.Prober{
		ConnectTimeout: c.connectTimeout,
		ReplyTimeout:   c.replyTimeout,
		Helo:           c.helo,
		NoStartTLS:     c.noStartTLS,
	}
}

// parseFlags parses args into fs; --help prints the command's usage.
func parseFlags(fs *pflag.FlagSet, args []string, stdout io.Writer, synopsis string) error {
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			*help = true
		} else {
			return usagef("%s: %v", fs.Name(), err)
		}
	}
	if *help {
		fmt.Fprintf(stdout, "Usage: %s\n\nFlags:\n%s", synopsis, fs.FlagUsages())
		return errHelp
	}
	return nil
}

// splitTarget splits "DOMAIN[:PORT]" (or "[v6]:PORT") into host and port.
func splitTarget(s string, defPort uint16) (host string, port uint16, err error) {
	if s == "" {
		return "", 0, usagef("empty target: want DOMAIN[:PORT]")
	}
	host = s
	var ps string
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, usagef("target %q: missing ']'", s)
		}
		host, ps = s[1:end], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return "", 0, usagef("target %q: want [ADDRESS]:PORT", s)
		}
	case strings.Count(s, ":") == 1:
		host, ps, _ = strings.Cut(s, ":")
	case strings.Count(s, ":") > 1:
		if _, err := netip.ParseAddr(s); err != nil {
			return "", 0, usagef("target %q: want DOMAIN[:PORT] or [IPv6]:PORT", s)
		}
	}
	port = defPort
	if ps != "" {
		n, err := strconv.ParseUint(ps, 10, 32)
		if err != nil || n < 1 || n > math.MaxUint16 {
			return "", 0, usagef("target %q: port %q out of range 1-65535", s, ps)
		}
		port = uint16(n)
	}
	if host == "" {
		return "", 0, usagef("target %q: empty host", s)
	}
	return host, port, nil
}

// nonNegative checks duration flags that may be zero but not negative.
func nonNegative(durs map[string]time.Duration) error {
	for _, name := range sortedKeys(durs) {
		if d := durs[name]; d < 0 {
			return usagef("--%s %s: want a duration of zero or more, such as 90s", name, d)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
