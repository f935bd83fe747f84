package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"
	"golang.org/x/net/netutil"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
)

const (
	defaultListen = "127.0.0.1:9465"
	// defaultProbeTimeout is the deadline of a probe without the
	// X-Prometheus-Scrape-Timeout-Seconds header (Prometheus's default
	// scrape_timeout is 10s).
	defaultProbeTimeout = 10 * time.Second
	// maxProbeTimeout caps the deadline a request can ask for.
	maxProbeTimeout = 10 * time.Minute
	// minProbeTimeout is the shortest deadline a probe is started with:
	// below it even a healthy server on loopback would look failed, so a
	// scrape timeout that leaves less is refused (400), not probed.
	minProbeTimeout = 250 * time.Millisecond
	// maxLogValue bounds what a log line or an error answer quotes of a
	// request's values.
	maxLogValue = 256
	// shutdownGrace bounds the wait for probes in flight on shutdown.
	shutdownGrace = 15 * time.Second
	// scrapeTimeoutHeader is what Prometheus sends with every scrape.
	scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"
)

const serveSynopsis = `smtpprobe serve --config FILE [--listen ADDR] [flags]

A Prometheus exporter in the multi-target pattern (as blackbox_exporter):
  /probe?target=TARGET&module=NAME   probe TARGET with a module of --config
  /metrics                           the exporter's own metrics
  /                                  the endpoints and modules
TARGET must be in serve.allow of the config: a domain (which covers its
subdomains) or a network such as 192.0.2.0/24, on an allowed port (25
unless the entry names others: 192.0.2.0/24:25,587). Every address the
probe would connect to, each MX host's included, must be inside an allowed
network on an allowed port; anything else gets 403 naming the address, and
no packet is sent to it. Modules with deliver: true are refused: a scrape
never sends mail.
A probe's deadline is the scrape timeout Prometheus sends
(X-Prometheus-Scrape-Timeout-Seconds) less --timeout-offset, or 10s.
By default the exporter listens on loopback only (127.0.0.1:9465); give
--listen :9465 or HOST:9465 to be scraped from other machines.`

