package help

// Commands are smtpprobe's commands that are not probe kinds, in the
// order the overview lists them after the kinds, with their synopses and
// examples; the command line adds each one's flags (Groups). A probe
// kind's entry is its row of the run layer's registry (job.Kinds), and
// the command line puts them all in CLI.Commands.
var Commands = []Command{{
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

// ExitCodes ends the overview and the man page.
const ExitCodes = `Exit codes (Nagios convention): 0 OK, 1 WARNING (some addresses fail),
2 CRITICAL (none reachable, null MX, DNS failure), 3 UNKNOWN (bad usage or input);
an interrupted run says so and exits 130 (SIGINT) or 143 (SIGTERM).
TARGET is a domain (its MX are used), a host name or an IP literal; an IPv6
literal with a port is written [ADDRESS]:PORT.
Run "smtpprobe help COMMAND" for a command's flags, "smtpprobe help config"
for the keys of check and serve files.
`
