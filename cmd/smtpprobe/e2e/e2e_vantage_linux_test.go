package e2e

// Issue 20, friction 10: many vantage points through Prometheus. Two
// `smtpprobe serve` binaries run in two lab client namespaces, one of
// them (client2, vantage "home-dsl") behind r1, which drops its tcp/25 as
// an ISP's port-25 block does; one real Prometheus (Debian's) scrapes
// both with the shipped deploy/prometheus-vantages.yml and evaluates
// deploy/smtpprobe.vantage.rules.yml (their "for" shortened). The
// alerts API must show ok.lab.example failing from home-dsl only, and
// dropped.lab.example (the server drops its tcp/25) failing from every
// vantage point.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

func TestDeployVantagePromtool(t *testing.T) {
	tool := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "smtpprobe.vantage.rules.yml"},
		{"test", "rules", "smtpprobe.vantage.rules.test.yml"},
		{"check", "config", "prometheus-vantages.yml"},
	} {
		out, err := runTool(t, deployDir, tool, args...)
		if err != nil || !strings.Contains(out, "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestE2EVantages(t *testing.T) {
	if testing.Short() && !inCI() {
		t.Skip("e2e: a lab, two exporters and Prometheus; skipped with -short")
	}
	prom := prometheusBinary(t)
	needTools(t, "curl")
	t.Parallel()
	l := startLab(t, "--quick")
	client2 := strings.TrimPrefix(strings.TrimSpace(labRun(t, l.script, "client2", l.ID)), "LAB_CLIENT2_NS=")
	bin := smtpprobeBinary(t)
	deploy, err := filepath.Abs(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	// One configuration for both; fra1 names itself in the file, the
	// other with --vantage.
	cfg := func(extra string) string {
		p := filepath.Join(dir, fmt.Sprintf("serve%d.yaml", len(extra)))
		if err := os.WriteFile(p, []byte(fmt.Sprintf(`modules:
  mx:
    command: mx
    resolver: %s
    ipv4: true
    connect_timeout: 2s
    timeout: 5s
    helo: probe.lab.example
serve:
  allow: [lab.example, 198.18.3.0/24]
%s`, l.DNS, extra)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const (
		exporterA = "198.18.1.2:9465" // client: a clear path
		exporterB = "198.18.4.2:9465" // client2: tcp/25 dropped at r1
		promAddr  = "127.0.0.1:19091" // loopback of the client namespace
	)
	logA, logB, promLog := &probetest.LockedBuffer{}, &probetest.LockedBuffer{}, &probetest.LockedBuffer{}
	startDaemon(t, logA, "ip", "netns", "exec", l.ClientNS, bin, "serve", "--config", cfg("  vantage: fra1\n"), "--listen", exporterA)
	startDaemon(t, logB, "ip", "netns", "exec", client2, bin, "serve", "--config", cfg(""), "--listen", exporterB, "--vantage", "home-dsl")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve fra1:\n%s\nserve home-dsl:\n%s\nprometheus (last lines):\n%s", logA, logB, tail(promLog.String(), 30))
		}
	})

	// The shipped configuration: the lab's targets and exporters, short
	// intervals; the shipped rules with "for: 10m" shortened to 5s.
	b, err := os.ReadFile(filepath.Join(deploy, "prometheus-vantages.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var pc map[string]any
	if err := yaml.Unmarshal(b, &pc); err != nil {
		t.Fatal(err)
	}
	pc["global"] = map[string]any{"scrape_interval": "8s", "evaluation_interval": "2s"}
	for _, j := range pc["scrape_configs"].([]any) {
		job := j.(map[string]any)
		switch job["job_name"] {
		case "smtpprobe_mx":
			job["scrape_interval"], job["scrape_timeout"] = "8s", "8s"
			groups := job["static_configs"].([]any)
			if len(groups) != 2 {
				t.Fatalf("prometheus-vantages.yml: job smtpprobe_mx has %d target groups, want one per exporter (2)", len(groups))
			}
			for i, exp := range []string{exporterA, exporterB} {
				g := groups[i].(map[string]any)
				g["targets"] = []string{"ok.lab.example", "dropped.lab.example"}
				g["labels"].(map[string]any)["__exporter__"] = exp
			}
		case "smtpprobe_exporter":
			job["static_configs"] = []any{map[string]any{"targets": []string{exporterA, exporterB}}}
		default:
			t.Fatalf("prometheus-vantages.yml: unexpected job %v", job["job_name"])
		}
	}
	out, err := yaml.Marshal(pc)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"prometheus.yml": out}
	for _, f := range []string{"smtpprobe.rules.yml", "smtpprobe.vantage.rules.yml"} {
		b, err := os.ReadFile(filepath.Join(deploy, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "smtpprobe.vantage.rules.yml" {
			if !strings.Contains(string(b), "for: 10m") {
				t.Fatalf("%s: no \"for: 10m\" to shorten", f)
			}
			b = []byte(strings.ReplaceAll(string(b), "for: 10m", "for: 5s"))
		}
		files[f] = b
	}
	for f, b := range files {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, promLog, "ip", "netns", "exec", l.ClientNS, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)

	// The alerts API, read with curl inside the client namespace.
	type alert struct {
		Labels map[string]string
		State  string
	}
	alerts := func() ([]alert, error) {
		out, err := exec.Command("ip", "netns", "exec", l.ClientNS, "curl", "-sf", "--max-time", "5", "http://"+promAddr+"/api/v1/alerts").Output()
		if err != nil {
			return nil, err
		}
		var body struct {
			Data struct{ Alerts []alert }
		}
		if err := json.Unmarshal(out, &body); err != nil {
			return nil, err
		}
		return body.Data.Alerts, nil
	}
	// firing names the firing vantage alerts as "alertname target [vantage]".
	firing := func(as []alert) []string {
		var out []string
		for _, a := range as {
			name := a.Labels["alertname"]
			if a.State != "firing" || !strings.HasPrefix(name, "SMTPProbeFailingFrom") {
				continue
			}
			s := name + " " + a.Labels["target"]
			if v := a.Labels["vantage"]; v != "" {
				s += " " + v
			}
			out = append(out, s)
		}
		sort.Strings(out)
		return out
	}
	want := []string{
		"SMTPProbeFailingFromEveryVantage dropped.lab.example",
		"SMTPProbeFailingFromSomeVantages ok.lab.example home-dsl",
	}
	var got []string
	var lastErr error
	deadline := time.Now().Add(150 * time.Second)
	for time.Now().Before(deadline) {
		as, err := alerts()
		lastErr = err
		if err == nil {
			got = firing(as)
			if strings.Join(got, "\n") == strings.Join(want, "\n") {
				break
			}
		}
		time.Sleep(2 * time.Second)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("firing vantage alerts = %q (last error %v), want %q", got, lastErr, want)
	}
	// Still so a few evaluations later (state is part of the test: the
	// same exporters, caches and Prometheus, nothing flushed).
	time.Sleep(10 * time.Second)
	as, err := alerts()
	if err != nil {
		t.Fatal(err)
	}
	if got := firing(as); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("firing vantage alerts 10 s later = %q, want %q", got, want)
	}
	for _, a := range as {
		if strings.HasPrefix(a.Labels["alertname"], "SMTPProbeFailingFrom") {
			t.Logf("alert %s %s: target=%s vantage=%q exporter=%q", a.State, a.Labels["alertname"], a.Labels["target"], a.Labels["vantage"], a.Labels["exporter"])
		}
	}
}

// labRun runs lab.sh with args and returns its stdout.
func labRun(t testing.TB, script string, args ...string) string {
	t.Helper()
	out, err := exec.Command("bash", append([]string{script}, args...)...).Output()
	if err != nil {
		t.Fatalf("lab.sh %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// TestCLIVantageInput: a vantage name is a label value: bad ones are
// refused, in the file and on the command line, with one line and exit 3.
func TestCLIVantageInput(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	cfg := func(v string) string {
		return writeCheckConfig(t, "modules:\n  mx:\n    command: mx\nserve:\n  allow: [192.0.2.0/24]\n  vantage: "+v+"\n")
	}
	wantUsage(t, "serve.vantage with a space", isolated(t, bin, "serve", "--config", cfg(`"fra 1"`), "--validate"),
		`serve.vantage "fra 1": want a short name`)
	wantUsage(t, "--vantage with a quote", isolated(t, bin, "serve", "--config", cfg("fra1"), "--vantage", `a"b`, "--validate"),
		`--vantage "a\"b": want a short name`)
	if r := isolated(t, bin, "serve", "--config", cfg("fra1"), "--vantage", "home-dsl", "--validate"); r.code != 0 {
		t.Errorf("serve --vantage home-dsl --validate = %d %q, want 0", r.code, r.stderr)
	}
}