// runServe implements `smtpprobe serve --config FILE`.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML file with the modules and serve.allow (required)")
	listen := fs.String("listen", defaultListen, "address to listen on; the default is loopback only")
	offset := fs.Duration("timeout-offset", 500*time.Millisecond, "subtracted from the scrape timeout Prometheus sends, to answer in time")
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
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return 0, err
	}
	if err := cfg.checkServe(); err != nil {
		return 0, err
	}
	if fs.Changed("max-concurrent") {
		if *maxConc < 1 || *maxConc > 1024 {
			return 0, usagef("--max-concurrent %d: want 1 to 1024", *maxConc)
		}
		cfg.Serve.MaxConcurrent = *maxConc
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
	e := newExporter(cfg, *offset, logger)
	srv := &http.Server{
		Handler:           e.mux(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          logger,
	}
	logger.Printf("listening on %s (%d modules, allowlist: %s)", ln.Addr(), len(cfg.Modules), strings.Join(cfg.Serve.Allow, ", "))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return 0, fmt.Errorf("serving on %s: %v", ln.Addr(), err)
	case <-ctx.Done():
	}

	// Stop accepting, and let the probes in flight finish and answer
	// (http.Server.Shutdown leaves request contexts alone), up to a bound.
	if n := e.running.Load(); n > 0 {
		logger.Printf("shutting down: waiting up to %s for %d probes in flight", shutdownGrace, n)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Closing the connections cancels the requests' contexts, and the
		// probes end at once; give their handlers a moment to return.
		logger.Printf("shutdown: %d probes still running after %s; abandoning them", e.running.Load(), shutdownGrace)
		srv.Close()
		for i := 0; i < 100 && e.running.Load() > 0; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	<-served // http.ErrServerClosed
	return 0, nil
}

// exporter serves /probe and /metrics for one configuration.
type exporter struct {
	cfg     *config
	offset  time.Duration
	log     *log.Logger
	sem     chan struct{}
	limiter *probe.HostLimiter
	running atomic.Int64 // probes holding a slot

	reg      *prometheus.Registry
	probes   *prometheus.CounterVec
	inFlight prometheus.Gauge
	duration *prometheus.HistogramVec
}

// Results of smtpprobe_exporter_probes_total.
const (
	resultSuccess  = "success"  // the probe ran, status OK
	resultFailure  = "failure"  // the probe ran, status not OK, or the run failed
	resultRejected = "rejected" // 4xx or 503: no probe ran
)

func newExporter(cfg *config, offset time.Duration, logger *log.Logger) *exporter {
	e := &exporter{
		cfg:     cfg,
		offset:  offset,
		log:     logger,
		sem:     make(chan struct{}, cfg.Serve.MaxConcurrent),
		limiter: probe.NewHostLimiter(cfg.PerHost),
		reg:     prometheus.NewRegistry(),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smtpprobe_exporter_probes_total",
			Help: "Requests to /probe by module and result: success (status OK), failure (the probe ran, status not OK), rejected (4xx or 503, no probe).",
		}, []string{"module", "result"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smtpprobe_exporter_probes_in_flight",
			Help: "Probes running now (at most smtpprobe_exporter_max_concurrent).",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smtpprobe_exporter_probe_duration_seconds",
			Help:    "Wall time of the probes that ran, by module.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"module"}),
	}
	maxConc := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "smtpprobe_exporter_max_concurrent",
		Help: "Probes that may run at once (serve.max_concurrent).",
	})
	maxConc.Set(float64(cfg.Serve.MaxConcurrent))
	e.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		e.probes, e.inFlight, e.duration, maxConc,
	)
	// Every module's series exist from the start, at zero.
	for name := range cfg.Modules {
		for _, r := range []string{resultSuccess, resultFailure, resultRejected} {
			e.probes.WithLabelValues(name, r)
		}
		e.duration.WithLabelValues(name)
	}
	return e
}

func (e *exporter) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/probe", e.handleProbe)
	mux.Handle("/metrics", promhttp.InstrumentMetricHandler(e.reg, promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{ErrorLog: e.log})))
	mux.HandleFunc("/", e.handleIndex)
	return mux
}

func (e *exporter) handleIndex(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "smtpprobe %s exporter\n\n", version)
	fmt.Fprintf(&b, "/probe?target=TARGET&module=NAME  probe a target in serve.allow with a module\n")
	fmt.Fprintf(&b, "/metrics                          the exporter's own metrics\n\n")
	fmt.Fprintf(&b, "Modules:\n")
	for _, name := range sortedKeys(e.cfg.Modules) {
		fmt.Fprintf(&b, "  %-20s %s\n", name, e.cfg.Modules[name].Command)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, b.String())
}

// reject answers a request that runs no probe, with a reason line, and
// logs it. module is "" unless it names a configured module, so that
// requests cannot make up label values.
func (e *exporter) reject(w http.ResponseWriter, code int, module, target, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e.probes.WithLabelValues(module, resultRejected).Inc()
	msg = truncate(msg, 2*maxLogValue)
	e.log.Printf("probe module=%s target=%s rejected=%d: %s", logValue(module), logValue(target), code, oneLine(msg))
	http.Error(w, msg, code)
}

