package config

import (
	"fmt"
	"strings"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/mtu/trace"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// Section is where a key goes in the file.
type Section string

// The sections of a configuration file.
const (
	Top     Section = ""        // the top level
	Modules Section = "modules" // a module, under modules: NAME:
	Targets Section = "targets" // an entry of the targets: list
	ServeS  Section = "serve"   // the serve: mapping
)

// Key documents one configuration key. Keys is the one table that both
// the checker (unknown keys, keys that do not apply to a module's
// command) and `smtpprobe help config` read, so the two cannot drift;
// a test checks it against the yaml tags of Config, Module, Target and
// Serve.
type Key struct {
	Section  Section
	Name     string
	Commands []string // module keys: the commands it applies to; nil means all
	Type     string   // what the value is, in words
	Default  string   // "" when there is none
	Meaning  string
	Example  string // the value as written after "NAME: "
}

// AppliesTo reports whether a module key applies to command.
func (k Key) AppliesTo(command string) bool {
	if k.Commands == nil {
		return true
	}
	for _, c := range k.Commands {
		if c == command {
			return true
		}
	}
	return false
}

var (
	sessionTimeout    = []string{"session", "timeout"}
	sessionTimeoutMTU = []string{"session", "timeout", "mtu"}
)

// Keys is every configuration key, in the order help lists them.
var Keys = []Key{
	{Top, "parallel", nil, "whole number, 1 to 1024", fmt.Sprint(DefaultParallel),
		"checks that check runs at once", "32"},
	{Top, "per_host", nil, "whole number, 1 to 64", fmt.Sprint(DefaultPerHost),
		"SMTP sessions at once per destination address, across all checks", "2"},
	{Top, "modules", nil, "mapping of NAME: module", "",
		"the named ways of probing a target (required); each has a command: and its settings", "{mx: {command: mx}}"},
	{Top, "targets", nil, "list of target entries", "",
		"what check runs: each entry is a target with its modules", "[{target: example.com, module: mx}]"},
	{Top, "serve", nil, "mapping", "",
		"the exporter's settings (serve)", "{allow: [example.com, 192.0.2.0/24]}"},

	{Modules, "command", nil, "mx, session, timeout, mtu or path", "",
		"the probe the module runs (required)", "mx"},
	{Modules, "resolver", nil, "HOST[:PORT]", "/etc/resolv.conf",
		"the DNS server for MX, address and PTR lookups", "192.0.2.53"},
	{Modules, "connect_timeout", nil, "duration", units.Setting(probe.DefaultConnectTimeout),
		"the bound on each TCP connect", "10s"},
	{Modules, "timeout", nil, "duration", units.Setting(probe.DefaultReplyTimeout),
		"the bound on each SMTP reply (RFC 5321 §4.5.3.2 gives the server's minimums)", "30s"},
	{Modules, "ipv4", nil, "true or false", "false",
		"probe IPv4 addresses only (excludes ipv6)", "true"},
	{Modules, "ipv6", nil, "true or false", "false",
		"probe IPv6 addresses only (excludes ipv4)", "true"},
	{Modules, "parallel", nil, "whole number", fmt.Sprintf("%d (mtu: %d)", job.DefaultParallel, mtu.DefaultParallel),
		"addresses probed at once (mtu: sessions per round)", "4"},
	{Modules, "helo", nil, "domain or address literal", "the host name if fully qualified, else the local address literal",
		"the name sent in EHLO/HELO (RFC 5321 §4.1.1.1)", "probe.example.com"},
	{Modules, "no_starttls", []string{"mx"}, "true or false", "false",
		"do not try STARTTLS (RFC 3207) or check certificates", "true"},
	{Modules, "no_ptr", []string{"mx"}, "true or false", "false",
		"skip the reverse DNS (PTR) check of each address", "true"},
	{Modules, "no_policy", []string{"mx"}, "true or false", "false",
		"skip the MTA-STS (RFC 8461), TLS-RPT (RFC 8460) and DANE (RFC 7672) lookups", "true"},
	{Modules, "tls_groups", []string{"mx", "session", "timeout"}, strings.Join(wire.TLSGroupsChoices, ", "), string(wire.TLSGroupsDefault),
		"the key shares of the TLS ClientHello (RFC 8446 §4.2.8): pq offers X25519MLKEM768 (a hello of about 1.5 KB, two segments), classical X25519 only (about 300 bytes), default what the TLS stack offers (X25519MLKEM768 with Go 1.24+)", "classical"},
	{Modules, "warning", nil, "KEY=VALUE,...", "",
		"WARNING thresholds: time (phase slower than), timeout (idle timeout shorter than; timeout modules), mtu (path MTU below; mtu modules), cert (days to expiry), transient (addresses answering 4yz)", "time=2s,cert=14"},
	{Modules, "critical", nil, "KEY=VALUE,...", "",
		"CRITICAL thresholds, the same keys as warning", "timeout=300s,cert=3"},

	{Modules, "from", sessionTimeoutMTU, "mail address", "the null reverse-path <>",
		"the MAIL FROM address", "probe@example.com"},
	{Modules, "to", sessionTimeoutMTU, "list of mail addresses (timeout, mtu: one)", "postmaster@DOMAIN (RFC 5321 §4.5.1)",
		"the RCPT TO recipients; pass one the server accepts", "[postmaster@example.com]"},
	{Modules, "starttls", sessionTimeout, "true or false", "false",
		"start TLS (RFC 3207) before the mail transaction", "true"},
	{Modules, "size", []string{"session"}, fmt.Sprintf("bytes, 1 to %d", job.MaxMessageSize), fmt.Sprint(job.DefaultSize),
		"the size of the test message", "65536"},
	{Modules, "chunk_size", []string{"session"}, "bytes", "0 (one write)",
		"write DATA in chunks of this many bytes (BDAT chunk size with bdat)", "1024"},
	{Modules, "chunk_pause", sessionTimeout, "duration", "0s",
		"session: pause between chunks; timeout: a pause to compare with the measured timeout", "5s"},
	{Modules, "pause_before_data", sessionTimeout, "duration", "0s",
		"session: pause after RCPT, before DATA; timeout: a pause to compare with the measured timeout", "30s"},
	{Modules, "pause_after_data", sessionTimeout, "duration", "0s",
		"session: pause after the message, before the final dot; timeout: a pause to compare", "30s"},
	{Modules, "pipelining", []string{"session"}, "true or false", "false",
		"send MAIL, RCPT and DATA in one write (RFC 2920)", "true"},
	{Modules, "bdat", []string{"session"}, "true or false", "false",
		"send the message with BDAT (RFC 3030 CHUNKING) instead of DATA", "true"},
	{Modules, "deliver", []string{"session"}, "true or false", "false",
		"end with the final dot so the message is delivered (check only; serve refuses it)", "true"},
	{Modules, "retry_deferral", sessionTimeout, "true or false", "false",
		"reconnect once when Postfix's postscreen defers the new client (450 4.3.2) and report both sessions", "true"},
	{Modules, "phase", []string{"timeout"}, "one phase or all", "all",
		"the phase whose idle timeout is measured: " + strings.Join(probe.TimeoutPhases, ", ") + " or all", "data"},
	{Modules, "max_wait", []string{"timeout"}, "duration", units.Setting(probe.DefaultMaxWait),
		"the longest wait for the server to close an idle session, per phase", "6m"},
	{Modules, "min", []string{"mtu"}, fmt.Sprintf("bytes, %d to %d", mtu.MinIPv4, mtu.MaxIP), "the family's minimum",
		"the smallest IP packet size tried", "1200"},
	{Modules, "max", []string{"mtu"}, fmt.Sprintf("bytes, %d to %d", mtu.MinIPv4, mtu.MaxIP), "the interface MTU",
		"the largest IP packet size tried", "1500"},
	{Modules, "direction", []string{"mtu"}, "out, in or both", "both",
		"the direction of the path measured", "out"},
	{Modules, "max_hops", []string{"path"}, fmt.Sprintf("whole number, 1 to %d", trace.MaxMaxHops), fmt.Sprint(trace.DefaultMaxHops),
		"the largest TTL (IPv6 hop limit) tried", "20"},
	{Modules, "probes", []string{"path"}, "whole number, 1 to 10", fmt.Sprint(trace.DefaultProbes),
		"SYNs per hop at most (a silent hop is asked again)", "2"},
	{Modules, "compare_port", []string{"path"}, "port, 1 to 65535", "587 (25 for a target on 587)",
		"the port swept beside the target's when its SYNs go unanswered, to tell a port filter from a dead path", "465"},

	{Targets, "target", nil, "DOMAIN[:PORT], host name or IP literal", "",
		"what is probed (required)", "example.com"},
	{Targets, "module", nil, "module name", "",
		"one module to run against the target", "mx"},
	{Targets, "modules", nil, "list of module names", "",
		"modules to run against the target (with or instead of module)", "[mx, blackhole]"},

	{ServeS, "allow", nil, "list of domains and CIDR networks", "",
		"what the exporter may probe: targets must be listed domains (or their subdomains) or addresses in the networks, and every address it connects to must lie in a network (required for serve)", "[example.com, 192.0.2.0/24]"},
	{ServeS, "max_concurrent", nil, "whole number, 1 to 1024", fmt.Sprint(DefaultMaxConcurrent),
		"probes the exporter runs at once; more scrapes wait", "4"},
	{ServeS, "max_connections", nil, fmt.Sprintf("whole number, 1 to %d", MaxMaxConnections),
		fmt.Sprintf("%d, at least twice max_concurrent", DefaultMaxConnections),
		"HTTP connections the exporter accepts at once", "128"},
	{ServeS, "vantage", nil, "name: letters, digits, '.', '-', '_'", "none",
		"where this exporter stands: the vantage label of every series it exports, so that one Prometheus tells a target failing from every place from one failing from one place (--vantage overrides it)", "fra1"},
}

// KeysIn returns the keys of a section, in table order.
func KeysIn(s Section) []Key {
	var out []Key
	for _, k := range Keys {
		if k.Section == s {
			out = append(out, k)
		}
	}
	return out
}

// lookupKey returns the key of section s named name.
func lookupKey(s Section, name string) (Key, bool) {
	for _, k := range Keys {
		if k.Section == s && k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}
