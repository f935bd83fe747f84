package e2e

// The exporter with a real Prometheus: Debian's prometheus (2.42) runs the
// shipped deploy/prometheus.yml (targets and the exporter's address
// substituted, short intervals) and deploy/smtpprobe.rules.yml against
// `smtpprobe serve` in the lab's client namespace; both listen on
// loopback inside it and probe only the lab's addresses. The test reads
// the results back through Prometheus's HTTP API.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
	"gopkg.in/yaml.v3"
)

// promHelperEnv carries the helper's settings (JSON) into the namespace.
const promHelperEnv = "SMTPPROBE_PROMETHEUS_HELPER"

type promHelperArgs struct {
	Bin, Prometheus, DNS, Deploy string
}

// prometheusBinary returns Debian's prometheus; under CI=true its
// absence fails the test (.ci/run installs the package).
func prometheusBinary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("prometheus")
	if err != nil {
		if inCI() {
			t.Fatalf("prometheus not found (CI=true: the prometheus package must be installed): %v", err)
		}
		t.Skipf("prometheus not found: %v", err)
	}
	return p
}

func TestE2EPrometheus(t *testing.T) {
	if testing.Short() && !inCI() {
		t.Skip("e2e: a lab, the binary and Prometheus; skipped with -short")
	}
	prom := prometheusBinary(t)
	t.Parallel()
	l := startLab(t)
	bin := smtpprobeBinary(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	deploy, err := filepath.Abs(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal(promHelperArgs{Bin: bin, Prometheus: prom, DNS: l.DNS, Deploy: deploy})
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.ClientNS, exe,
		"-test.run=^TestE2EPrometheusHelper$", "-test.v", "-test.count=1", "-test.timeout=220s")
	cmd.Env = append(os.Environ(), promHelperEnv+"="+string(args))
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) } // the helper's cleanups stop its children
	cmd.WaitDelay = 15 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("in the lab's client namespace %s:\n%s", l.ClientNS, out)
	if err != nil {
		t.Fatalf("helper in %s: %v", l.ClientNS, err)
	}
	if !strings.Contains(string(out), "--- PASS: TestE2EPrometheusHelper") {
		t.Fatalf("helper in %s did not pass (no PASS line)", l.ClientNS)
	}
}