func (e *exporter) handleProbe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		e.reject(w, http.StatusMethodNotAllowed, "", "", "method %s: /probe answers GET only", r.Method)
		return
	}
	q := r.URL.Query()
	target, name := q.Get("target"), q.Get("module")
	qt := truncate(target, maxLogValue) // what messages quote of it
	modules := strings.Join(sortedKeys(e.cfg.Modules), ", ")
	switch {
	case target == "":
		e.reject(w, http.StatusBadRequest, "", "", "missing target: want /probe?target=DOMAIN[:PORT]&module=NAME")
		return
	case name == "":
		e.reject(w, http.StatusBadRequest, "", target, "missing module: want /probe?target=...&module=NAME (modules: %s)", modules)
		return
	}
	m, ok := e.cfg.Modules[name]
	if !ok {
		e.reject(w, http.StatusBadRequest, "", target, "unknown module %q (modules: %s)", truncate(name, maxLogValue), modules)
		return
	}
	j, err := m.job(target)
	if err != nil {
		e.reject(w, http.StatusBadRequest, name, target, "module %s: %s", name, strings.TrimPrefix(usageText(err), m.Command+": "))
		return
	}
	timeout, err := probeTimeout(r.Header.Get(scrapeTimeoutHeader), e.offset)
	if err != nil {
		e.reject(w, http.StatusBadRequest, name, target, "%v", err)
		return
	}
	if err := e.cfg.Serve.allow.checkTarget(j.host, j.port); err != nil {
		e.reject(w, http.StatusForbidden, name, target, "%v", err)
		return
	}
	// Every address the probe connects to is checked again right before
	// its connect (probe.Prober.Allow): DNS decides where a name leads.
	j.Allow = e.cfg.Serve.allow.checkAddr
	// checkServe refused modules that deliver; a scrape never sends the
	// final dot, whatever a module says.
	j.Session.Deliver = false
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	// A free slot is taken at once, so that an idle exporter never
	// answers busy however short the deadline; otherwise wait for one.
	select {
	case e.sem <- struct{}{}:
	default:
		select {
		case e.sem <- struct{}{}:
		case <-ctx.Done():
			if r.Context().Err() != nil {
				return // the client went away
			}
			e.reject(w, http.StatusServiceUnavailable, name, target,
				"busy: %d probes (serve.max_concurrent) ran for the whole deadline of %s", cap(e.sem), timeout.Round(time.Millisecond))
			return
		}
	}
	e.running.Add(1)
	e.inFlight.Inc()
	reg, result, refused := e.probe(ctx, j, m)
	e.inFlight.Dec()
	e.running.Add(-1)
	<-e.sem
	if refused != nil {
		e.reject(w, http.StatusForbidden, name, qt, "target %s: %v", qt, refused)
		return
	}

	e.probes.WithLabelValues(name, result).Inc()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: e.log, ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
}

// probe runs one job and returns a registry with its metrics, and the
// result for smtpprobe_exporter_probes_total. A run that could not be
// made (the deadline passed before DNS answered, a module the target's
// servers cannot serve, a local failure) is a failed probe as in
// blackbox_exporter: smtpprobe_success 0, with smtpprobe_status 3
// (UNKNOWN), and the reason in the log; Prometheus still gets an answer
// to alert on, not a scrape error.
//
// refused is the *probe.PolicyError of an address outside serve.allow:
// then no session was started and the request gets 403.
func (e *exporter) probe(ctx context.Context, j *job, m *module) (reg *prometheus.Registry, result string, refused error) {
	start := time.Now()
	j.Limiter = e.limiter
	var rep *probe.Report
	res, err := j.resolver()
	if err == nil {
		rep, err = j.run(ctx, res)
	}
	if pe := (*probe.PolicyError)(nil); errors.As(err, &pe) {
		return nil, "", pe
	}
	took := time.Since(start)
	e.duration.WithLabelValues(m.name).Observe(took.Seconds())
	cut := ""
	if err != nil && rep != nil && errors.Is(err, context.DeadlineExceeded) {
		// Export what the sessions saw until the deadline: the cut
		// ones end in reply-timeout, so the run is not a success.
		cut = fmt.Sprintf(" (deadline of %s passed; results so far)", timeoutOf(ctx, start))
		err = nil
	}

	reg = prometheus.NewRegistry()
	result = resultFailure
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			err = fmt.Errorf("the probe's deadline of %s passed before it ended", timeoutOf(ctx, start))
		case errors.Is(err, context.Canceled):
			err = errors.New("the request was cancelled (the client went away, or the exporter stopped)")
		}
		e.log.Printf("probe module=%s target=%s status=%s duration=%s error: %s",
			m.name, logValue(j.Target), probe.StatusUnknown, took.Round(time.Millisecond), oneLine(usageText(err)))
		reg.MustRegister(failedRun{command: j.Command, module: m.name, target: runTarget(j), took: took})
		return reg, result, nil
	}
	rep.ApplyThresholds(m.warn, m.crit)
	st := rep.Status()
	if st == probe.StatusOK {
		result = resultSuccess
	}
	e.log.Printf("probe module=%s target=%s status=%s outcome=%s duration=%s%s",
		m.name, logValue(j.Target), st, rep.Outcome, took.Round(time.Millisecond), cut)
	reg.MustRegister(reportCollector{reports: []*probe.Report{rep}, modules: []string{m.name}})
	return reg, result, nil
}

