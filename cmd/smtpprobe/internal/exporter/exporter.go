// Package exporter is smtpprobe's Prometheus exporter as an
// http.Handler, in the multi-target pattern of blackbox_exporter:
// /probe?target=TARGET&module=NAME probes a target in serve.allow with a
// module of the configuration and answers with the run's metrics
// (probe/render/prom), or with debug=true the probe's log, timeline and
// metrics as text; /metrics has the exporter's own; / is an HTML page of
// the modules and the recent probes, whose debug text /logs?id=N keeps;
// POST /-/reload reloads the configuration (Reload).
//
// A probe that the scrape deadline cuts short is not a failure of the
// target: it is exported with smtpprobe_status 3 (UNKNOWN) and
// smtpprobe_probe_deadline_exceeded 1, without the sessions the deadline
// ended.
//
// What belongs here: a request's parsing and refusals (400, 403, 405,
// 503), the allowlist checks, the probe's deadline from the scrape
// timeout, the concurrency limit, reloads and the exporter's own
// metrics. Serve runs it on a listener: the connection cap,
// exporter-toolkit's TLS and authentication, reloads on a channel (the
// front end's SIGHUP) and a graceful shutdown when its context ends. Flags,
// signals and the words of errors belong to the front end (cmd/smtpprobe
// serve).
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
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/job"
	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/assess"
	"github.com/smtpprobe/smtpprobe/probe/render"
	"github.com/smtpprobe/smtpprobe/probe/render/prom"
	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
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
	// maxDebug bounds the debug text kept of a recent probe.
	maxDebug = 64 << 10
	// scrapeTimeoutHeader is what Prometheus sends with every scrape.
	scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"
)

// Exporter is the http.Handler of one configuration: /probe, /metrics
// and /. Make one with New.
type Exporter struct {
	st       atomic.Pointer[state] // the configuration in force
	reloadMu sync.Mutex            // one Reload at a time
	load     func() (*config.Config, error)
	offset   time.Duration
	override int                   // Options.MaxConcurrent
	vantage  string                // Options.Vantage
	own      prometheus.Registerer // reg, with the vantage label
	log      *log.Logger
	version  string
	explain  func(error) error
	text     func(error) string
	timeline func(io.Writer, *probe.Report)
	mux      *http.ServeMux
	running  atomic.Int64 // probes holding a slot
	started  time.Time
	recent   *ring

	reg          *prometheus.Registry
	probes       *prometheus.CounterVec
	inFlight     prometheus.Gauge
	duration     *prometheus.HistogramVec
	maxConc      prometheus.Gauge
	reloadOK     prometheus.Gauge
	reloadTime   prometheus.Gauge
	deadlineCuts *prometheus.CounterVec
}

// state is one loaded configuration with what is sized from it. A reload
// swaps it whole; a probe keeps the state it started with.
type state struct {
	cfg     *config.Config
	sem     chan struct{}
	limiter *wire.HostLimiter
	loaded  time.Time
}

func newState(cfg *config.Config) *state {
	return &state{cfg: cfg, sem: make(chan struct{}, cfg.Serve.MaxConcurrent),
		limiter: wire.NewHostLimiter(cfg.PerHost), loaded: time.Now()}
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
	// Load, if set, reads and checks the configuration again for Reload
	// (SIGHUP, POST /-/reload); without it a reload fails.
	Load func() (*config.Config, error)
	// Timeline, if set, writes a report as text with every event on the
	// wire, for debug=true; by default render.Text with Verbose.
	Timeline func(io.Writer, *probe.Report)
	// MaxConcurrent, if > 0, overrides serve.max_concurrent of Config
	// and of every configuration Load returns.
	MaxConcurrent int
	// Recent is how many probes the landing page lists; 0 means 32.
	Recent int
	// Vantage, if set, overrides serve.vantage of Config and of every
	// configuration Load returns (--vantage).
	Vantage string
}

