package help

// Commands are smtpprobe's commands in the order the overview lists
// them, with their synopses and examples; the command line adds each
// one's flags (Groups).
var Commands = []Command{{
	Name:     "mx",
	Summary:  "check every MX address of DOMAIN: connect, banner, EHLO, STARTTLS, certificate",
	Synopsis: "smtpprobe mx DOMAIN[:PORT] [flags]",
	About:    "Resolves the domain's MX (RFC 5321 §5.1), opens one session to every address and times each phase on the wire. Exit 0 OK, 1 WARNING (some addresses fail), 2 CRITICAL (none works), 3 UNKNOWN.",
	Examples: []string{
		"smtpprobe mx example.com                      # every exchanger, text",
		"smtpprobe mx example.com --json               # one JSON document",
		"smtpprobe mx example.com -q --format nagios   # a Nagios/Icinga check",
		"smtpprobe mx example.com:2525 -4 --no-ptr     # another port, IPv4 only",
	},
}, {
	Name:     "session",
	Summary:  "one scripted transaction per address, with pauses; nothing is delivered unless --deliver",
	Synopsis: "smtpprobe session TARGET[:PORT] [flags]",
	About:    "Runs EHLO, MAIL, RCPT, DATA and a generated message against every address of TARGET (a domain, a host name or an IP literal; an IPv6 literal with a port is written [ADDRESS]:PORT), and ends with RSET instead of the final dot unless --deliver.",
	Examples: []string{
		"smtpprobe session mx1.example.com --to postmaster@example.com",
		"smtpprobe session 192.0.2.10 --to user@example.com --size 10485760 --starttls",
		"smtpprobe session example.com --pause-after-data 30s   # a slow client",
		"smtpprobe session [2001:db8::25]:587 --to user@example.com --bdat",
	},
}, {
	Name:     "timeout",
	Summary:  "measure how long the server waits on an idle session, per phase",
	Synopsis: "smtpprobe timeout TARGET[:PORT] [--phase PHASE|all] [flags]",
	About:    "Drives a session to each phase, goes quiet and times how long the server waits before it hangs up. RFC 5321 §4.5.3.2.7 asks servers to wait at least 5 minutes. Pass a recipient the server accepts with --to.",
	Examples: []string{
		"smtpprobe timeout mx1.example.com --to postmaster@example.com",
		"smtpprobe timeout 192.0.2.10 --phase ehlo --max-wait 10m",
		"smtpprobe timeout example.com --phase data --pause-after-data 60s  # fits?",
	},
}, {
	Name:     "mtu",
	Summary:  "bracket the path MTU with DF set: black hole or working PMTUD (Linux, root)",
	Synopsis: "smtpprobe mtu TARGET[:PORT] [flags]",
	About:    "Sends probes of chosen IP packet sizes with DF set inside real SMTP sessions and brackets the largest that crosses the path, both ways (RFC 1191, RFC 8201, RFC 4821).",
	Examples: []string{
		"smtpprobe mtu mx1.example.com --to postmaster@example.com",
		"smtpprobe mtu 192.0.2.10 --max 1500 --direction out",
		"smtpprobe mtu example.com -6 --json",
	},
}, {
	Name:     "path",
	Summary:  "hop by hop on port 25: where SYNs stop (dropped, rejected with ICMP, answered)",
	Synopsis: "smtpprobe path TARGET[:PORT] [flags]",
	About:    "Sends SYNs to the target's port with TTL (IPv6: hop limit) 1, 2, ... in parallel and reads each hop's ICMP answer from the socket's error queue (IP_RECVERR): every hop's address and round trip, and where the SYNs stop: a SYN-ACK, an RST, an ICMP error from a named hop, or silence after the last hop that answered (RFC 792, RFC 4443). A silent port is compared with another port of the same host.",
	Examples: []string{
		"smtpprobe path mx1.example.com                # the hop table",
		"smtpprobe path 192.0.2.10 --json              # hops and path_end as JSON",
		"smtpprobe path example.com:587 -6 --max-hops 20",
	},
}, {
	Name:     "check",
	Summary:  "run the targets and modules of a YAML file; one combined report",
	Synopsis: "smtpprobe check --config FILE [flags]",
	About:    "Runs every target of the file with each of its modules, at most --parallel at once and --per-host sessions to one address, and prints one report whose status is the worst run's. `smtpprobe help config` lists the keys.",
	Examples: []string{
		"smtpprobe check --config /etc/smtpprobe/check.yaml",
		"smtpprobe check --config check.yaml --format nagios -q",
		"smtpprobe check --config check.yaml -q --prom-file /var/lib/smtpprobe.prom",
		"smtpprobe check --config check.yaml --only-module mx --json",
	},
}, {
	Name:     "serve",
	Summary:  "Prometheus exporter: /probe?target=...&module=..., /metrics",
	Synopsis: "smtpprobe serve --config FILE [flags]",
	Examples: []string{
		"smtpprobe serve --config /etc/smtpprobe/serve.yaml",
		"smtpprobe serve --config serve.yaml --validate   # check the file only",
		"smtpprobe serve --config serve.yaml --listen :9465 --web.config.file web.yml",
		"curl 'http://127.0.0.1:9465/probe?target=example.com&module=mx'",
	},
}, {
	Name:     "demo",
	Summary:  "run mx and timeout against an embedded lab (no network, no root)",
	Synopsis: "smtpprobe demo [flags]",
	Examples: []string{
		"smtpprobe demo",
		"smtpprobe demo -v --idle-timeout 1s   # with every session's timeline",
		"smtpprobe demo --json | jq .results",
	},
}, {
	Name:     "completion",
	Summary:  "print a shell completion script: bash, zsh or fish",
	Synopsis: "smtpprobe completion bash|zsh|fish",
	Examples: []string{
		"source <(smtpprobe completion bash)",
		"smtpprobe completion zsh > \"${fpath[1]}/_smtpprobe\"",
		"smtpprobe completion fish > ~/.config/fish/completions/smtpprobe.fish",
	},
}, {
	Name:     "help",
	Summary:  "show help: smtpprobe help COMMAND, smtpprobe help config",
	Synopsis: "smtpprobe help [COMMAND|config]",
}}

// Lookup returns the command named name.
func Lookup(name string) (Command, bool) {
	for _, c := range Commands {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// ExitCodes ends the overview and the man page.
const ExitCodes = `Exit codes (Nagios convention): 0 OK, 1 WARNING (some addresses fail),
2 CRITICAL (none reachable, null MX, DNS failure), 3 UNKNOWN (bad usage or input);
an interrupted run says so and exits 130 (SIGINT) or 143 (SIGTERM).
TARGET is a domain (its MX are used), a host name or an IP literal; an IPv6
literal with a port is written [ADDRESS]:PORT.
Run "smtpprobe help COMMAND" for a command's flags, "smtpprobe help config"
for the keys of check and serve files.
`