// logValue quotes a request's value for a log line when it is empty or
// would not read as one word, and shortens it to maxLogValue bytes.
func logValue(s string) string {
	s = truncate(s, maxLogValue)
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == '=' || r == '\\' || r >= 0x7f }) {
		return strconv.Quote(s)
	}
	return s
}

// truncate shortens s to at most n bytes (on a rune boundary) and says
// how long it was, so that a huge request value costs a log line at most.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:cut], len(s))
}

// timeoutOf returns the deadline of ctx as a duration from start.
func timeoutOf(ctx context.Context, start time.Time) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return d.Sub(start).Round(time.Millisecond)
}

// runTarget is the target label of a run: the domain as a report names
// it (normalised, without the port), or the IP literal.
func runTarget(j *job) string {
	if d, err := dnscheck.NormalizeDomain(j.host); err == nil {
		return d
	}
	return j.host
}

// failedRun exposes a run that could not be made: not successful, status
// UNKNOWN, and how long it took.
type failedRun struct {
	command, module, target string
	took                    time.Duration
}

func (f failedRun) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSuccess
	ch <- descStatus
	ch <- descDuration
}

func (f failedRun) Collect(ch chan<- prometheus.Metric) {
	l := []string{f.command, f.module, f.target}
	ch <- constGauge(descSuccess, 0, l...)
	ch <- constGauge(descStatus, float64(probe.StatusUnknown), l...)
	ch <- constGauge(descDuration, f.took.Seconds(), l...)
}

// probeTimeout returns a probe's deadline from the scrape timeout that
// Prometheus sends (header, in seconds): less offset, so that the answer
// arrives before Prometheus gives up, as blackbox_exporter does. Without
// the header it is defaultProbeTimeout; a probe keeps at least half of
// the scrape timeout however large the offset; a deadline below
// minProbeTimeout is an error, and no probe gets more than maxProbeTimeout.
func probeTimeout(header string, offset time.Duration) (time.Duration, error) {
	if header == "" {
		return defaultProbeTimeout, nil
	}
	s, err := strconv.ParseFloat(strings.TrimSpace(header), 64)
	if err != nil || math.IsNaN(s) || s <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive number of seconds", scrapeTimeoutHeader, truncate(header, 32))
	}
	s = min(s, maxProbeTimeout.Seconds()+offset.Seconds())
	// Less the offset, but never less than half of the scrape timeout.
	d := time.Duration(s * float64(time.Second))
	d = max(d-offset, d/2)
	if d < minProbeTimeout {
		return 0, fmt.Errorf("%s %s leaves %s for the probe, below the minimum of %s: raise the scrape_timeout",
			scrapeTimeoutHeader, truncate(strings.TrimSpace(header), 32), d, minProbeTimeout)
	}
	return min(d, maxProbeTimeout), nil
}