// New returns the exporter of opt.Config. Every module's series of its
// own metrics exist from the start, at zero.
func New(opt Options) *Exporter {
	cfg := opt.Config
	logger := opt.Log
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	if opt.Recent <= 0 {
		opt.Recent = 32
	}
	e := &Exporter{
		load:     opt.Load,
		offset:   opt.Offset,
		override: opt.MaxConcurrent,
		vantage:  opt.Vantage,
		log:      logger,
		version:  opt.Version,
		explain:  opt.Explain,
		text:     opt.ErrorText,
		timeline: opt.Timeline,
		started:  time.Now(),
		recent:   newRing(opt.Recent),
		reg:      prometheus.NewRegistry(),
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
	e.maxConc = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "smtpprobe_exporter_max_concurrent",
		Help: "Probes that may run at once (serve.max_concurrent).",
	})
	e.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "smtpprobe_config_last_reload_successful",
		Help: "Whether the last configuration reload succeeded (1) or failed and the previous configuration stayed in force (0).",
	})
	e.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "smtpprobe_config_last_reload_success_timestamp_seconds",
		Help: "When the configuration in force was loaded, Unix time.",
	})
	e.deadlineCuts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smtpprobe_exporter_deadline_exceeded_total",
		Help: "Probes cut short by their deadline (the scrape timeout less the offset), by module.",
	}, []string{"module"})
	// The exporter's own series carry the vantage it started with (a
	// reload changes that of the probes' series only).
	e.own = prometheus.WrapRegistererWith(vantageLabels(e.vantageOf(cfg)), e.reg)
	e.own.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		e.probes, e.inFlight, e.duration, e.maxConc, e.reloadOK, e.reloadTime, e.deadlineCuts,
	)
	e.install(cfg)
	e.reloadOK.Set(1)
	if e.explain == nil {
		e.explain = func(err error) error { return err }
	}
	if e.text == nil {
		e.text = func(err error) string { return err.Error() }
	}
	if e.timeline == nil {
		e.timeline = func(w io.Writer, rep *probe.Report) { render.Text(w, rep, render.Options{Verbose: true}) }
	}
	e.mux = http.NewServeMux()
	e.mux.HandleFunc("/probe", e.handleProbe)
	e.mux.HandleFunc("/-/reload", e.handleReload)
	e.mux.HandleFunc("/logs", e.handleLogs)
	e.mux.Handle("/metrics", promhttp.InstrumentMetricHandler(e.own, promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{ErrorLog: e.log})))
	e.mux.HandleFunc("/", e.handleIndex)
	return e
}

// ServeHTTP answers /probe?target=TARGET&module=NAME with the run's
// metrics, /metrics with the exporter's own, and / with the endpoints and
// modules. Every answer carries X-Content-Type-Options: nosniff, because
// the text ones (debug=true, /logs, errors) quote what probed servers
// said, which may be HTML with a script: a browser must not sniff it.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	e.mux.ServeHTTP(w, r)
}

