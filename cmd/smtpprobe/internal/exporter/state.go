package exporter

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/smtpprobe/smtpprobe/cmd/smtpprobe/internal/config"
	"github.com/smtpprobe/smtpprobe/probe/units"
)

// install puts cfg in force, with Options.MaxConcurrent if set: its
// modules' series exist from then on, at zero, and the gauges show its
// settings.
func (e *Exporter) install(cfg *config.Config) {
	if e.override > 0 {
		cfg.Serve.MaxConcurrent = e.override
	}
	st := newState(cfg)
	// Unchanged bounds keep their slots, so that probes in flight across
	// a reload still count against them.
	if old := e.st.Load(); old != nil {
		if cap(old.sem) == cap(st.sem) {
			st.sem = old.sem
		}
		if old.cfg.PerHost == cfg.PerHost {
			st.limiter = old.limiter
		}
	}
	for name := range cfg.Modules {
		for _, r := range []string{resultSuccess, resultFailure, resultRejected} {
			e.probes.WithLabelValues(name, r)
		}
		e.duration.WithLabelValues(name)
		e.deadlineCuts.WithLabelValues(name)
	}
	e.maxConc.Set(float64(cfg.Serve.MaxConcurrent))
	e.reloadTime.Set(float64(st.loaded.UnixMilli()) / 1000)
	e.st.Store(st)
}

// Config returns the configuration in force.
func (e *Exporter) Config() *config.Config { return e.st.Load().cfg }

// Reload reads the configuration again with Options.Load and puts it in
// force. If it cannot be loaded, the configuration in force stays, the
// error is returned and logged, and smtpprobe_config_last_reload_successful
// is 0 until a reload succeeds. Probes in flight finish with the
// configuration they started with.
func (e *Exporter) Reload() error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	if e.load == nil {
		err := errors.New("reload: this exporter has no configuration file to read again")
		e.reloadOK.Set(0)
		e.log.Printf("%v", err)
		return err
	}
	cfg, err := e.load()
	if err != nil {
		e.reloadOK.Set(0)
		e.log.Printf("reload failed, keeping the configuration loaded %s: %s",
			e.st.Load().loaded.UTC().Format(time.RFC3339), oneLine(e.text(err)))
		return err
	}
	old := e.st.Load().cfg
	e.install(cfg)
	e.reloadOK.Set(1)
	e.log.Printf("reloaded %s: %s (was %s)", cfg.Path, moduleList(cfg), moduleList(old))
	return nil
}

func moduleList(c *config.Config) string {
	names := config.SortedKeys(c.Modules)
	return units.Count(len(names), "module") + " (" + strings.Join(names, ", ") + ")"
}

// handleReload answers POST /-/reload: 200 and what was loaded, or 500
// and why the new configuration was refused (the old one stays).
func (e *Exporter) handleReload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, fmt.Sprintf("method %s: /-/reload answers POST (or PUT) only", r.Method), http.StatusMethodNotAllowed)
		return
	}
	if err := e.Reload(); err != nil {
		http.Error(w, "reload failed, the previous configuration stays in force: "+oneLine(e.text(err)), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "reloaded: %s\n", moduleList(e.Config()))
}

// gatherText renders a registry in the text exposition format.
func gatherText(reg prometheus.Gatherer) (string, error) {
	if reg == nil {
		return "", nil
	}
	mfs, err := reg.Gather()
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if eerr := enc.Encode(mf); eerr != nil && err == nil {
			err = eerr
		}
	}
	return buf.String(), err
}

// gaugeValue reads a gauge's value.
func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if g.Write(&m) != nil || m.Gauge == nil {
		return 0
	}
	return m.Gauge.GetValue()
}
