package exporter

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
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"golang.org/x/net/netutil"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
)

// DefaultGrace bounds the wait for probes in flight on shutdown.
const DefaultGrace = 15 * time.Second

// ServeOptions are the settings of Serve.
type ServeOptions struct {
	// Exporter makes the handler (New); its Log is the serve log too.
	Exporter Options
	// Listen is the TCP address to listen on, such as 127.0.0.1:9465.
	Listen string
	// WebConfigFile, if set, is an exporter-toolkit web configuration
	// (TLS, basic auth) for the listener, read again for every
	// connection; check it first with CheckWebConfig.
	WebConfigFile string
	// Reload reloads the configuration (Exporter.Reload) for every value
	// received, such as SIGHUP from signal.Notify; nil never does.
	Reload <-chan os.Signal
	// Ready, if set, is called with the listener's address once it
	// listens, before the first request is accepted.
	Ready func(net.Addr)
	// Grace bounds the wait for probes in flight on shutdown; 0 means
	// DefaultGrace.
	Grace time.Duration
}

// ListenError is a listen address Serve could not listen on.
type ListenError struct {
	Addr string // ServeOptions.Listen
	Err  error  // the cause, without net.OpError's decoration
}

func (e *ListenError) Error() string { return "listen " + e.Addr + ": " + e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }

// WebConfigError is a web configuration file exporter-toolkit refuses.
type WebConfigError struct {
	File string // ServeOptions.WebConfigFile
	Err  error
}

func (e *WebConfigError) Error() string { return "web config " + e.File + ": " + e.Err.Error() }
func (e *WebConfigError) Unwrap() error { return e.Err }

// CheckWebConfig reads an exporter-toolkit web configuration file and
// returns a *WebConfigError if it cannot be used; "" is no file, nil.
func CheckWebConfig(file string) error {
	if file == "" {
		return nil
	}
	// exporter-toolkit reads the file without a limit; a bounded read
	// first refuses /dev/zero and its kind.
	if _, err := job.ReadFile(file, job.ConfigLimit); err != nil {
		return &WebConfigError{File: file, Err: err}
	}
	if err := web.Validate(file); err != nil {
		return &WebConfigError{File: file, Err: err}
	}
	return nil
}

// Serve runs the exporter of opt.Exporter on opt.Listen until ctx ends,
// then stops accepting and lets the probes in flight answer, up to
// opt.Grace, before it returns nil. At most serve.max_connections
// connections are held open; the rest wait in the kernel's backlog, so
// that idle or slow clients cannot exhaust file descriptors. It returns
// a *ListenError or a *WebConfigError before it serves anything, or the
// error that stopped the server.
func Serve(ctx context.Context, opt ServeOptions) error {
	if err := CheckWebConfig(opt.WebConfigFile); err != nil {
		return err
	}
	logger := opt.Exporter.Log
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
		opt.Exporter.Log = logger
	}
	grace := opt.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	cfg := opt.Exporter.Config
	ln, err := net.Listen("tcp", opt.Listen)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return &ListenError{Addr: opt.Listen, Err: err}
	}
	ln = netutil.LimitListener(ln, cfg.Serve.MaxConnections)
	e := New(opt.Exporter)
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          logger,
	}
	logger.Printf("listening on %s (%d modules, allowlist: %s)", ln.Addr(), len(cfg.Modules), strings.Join(cfg.Serve.Allow, ", "))
	if opt.Ready != nil {
		opt.Ready(ln.Addr())
	}

	// exporter-toolkit serves TLS and checks basic auth when the web
	// configuration asks for them, else plain HTTP.
	noSocket := false
	flags := &web.FlagConfig{WebListenAddresses: &[]string{}, WebSystemdSocket: &noSocket, WebConfigFile: &opt.WebConfigFile}
	served := make(chan error, 1)
	go func() { served <- web.Serve(ln, srv, flags, toolkitLog(logger, opt.WebConfigFile != "")) }()

wait:
	for {
		select {
		case err := <-served:
			return fmt.Errorf("serving on %s: %v", ln.Addr(), err)
		case <-opt.Reload:
			e.Reload() // logs either way; a bad file keeps the old configuration
		case <-ctx.Done():
			break wait
		}
	}

	// Stop accepting, and let the probes in flight finish and answer
	// (http.Server.Shutdown leaves request contexts alone), up to a bound.
	if n := e.Running(); n > 0 {
		logger.Printf("shutting down: waiting up to %s for %d probes in flight", units.Setting(grace), n)
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Closing the connections cancels the requests' contexts, and the
		// probes end at once; give their handlers a moment to return.
		logger.Printf("shutdown: %d probes still running after %s; abandoning them", e.Running(), units.Setting(grace))
		srv.Close()
		for i := 0; i < 100 && e.Running() > 0; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	<-served // http.ErrServerClosed
	return nil
}

// toolkitLog is exporter-toolkit's log, through the serve log with its
// prefix and without timestamps. Its lines at start say what the web
// configuration set up; without one they would repeat the listening
// line, so only its warnings are kept.
func toolkitLog(l *log.Logger, webConfig bool) *slog.Logger {
	level := slog.LevelWarn
	if webConfig {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(prefixWriter{l}, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		}}))
}

// prefixWriter writes each line of exporter-toolkit's log through a
// log.Logger, with its prefix.
type prefixWriter struct{ l *log.Logger }

func (p prefixWriter) Write(b []byte) (int, error) {
	p.l.Print(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
