package exporter

import (
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// record is one probe as the landing page lists it.
type record struct {
	ID      int64
	Time    time.Time
	Module  string
	Target  string // as the request gave it, shortened to maxLogValue
	Status  string
	Outcome string
	Took    time.Duration
	Cut     bool   // the deadline cut it short
	Debug   string // its debug text, at most maxDebug bytes
}

// ring keeps the last n probes, newest last.
type ring struct {
	mu   sync.Mutex
	next int64
	buf  []record
	n    int
}

func newRing(n int) *ring { return &ring{n: n} }

func (r *ring) add(rec record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	rec.ID = r.next
	r.buf = append(r.buf, rec)
	if len(r.buf) > r.n {
		r.buf = append(r.buf[:0:0], r.buf[len(r.buf)-r.n:]...)
	}
}

// list returns the probes kept, newest first.
func (r *ring) list() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]record, len(r.buf))
	for i, rec := range r.buf {
		out[len(r.buf)-1-i] = rec
	}
	return out
}

func (r *ring) get(id int64) (record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.buf {
		if rec.ID == id {
			return rec, true
		}
	}
	return record{}, false
}

// indexPage is the landing page. html/template escapes every value: a
// target or module name from a request cannot inject markup.
var indexPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>smtpprobe exporter</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}code{background:#f4f4f4}</style>
</head>
<body>
<h1>smtpprobe exporter</h1>
<p>Version {{.Version}}. Configuration {{.Path}}, loaded {{.Loaded}}{{if not .ReloadOK}} (<strong>the last reload failed</strong>; see the log){{end}}.</p>
<ul>
<li><code>/probe?target=TARGET&amp;module=NAME</code>: probe a target in serve.allow with a module (add <code>&amp;debug=true</code> for the log and timeline)</li>
<li><a href="metrics">/metrics</a>: the exporter's own metrics</li>
<li><code>POST /-/reload</code>: read the configuration again (as SIGHUP does)</li>
</ul>
<h2>Modules</h2>
<table><tr><th>Module</th><th>Command</th><th>Settings</th></tr>
{{range .Modules}}<tr><td>{{.Name}}</td><td>{{.Command}}</td><td>{{.Settings}}</td></tr>
{{end}}</table>
<p>serve.allow: {{.Allow}}</p>
<h2>Recent probes</h2>
{{if .Recent}}<table><tr><th>Time (UTC)</th><th>Module</th><th>Target</th><th>Status</th><th>Outcome</th><th>Duration</th><th>Debug</th></tr>
{{range .Recent}}<tr><td>{{.Time}}</td><td>{{.Module}}</td><td>{{.Target}}</td><td>{{.Status}}</td><td>{{.Outcome}}</td><td>{{.Took}}</td><td><a href="logs?id={{.ID}}">log</a></td></tr>
{{end}}</table>{{else}}<p>None yet.</p>{{end}}
</body>
</html>
`))

func (e *Exporter) handleIndex(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	st := e.st.Load()
	type mod struct{ Name, Command, Settings string }
	type rec struct {
		ID                                          int64
		Time, Module, Target, Status, Outcome, Took string
	}
	data := struct {
		Version, Path, Loaded, Allow string
		ReloadOK                     bool
		Modules                      []mod
		Recent                       []rec
	}{Version: e.version, Path: st.cfg.Path, Loaded: st.loaded.UTC().Format(time.RFC3339),
		Allow: strings.Join(st.cfg.Serve.Allow, ", "), ReloadOK: gaugeValue(e.reloadOK) == 1}
	for _, name := range config.SortedKeys(st.cfg.Modules) {
		m := st.cfg.Modules[name]
		data.Modules = append(data.Modules, mod{name, m.Command, strings.Join(m.Settings(), ", ")})
	}
	for _, p := range e.recent.list() {
		data.Recent = append(data.Recent, rec{p.ID, p.Time.UTC().Format("2006-01-02 15:04:05"), p.Module, p.Target,
			p.Status, p.Outcome, units.Duration(p.Took)})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := indexPage.Execute(w, data); err != nil {
		e.log.Printf("landing page: %v", err)
	}
}

// handleLogs answers /logs?id=N with the debug text of a recent probe.
func (e *Exporter) handleLogs(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err != nil {
		http.Error(w, "want /logs?id=N with N from the landing page", http.StatusBadRequest)
		return
	}
	rec, ok := e.recent.get(id)
	if !ok {
		http.Error(w, fmt.Sprintf("probe %d is not among the last %d", id, e.recent.n), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, rec.Debug)
}

// debugText is the answer of debug=true, in the manner of
// blackbox_exporter: the probe's log, its timeline (every event on the
// wire, Options.Timeline), the metrics a scrape would get, and the
// module.
func (e *Exporter) debugText(r run, m *config.Module, metrics string) string {
	var b strings.Builder
	b.WriteString("Logs for the probe:\n")
	for _, l := range r.logs {
		b.WriteString(oneLine(l) + "\n")
	}
	b.WriteString("\nTimeline:\n")
	switch {
	case r.rep == nil && r.err != nil:
		fmt.Fprintf(&b, "no report: %s\n", oneLine(e.words(r.err)))
	case r.rep == nil:
		b.WriteString("no report\n")
	case e.timeline != nil:
		if r.cut {
			fmt.Fprintf(&b, "(cut short by the deadline of %s: the sessions it ended read as reply-timeout below, which is the exporter's deadline, not the server)\n",
				units.Setting(r.deadline))
		}
		e.timeline(&b, r.rep)
	default:
		fmt.Fprintf(&b, "%s %s: outcome %s\n", r.rep.Command, r.rep.Target, r.rep.Outcome)
	}
	b.WriteString("\nMetrics that would have been returned:\n")
	b.WriteString(metrics)
	fmt.Fprintf(&b, "\nModule configuration:\nmodule: %s\n", m.Name)
	for _, s := range m.Settings() {
		b.WriteString("  " + s + "\n")
	}
	return b.String()
}
