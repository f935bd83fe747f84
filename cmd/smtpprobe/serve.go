package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/spf13/pflag"
	"golang.org/x/net/netutil"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/config"
	"github.com/smtpprobe/smtpprobe/probe/exporter"
	"github.com/smtpprobe/smtpprobe/probe/render"
)

const (
	defaultListen = "127.0.0.1:9465"
	// shutdownGrace bounds the wait for probes in flight on shutdown.
	shutdownGrace = 15 * time.Second
)

const serveSynopsis = `smtpprobe serve --config FILE [--listen ADDR] [flags]

A Prometheus exporter in the multi-target pattern (as blackbox_exporter):
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

// runServe implements `smtpprobe serve --config FILE`.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML file with the modules and serve.allow (required)")
	listen := fs.String("listen", defaultListen, "address to listen on; the default is loopback only")
	offset := fs.Duration("timeout-offset", 500*time.Millisecond, "subtracted from the scrape timeout Prometheus sends, to answer in time")
	validate := fs.Bool("validate", false, "check the file and listen on nothing: exit 0 with a one-line summary, or 3 with the error")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web configuration (TLS, basic auth) for the exporter's listener")
	maxConc := fs.Int("max-concurrent", 0, "probes at once; more wait for a slot until their deadline, then get 503 (default serve.max_concurrent, else 8)")
	if err := parseFlags(fs, args, stdout, serveSynopsis); err != nil {
		return 0, err
	}
	if fs.NArg() != 0 {
		return 0, usagef("serve takes no arguments, got %q (targets come with each request: /probe?target=...)", fs.Arg(0))
	}
	if *cfgPath == "" {
		return 0, usagef("serve: --config FILE is required (modules and serve.allow)")
	}
	if *offset < 0 || *offset >= time.Minute {
		return 0, usagef("--timeout-offset %s: want a duration from 0 to 1m, such as 500ms", *offset)
	}
	if fs.Changed("max-concurrent") && (*maxConc < 1 || *maxConc > 1024) {
		return 0, usagef("--max-concurrent %d: want 1 to 1024", *maxConc)
	}
	// load reads and checks --config, at start and on every reload.
	load := func() (*config.Config, error) {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return nil, err
		}
		if err := checkServe(cfg); err != nil {
			return nil, err
		}
		if fs.Changed("max-concurrent") {
			cfg.Serve.MaxConcurrent = *maxConc
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		return 0, err
	}
	if *webConfig != "" {
		if err := web.Validate(*webConfig); err != nil {
			return 0, usagef("--web.config.file %s: %v", *webConfig, err)
		}
	}
	if *validate {
		return validateSummary(stdout, cfg, true)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return 0, usagef("--listen %s: cannot listen: %v", *listen, err)
	}
	// Bound the connections held open, so that idle or slow clients cannot
	// exhaust file descriptors; those beyond wait in the kernel's backlog.
	ln = netutil.LimitListener(ln, cfg.Serve.MaxConnections)
	logger := log.New(stderr, "smtpprobe serve: ", 0)
	e := exporter.New(exporter.Options{Config: cfg, Offset: *offset, Log: logger, Version: version,
		Explain: usageOf, ErrorText: usageText, Load: load,
		Timeline: func(w io.Writer, rep *probe.Report) {
			render.Text(w, rep, render.Options{Verbose: true})
		}})
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          logger,
	}
	logger.Printf("listening on %s (%d modules, allowlist: %s)", ln.Addr(), len(cfg.Modules), strings.Join(cfg.Serve.Allow, ", "))

	// exporter-toolkit serves TLS and checks basic auth when
	// --web.config.file asks for them, else plain HTTP; its own log
	// lines go to the same log.
	noSocket := false
	flags := &web.FlagConfig{WebListenAddresses: &[]string{}, WebSystemdSocket: &noSocket, WebConfigFile: webConfig}
	// Its lines at start say what --web.config.file set up; without one
	// they would repeat the listening line, so only warnings are kept.
	level := slog.LevelWarn
	if *webConfig != "" {
		level = slog.LevelInfo
	}
	slogger := slog.New(slog.NewTextHandler(prefixWriter{logger}, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		}}))
	served := make(chan error, 1)
	go func() { served <- web.Serve(ln, srv, flags, slogger) }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
wait:
	for {
		select {
		case err := <-served:
			return 0, fmt.Errorf("serving on %s: %v", ln.Addr(), err)
		case <-hup:
			e.Reload() // logs either way; a bad file keeps the old configuration
		case <-ctx.Done():
			break wait
		}
	}

	// Stop accepting, and let the probes in flight finish and answer
	// (http.Server.Shutdown leaves request contexts alone), up to a bound.
	if n := e.Running(); n > 0 {
		logger.Printf("shutting down: waiting up to %s for %d probes in flight", shutdownGrace, n)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Closing the connections cancels the requests' contexts, and the
		// probes end at once; give their handlers a moment to return.
		logger.Printf("shutdown: %d probes still running after %s; abandoning them", e.Running(), shutdownGrace)
		srv.Close()
		for i := 0; i < 100 && e.Running() > 0; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	<-served // http.ErrServerClosed
	return 0, nil
}

// prefixWriter writes each line of exporter-toolkit's log through the
// serve log, with its prefix.
type prefixWriter struct{ l *log.Logger }

func (p prefixWriter) Write(b []byte) (int, error) {
	p.l.Print(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
