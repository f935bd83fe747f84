package main

import (
	"context"
	"errors"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/exporter"
)

// runServe implements `smtpprobe serve --config FILE`.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML file with the modules and serve.allow (required)")
	listen := fs.String("listen", "127.0.0.1:9465", "address to listen on; the default is loopback only")
	offset := fs.Duration("timeout-offset", 500*time.Millisecond, "subtracted from the scrape timeout Prometheus sends, to answer in time")
	validate := fs.Bool("validate", false, "check the file and listen on nothing: exit 0 with a one-line summary, or 3 with the error")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web configuration (TLS, basic auth) for the exporter's listener")
	vantage := fs.String("vantage", "", "where this exporter stands, such as fra1: a vantage label on every series (default serve.vantage)")
	maxConc := fs.Int("max-concurrent", 0, "probes at once; more wait for a slot until their deadline, then get 503 (default serve.max_concurrent, else 8)")
	if err := parseFlags(fs, args, stdout, "smtpprobe serve --config FILE [--listen ADDR] [flags]\n\n"+exporter.About); err != nil {
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
	if err := config.CheckVantage(*vantage); err != nil {
		return 0, usagef("--vantage %q: %v", *vantage, err)
	}
	if fs.Changed("max-concurrent") && (*maxConc < 1 || *maxConc > 1024) {
		return 0, usagef("--max-concurrent %d: want 1 to 1024", *maxConc)
	}
	// load reads and checks --config, at start and on every reload.
	load := func() (*config.Config, error) {
		cfg, err := config.LoadServe(*cfgPath)
		return cfg, configUsage(err)
	}
	cfg, err := load()
	if err != nil {
		return 0, err
	}
	if err := exporter.CheckWebConfig(*webConfig); err != nil {
		return 0, serveUsage(err)
	}
	if *validate {
		return validateSummary(stdout, cfg, true)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return 0, serveUsage(exporter.Serve(ctx, exporter.ServeOptions{Listen: *listen, WebConfigFile: *webConfig, Reload: hup,
		Exporter: exporter.Options{Config: cfg, Offset: *offset, MaxConcurrent: *maxConc, Vantage: *vantage, Version: version, Load: load,
			Log: log.New(stderr, "smtpprobe serve: ", 0), Explain: usageOf, ErrorText: usageText}}))
}

// serveUsage words the exporter's errors about --listen and
// --web.config.file as usage errors.
func serveUsage(err error) error {
	var le *exporter.ListenError
	var we *exporter.WebConfigError
	switch {
	case errors.As(err, &le):
		return usagef("--listen %s: cannot listen: %v", le.Addr, le.Err)
	case errors.As(err, &we):
		return usagef("--web.config.file %s: %v", we.File, we.Err)
	}
	return err
}
