// Package exporter is smtpprobe's Prometheus exporter as an
// http.Handler, in the multi-target pattern of blackbox_exporter:
// /probe?target=TARGET&module=NAME probes a target in serve.allow with a
// module of the configuration and answers with the run's metrics
// (probe/render/prom); /metrics has the exporter's own; / lists the
// endpoints and modules.
//
// What belongs here: a request's parsing and refusals (400, 403, 405,
// 503), the allowlist checks, the probe's deadline from the scrape
// timeout, the concurrency limit and the exporter's own metrics. The
// listener, its connection cap, signals and shutdown belong to the
// front end (cmd/smtpprobe serve).
package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/config"
	"github.com/smtpprobe/smtpprobe/probe/job"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/render/prom"
)

const (
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
	// scrapeTimeoutHeader is what Prometheus sends with every scrape.
	scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"
)

// Exporter is the http.Handler of one configuration: /probe, /metrics
// and /. Make one with New.
type Exporter struct {
	cfg     *config.Config
	offset  time.Duration
	log     *log.Logger
	version string
	explain func(error) error
	text    func(error) string
	mux     *http.ServeMux
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

// Options are the settings of New.
type Options struct {
	// Config holds the modules, serve.allow and serve.max_concurrent;
	// the caller has checked it with (*config.Config).CheckServe.
	Config *config.Config
	// Offset is subtracted from the scrape timeout Prometheus sends.
	Offset time.Duration
	// Log receives one line per request to /probe; nil discards them.
	Log *log.Logger
	// Version is shown on /.
	Version string
	// Explain, if set, rewrites a job's errors (a front end's words for
	// the job package's typed errors) before they are logged or answered.
	Explain func(error) error
	// ErrorText, if set, is the text of an error in an answer or a log
	// line; by default err.Error().
	ErrorText func(error) string
}

// New returns the exporter of opt.Config. Every module's series of its
// own metrics exist from the start, at zero.
func New(opt Options) *Exporter {
	cfg := opt.Config
	logger := opt.Log
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	e := &Exporter{
		cfg:     cfg,
		offset:  opt.Offset,
		log:     logger,
		version: opt.Version,
		explain: opt.Explain,
		text:    opt.ErrorText,
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
	if e.explain == nil {
		e.explain = func(err error) error { return err }
	}
	if e.text == nil {
		e.text = func(err error) string { return err.Error() }
	}
	e.mux = http.NewServeMux()
	e.mux.HandleFunc("/probe", e.handleProbe)
	e.mux.Handle("/metrics", promhttp.InstrumentMetricHandler(e.reg, promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{ErrorLog: e.log})))
	e.mux.HandleFunc("/", e.handleIndex)
	return e
}

// ServeHTTP answers /probe?target=TARGET&module=NAME with the run's
// metrics, /metrics with the exporter's own, and / with the endpoints and
// modules.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.mux.ServeHTTP(w, r) }

// Running returns the number of probes holding a slot now.
func (e *Exporter) Running() int64 { return e.running.Load() }

func (e *Exporter) handleIndex(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "smtpprobe %s exporter\n\n", e.version)
	fmt.Fprintf(&b, "/probe?target=TARGET&module=NAME  probe a target in serve.allow with a module\n")
	fmt.Fprintf(&b, "/metrics                          the exporter's own metrics\n\n")
	fmt.Fprintf(&b, "Modules:\n")
	for _, name := range config.SortedKeys(e.cfg.Modules) {
		fmt.Fprintf(&b, "  %-20s %s\n", name, e.cfg.Modules[name].Command)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, b.String())
}

// reject answers a request that runs no probe, with a reason line, and
// logs it. module is "" unless it names a configured module, so that
// requests cannot make up label values.
func (e *Exporter) reject(w http.ResponseWriter, code int, module, target, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e.probes.WithLabelValues(module, resultRejected).Inc()
	msg = truncate(msg, 2*maxLogValue)
	e.log.Printf("probe module=%s target=%s rejected=%d: %s", logValue(module), logValue(target), code, oneLine(msg))
	http.Error(w, msg, code)
}

func (e *Exporter) handleProbe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		e.reject(w, http.StatusMethodNotAllowed, "", "", "method %s: /probe answers GET only", r.Method)
		return
	}
	q := r.URL.Query()
	target, name := q.Get("target"), q.Get("module")
	qt := truncate(target, maxLogValue) // what messages quote of it
	modules := strings.Join(config.SortedKeys(e.cfg.Modules), ", ")
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
	j, err := m.Job(target)
	if err != nil {
		e.reject(w, http.StatusBadRequest, name, target, "module %s: %s", name, strings.TrimPrefix(e.text(e.explain(err)), m.Command+": "))
		return
	}
	timeout, err := probeTimeout(r.Header.Get(scrapeTimeoutHeader), e.offset)
	if err != nil {
		e.reject(w, http.StatusBadRequest, name, target, "%v", err)
		return
	}
	if err := e.cfg.Serve.Allowlist.CheckTarget(j.Host(), j.Port()); err != nil {
		e.reject(w, http.StatusForbidden, name, target, "%v", err)
		return
	}
	// Every address the probe connects to is checked again right before
	// its connect (probe.Prober.Allow): DNS decides where a name leads.
	j.Allow = e.cfg.Serve.Allowlist.CheckAddr
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
func (e *Exporter) probe(ctx context.Context, j *job.Job, m *config.Module) (reg *prometheus.Registry, result string, refused error) {
	start := time.Now()
	j.Limiter = e.limiter
	var rep *probe.Report
	res, err := j.NewResolver()
	err = e.explain(err)
	if err == nil {
		rep, err = j.Run(ctx, res)
		err = e.explain(err)
	}
	if pe := (*probe.PolicyError)(nil); errors.As(err, &pe) {
		return nil, "", pe
	}
	took := time.Since(start)
	e.duration.WithLabelValues(m.Name).Observe(took.Seconds())
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
			m.Name, logValue(j.Target), probe.StatusUnknown, took.Round(time.Millisecond), oneLine(e.text(err)))
		reg.MustRegister(prom.FailedRun{Command: j.Command, Module: m.Name, Target: runTarget(j), Took: took})
		return reg, result, nil
	}
	rep.ApplyThresholds(m.Warn, m.Crit)
	st := rep.Status()
	if st == probe.StatusOK {
		result = resultSuccess
	}
	e.log.Printf("probe module=%s target=%s status=%s outcome=%s duration=%s%s",
		m.Name, logValue(j.Target), st, rep.Outcome, took.Round(time.Millisecond), cut)
	reg.MustRegister(prom.Reports{Reports: []*probe.Report{rep}, Modules: []string{m.Name}})
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
func runTarget(j *job.Job) string {
	if d, err := dnscheck.NormalizeDomain(j.Host()); err == nil {
		return d
	}
	return j.Host()
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

// oneLine is s on one line, escaped for a log line or an answer.
func oneLine(s string) string {
	return render.SafeText(strings.Join(strings.Fields(s), " "))
}
