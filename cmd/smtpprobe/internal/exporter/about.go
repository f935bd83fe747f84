package exporter

// About is what the exporter does, in an operator's words: the paragraph
// of `smtpprobe serve --help` after its synopsis.
const About = `A Prometheus exporter in the multi-target pattern (as blackbox_exporter):
  /probe?target=TARGET&module=NAME   probe TARGET with a module of --config
                                     (&debug=true: its log and timeline as text)
  /metrics                           the exporter's own metrics
  /                                  the modules and the recent probes (HTML)
  POST /-/reload                     read --config again, as SIGHUP does
TARGET must be in serve.allow of the config: a domain (which covers its
subdomains) or a network such as 192.0.2.0/24, on an allowed port (25
unless the entry names others: 192.0.2.0/24:25,587). Every address the
probe would connect to, each MX host's included, must be inside an allowed
network on an allowed port; anything else gets 403 naming the address, and
no packet is sent to it. Modules with deliver: true are refused: a scrape
never sends mail. An mx module fetches the domain's MTA-STS policy from
port 443 of mta-sts.DOMAIN only if serve.allow admits that address on 443
(192.0.2.0/24:25,443); otherwise the policy is reported as not checked.
A probe's deadline is the scrape timeout Prometheus sends
(X-Prometheus-Scrape-Timeout-Seconds) less --timeout-offset, or 10s.
A probe the deadline cuts short is UNKNOWN (smtpprobe_status 3) with
smtpprobe_probe_deadline_exceeded 1, not a failure of the target.
A reload (SIGHUP or POST /-/reload) that finds the file broken keeps the
configuration in force, logs why and sets
smtpprobe_config_last_reload_successful 0; --listen and
serve.max_connections need a restart.
--web.config.file takes the exporter-toolkit web configuration (TLS,
basic auth) for the exporter's own listener; it is read again for every
connection.
By default the exporter listens on loopback only (127.0.0.1:9465); give
--listen :9465 or HOST:9465 to be scraped from other machines.`