// Running returns the number of probes holding a slot now.
func (e *Exporter) Running() int64 { return e.running.Load() }

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
	st := e.st.Load()
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		e.reject(w, http.StatusMethodNotAllowed, "", "", "method %s: /probe answers GET only", r.Method)
		return
	}
	q := r.URL.Query()
	target, name := q.Get("target"), q.Get("module")
	qt := truncate(target, maxLogValue) // what messages quote of it
	modules := strings.Join(config.SortedKeys(st.cfg.Modules), ", ")
	debug := false
	if v := q.Get("debug"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			e.reject(w, http.StatusBadRequest, "", target, "debug=%q: want debug=true or debug=false", truncate(v, 32))
			return
		}
		debug = b
	}
	switch {
	case target == "":
		e.reject(w, http.StatusBadRequest, "", "", "missing target: want /probe?target=DOMAIN[:PORT]&module=NAME")
		return
	case name == "":
		e.reject(w, http.StatusBadRequest, "", target, "missing module: want /probe?target=...&module=NAME (modules: %s)", modules)
		return
	}
	m, ok := st.cfg.Modules[name]
	if !ok {
		e.reject(w, http.StatusBadRequest, "", target, "unknown module %q (modules: %s)", truncate(name, maxLogValue), modules)
		return
	}
	j, err := m.Job(target)
	if err != nil {
		e.reject(w, http.StatusBadRequest, name, target, "module %s: %s", name, strings.TrimPrefix(e.words(err), m.Command+": "))
		return
	}
	timeout, err := probeTimeout(r.Header.Get(scrapeTimeoutHeader), e.offset)
	if err != nil {
		e.reject(w, http.StatusBadRequest, name, target, "%v", err)
		return
	}
	if err := st.cfg.Serve.Allowlist.CheckTarget(j.Host(), j.Port()); err != nil {
		e.reject(w, http.StatusForbidden, name, target, "%v", err)
		return
	}
	// Every address the probe connects to is checked again right before
	// its connect (probe.Prober.Allow): DNS decides where a name leads.
	j.Allow = st.cfg.Serve.Allowlist.CheckAddr
	// config.CheckServe refused modules that deliver; a scrape never sends the
	// final dot, whatever a module says.
	j.Session.Deliver = false
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	// A free slot is taken at once, so that an idle exporter never
	// answers busy however short the deadline; otherwise wait for one.
	select {
	case st.sem <- struct{}{}:
	default:
		select {
		case st.sem <- struct{}{}:
		case <-ctx.Done():
			if r.Context().Err() != nil {
				return // the client went away
			}
			e.reject(w, http.StatusServiceUnavailable, name, target,
				"busy: %d probes (serve.max_concurrent) ran for the whole deadline of %s", cap(st.sem), units.Setting(timeout.Round(time.Millisecond)))
			return
		}
	}
	e.running.Add(1)
	e.inFlight.Inc()
	run := e.probe(ctx, st, j, m, timeout)
	e.inFlight.Dec()
	e.running.Add(-1)
	<-st.sem
	if run.refused != nil {
		e.reject(w, http.StatusForbidden, name, qt, "target %s: %v", qt, run.refused)
		return
	}

	e.probes.WithLabelValues(name, run.result).Inc()
	if run.cut {
		e.deadlineCuts.WithLabelValues(name).Inc()
	}
	metrics, err := gatherText(run.reg)
	if err != nil {
		e.log.Printf("probe module=%s target=%s: metrics: %v", name, logValue(target), err)
	}
	dbg := e.debugText(run, m, metrics)
	e.recent.add(record{Time: run.start, Module: name, Target: truncate(target, maxLogValue), Status: run.status,
		Outcome: run.outcome, Took: run.took, Cut: run.cut, Debug: truncate(dbg, maxDebug)})
	if debug {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, dbg)
		return
	}
	promhttp.HandlerFor(run.reg, promhttp.HandlerOpts{ErrorLog: e.log, ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
}

// words is the text of a job's error. A *job.FieldError names a key of
// the module, so it is worded with the YAML key ("size 4096: ..."), never
// a flag; the front end words the other errors (Options.Explain).
func (e *Exporter) words(err error) string {
	var fe *job.FieldError
	if errors.As(err, &fe) {
		return fe.Format(func(f string) string { return f })
	}
	return e.text(e.explain(err))
}

// run is what one probe left: its metrics, its report or error, and
// its log lines, for the answer, the debug text and the landing page.
type run struct {
	reg      *prometheus.Registry
	result   string // for smtpprobe_exporter_probes_total
	refused  error  // a *wire.PolicyError: 403, no session started
	rep      *probe.Report
	err      error // the run could not be made
	cut      bool  // the deadline ended it
	status   string
	outcome  string
	start    time.Time
	took     time.Duration
	deadline time.Duration
	logs     []string
	target   string
}

// logf writes a log line of the probe to the exporter's log (one line
// per probe) and keeps it for the debug text.
func (e *Exporter) logf(r *run, format string, args ...any) {
	line := e.debugf(r, format, args...)
	e.log.Print(line)
}

// debugf keeps a line for the probe's debug text only.
func (e *Exporter) debugf(r *run, format string, args ...any) string {
	line := fmt.Sprintf(format, args...)
	r.logs = append(r.logs, time.Now().UTC().Format("15:04:05.000")+" "+line)
	return line
}

// probe runs one job. A run that could not be made (DNS did not answer,
// a module the target's servers cannot serve, a local failure) is a
// failed probe as in blackbox_exporter: smtpprobe_success 0 with
// smtpprobe_status 3 (UNKNOWN), and the reason in the log; Prometheus
// still gets an answer to alert on, not a scrape error.
//
// A run the deadline cut short is UNKNOWN too, with
// smtpprobe_probe_deadline_exceeded 1: the sessions it ended saw the
// exporter's deadline, not the server's behaviour (a timeout module
// would read reply-timeout, CRITICAL), so none of their series are
// exported; the debug text shows what they had seen.
//
// refused is the *wire.PolicyError of an address outside serve.allow:
// then no session was started and the request gets 403.
func (e *Exporter) probe(ctx context.Context, st *state, j *job.Job, m *config.Module, deadline time.Duration) (r run) {
	r.start, r.deadline, r.target = time.Now(), deadline, j.Target
	j.Limiter = st.limiter
	e.debugf(&r, "probe module=%s target=%s command=%s deadline=%s", m.Name, logValue(j.Target), m.Command, units.Setting(deadline))
	res, err := j.NewResolver()
	if err == nil {
		r.rep, err = j.Run(ctx, res)
	}
	if pe := (*wire.PolicyError)(nil); errors.As(err, &pe) {
		r.refused = pe
		return r
	}
	r.took = time.Since(r.start)
	e.duration.WithLabelValues(m.Name).Observe(r.took.Seconds())
	// The deadline, not the client going away (context.Canceled) nor the
	// module's own reply timeout, ended the run.
	r.cut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	r.err = err
	r.reg = prometheus.NewRegistry()
	reg := prometheus.WrapRegistererWith(vantageLabels(e.vantageOf(st.cfg)), r.reg) // every series of the probe
	r.result = resultFailure
	cutGauge := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "smtpprobe_probe_deadline_exceeded",
		Help: "Whether the probe's deadline (the scrape timeout less the offset) cut it short (1): then its status is UNKNOWN and says nothing of the target.",
	})
	reg.MustRegister(cutGauge)
	failed := prom.FailedRun{Command: j.Command, Module: m.Name, Target: runTarget(j), Took: r.took}
	switch {
	case r.cut:
		cutGauge.Set(1)
		r.status, r.outcome = probe.StatusUnknown.String(), "deadline-exceeded"
		so := ""
		if r.rep != nil {
			so = fmt.Sprintf("; the outcome so far was %s", r.rep.Outcome)
		}
		e.logf(&r, "probe module=%s target=%s status=%s duration=%s: the deadline of %s cut the probe short%s; raise scrape_timeout above the module's own bounds",
			m.Name, logValue(j.Target), probe.StatusUnknown, units.Duration(r.took), units.Setting(deadline), so)
		reg.MustRegister(failed)
		if r.rep != nil {
			assess.Apply(r.rep, m.Warn, m.Crit)
		}
	case err != nil:
		if errors.Is(err, context.Canceled) {
			err = errors.New("the request was cancelled (the client went away, or the exporter stopped)")
		}
		r.status, r.outcome = probe.StatusUnknown.String(), "error"
		e.logf(&r, "probe module=%s target=%s status=%s duration=%s error: %s",
			m.Name, logValue(j.Target), probe.StatusUnknown, units.Duration(r.took), oneLine(e.words(err)))
		reg.MustRegister(failed)
	default:
		assess.Apply(r.rep, m.Warn, m.Crit)
		st := r.rep.Status()
		if st == probe.StatusOK {
			r.result = resultSuccess
		}
		r.status, r.outcome = st.String(), string(r.rep.Outcome)
		e.logf(&r, "probe module=%s target=%s status=%s outcome=%s duration=%s",
			m.Name, logValue(j.Target), st, r.rep.Outcome, units.Duration(r.took))
		reg.MustRegister(prom.Reports{Reports: []*probe.Report{r.rep}, Modules: []string{m.Name}})
	}
	return r
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
			scrapeTimeoutHeader, truncate(strings.TrimSpace(header), 32), units.Duration(d), units.Setting(minProbeTimeout))
	}
	return min(d, maxProbeTimeout), nil
}

// oneLine is s on one line, escaped for a log line or an answer.
func oneLine(s string) string {
	return render.SafeText(strings.Join(strings.Fields(s), " "))
}

// vantageOf is the vantage of the exporter under cfg: --vantage, else
// serve.vantage, else none.
func (e *Exporter) vantageOf(cfg *config.Config) string {
	if e.vantage != "" {
		return e.vantage
	}
	return cfg.Serve.Vantage
}

// vantageLabels is the constant label set that a vantage puts on every
// series: {vantage="NAME"}, or none.
func vantageLabels(v string) prometheus.Labels {
	if v == "" {
		return nil
	}
	return prometheus.Labels{"vantage": v}
}