// startDaemon starts a long-running command whose output goes to log,
// and kills it (SIGTERM, then SIGKILL) in t.Cleanup.
func startDaemon(t *testing.T, log io.Writer, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the helper
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

// TestE2EPrometheusHelper runs inside the lab's client namespace (see
// TestE2EPrometheus); without promHelperEnv it does nothing.
func TestE2EPrometheusHelper(t *testing.T) {
	raw := os.Getenv(promHelperEnv)
	if raw == "" {
		t.Skip("runs only inside TestE2EPrometheus's namespace")
	}
	var a promHelperArgs
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	// smtpprobe serve on loopback in the namespace. session probes mx1
	// (Postfix: success) and the address whose tcp/25 the lab drops
	// (connect-timeout after 2s, within the scrape deadline: a failure
	// of the target); idle measures Postfix's 5s smtpd_timeout, which a
	// 2s scrape timeout cuts short (UNKNOWN, deadline exceeded).
	cfg := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`modules:
  session:
    command: session
    resolver: %s
    connect_timeout: 2s
    timeout: 5s
    helo: probe.lab.example
    to: [postmaster@lab.example]
  idle:
    command: timeout
    resolver: %[1]s
    phase: ehlo
    max_wait: 1m
serve:
  allow: [198.18.3.0/24]
`, a.DNS)), 0o644); err != nil {
		t.Fatal(err)
	}
	serveLog := &probetest.LockedBuffer{}
	startDaemon(t, serveLog, a.Bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	var exporterAddr string
	for i := 0; i < 500 && exporterAddr == ""; i++ {
		if m := listeningRE.FindStringSubmatch(serveLog.String()); m != nil {
			exporterAddr = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if exporterAddr == "" {
		t.Fatalf("smtpprobe serve: no listening line within 5s:\n%s", serveLog.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("smtpprobe serve log:\n%s", serveLog.String())
		}
	})

	// The shipped scrape configuration, with the lab's targets, the
	// exporter's address and short intervals.
	promYML := shippedPromConfig(t, a.Deploy, exporterAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), promYML, 0o644); err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile(filepath.Join(a.Deploy, "smtpprobe.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "smtpprobe.rules.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	const promAddr = "127.0.0.1:19090" // loopback of the lab's own namespace
	promLog := &probetest.LockedBuffer{}
	startDaemon(t, promLog, a.Prometheus, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus log (last lines):\n%s", tail(promLog.String(), 30))
		}
	})

	client := &http.Client{Timeout: 5 * time.Second}
	query := func(q string) (map[string]float64, error) {
		res, err := client.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var body struct {
			Status string
			Error  string
			Data   struct {
				Result []struct {
					Metric map[string]string
					Value  [2]any
				}
			}
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			return nil, err
		}
		if body.Status != "success" {
			return nil, fmt.Errorf("query %s: %s", q, body.Error)
		}
		out := map[string]float64{}
		for _, r := range body.Data.Result {
			var v float64
			fmt.Sscan(fmt.Sprint(r.Value[1]), &v)
			out[r.Metric["instance"]] = v
		}
		return out, nil
	}
	// Wait (at most 120s) until every scrape has landed, then check them.
	want := []struct {
		query string
		want  map[string]float64
	}{
		{`up{job=~"smtpprobe_.*"}`, map[string]float64{"198.18.3.10": 1, "198.18.3.20": 1, exporterAddr: 1}},
		{`smtpprobe_success{job="smtpprobe_mx"}`, map[string]float64{"198.18.3.10": 1, "198.18.3.20": 0}},
		{`smtpprobe_status{job="smtpprobe_mx"}`, map[string]float64{"198.18.3.10": 0, "198.18.3.20": 2}},
		{`smtpprobe_probe_deadline_exceeded{job="smtpprobe_mx"}`, map[string]float64{"198.18.3.10": 0, "198.18.3.20": 0}},
		{`smtpprobe_result_outcome{job="smtpprobe_mx",outcome="connect-timeout"}`, map[string]float64{"198.18.3.20": 1}},
		{`smtpprobe_probe_deadline_exceeded{job="smtpprobe_idle"}`, map[string]float64{"198.18.3.10": 1}},
		{`smtpprobe_status{job="smtpprobe_idle"}`, map[string]float64{"198.18.3.10": 3}},
		{`smtpprobe_config_last_reload_successful{job="smtpprobe_exporter"}`, map[string]float64{exporterAddr: 1}},
	}
	var last []string
	deadline := time.Now().Add(120 * time.Second)
	for {
		last = last[:0]
		for _, w := range want {
			got, err := query(w.query)
			if err != nil {
				last = append(last, fmt.Sprintf("%s: %v", w.query, err))
			} else if fmt.Sprint(got) != fmt.Sprint(w.want) {
				last = append(last, fmt.Sprintf("%s = %v, want %v", w.query, got, w.want))
			}
		}
		if len(last) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, l := range last {
		t.Error(l)
	}
	if len(last) == 0 {
		t.Logf("Prometheus read back every expected series")
	}

	// The shipped rules loaded and evaluated in the real Prometheus.
	res, err := client.Get("http://" + promAddr + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rb struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError string
				}
			}
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&rb); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rb.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health == "err" {
				t.Errorf("rule %s: %s", r.Name, r.LastError)
			}
		}
	}
	if n != 8 {
		t.Errorf("Prometheus loaded %d rules of smtpprobe.rules.yml, want 8", n)
	}
}

// shippedPromConfig reads deploy/prometheus.yml and points it at the lab:
// the mx job runs the session module against mx1 and the dropped
// address, the idle job the idle module against mx1 with a 2s scrape
// timeout, the exporter job at exporter; intervals are seconds.
func shippedPromConfig(t testing.TB, deploy, exporter string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deploy, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c["global"] = map[string]any{"scrape_interval": "3s", "evaluation_interval": "1s"}
	jobs, _ := c["scrape_configs"].([]any)
	seen := map[string]bool{}
	for _, j := range jobs {
		job := j.(map[string]any)
		name := job["job_name"].(string)
		seen[name] = true
		switch name {
		case "smtpprobe_mx":
			job["params"] = map[string]any{"module": []string{"session"}}
			job["static_configs"] = []any{map[string]any{"targets": []string{"198.18.3.10", "198.18.3.20"}}}
			job["scrape_interval"], job["scrape_timeout"] = "6s", "6s"
		case "smtpprobe_idle":
			job["static_configs"] = []any{map[string]any{"targets": []string{"198.18.3.10"}}}
			job["scrape_interval"], job["scrape_timeout"] = "3s", "2s"
		case "smtpprobe_exporter":
			job["static_configs"] = []any{map[string]any{"targets": []string{exporter}}}
			job["scrape_interval"] = "2s"
			continue
		default:
			t.Fatalf("deploy/prometheus.yml: unexpected job %q", name)
		}
		// The relabelling is the shipped one; only the exporter's
		// address (the last rule's replacement) changes.
		relabel := job["relabel_configs"].([]any)
		lastRule := relabel[len(relabel)-1].(map[string]any)
		if lastRule["target_label"] != "__address__" {
			t.Fatalf("deploy/prometheus.yml job %s: the last relabel rule sets %v, want __address__", name, lastRule["target_label"])
		}
		lastRule["replacement"] = exporter
	}
	for _, name := range []string{"smtpprobe_mx", "smtpprobe_idle", "smtpprobe_exporter"} {
		if !seen[name] {
			t.Fatalf("deploy/prometheus.yml has no job %s", name)
		}
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
