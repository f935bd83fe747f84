package exporter

import (
	"io"
	"log"
	"strings"
	"testing"
)

// TestVantageLabel: with a vantage (serve.vantage, or Options.Vantage
// over it) every series of /probe and /metrics carries it; without one,
// none does. Every answer carries nosniff.
func TestVantageLabel(t *testing.T) {
	base, addr, _ := testExporter(t)
	cfg := base.Config()
	for _, tt := range []struct {
		name, cfgVantage, flag, want string
	}{
		{"none", "", "", ""},
		{"serve.vantage", "fra1", "", "fra1"},
		{"--vantage over serve.vantage", "fra1", "home-dsl", "home-dsl"},
	} {
		c := *cfg
		c.Serve.Vantage = tt.cfgVantage
		e := New(Options{Config: &c, Vantage: tt.flag, Log: log.New(io.Discard, "", 0)})
		for _, path := range []string{"/probe?module=session&target=" + addr, "/metrics"} {
			code, body, res := get(t, e, "GET", path)
			if code != 200 {
				t.Fatalf("%s: GET %s = %d\n%s", tt.name, path, code, body)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s: GET %s: X-Content-Type-Options %q, want nosniff", tt.name, path, got)
			}
			n := 0
			for _, line := range strings.Split(body, "\n") {
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				n++
				has := strings.Contains(line, `vantage="`)
				switch {
				case tt.want == "" && has:
					t.Errorf("%s: GET %s: series %q has a vantage label, want none", tt.name, path, line)
				case tt.want != "" && !strings.Contains(line, `vantage="`+tt.want+`"`):
					t.Errorf("%s: GET %s: series %q lacks vantage=%q", tt.name, path, line, tt.want)
				}
			}
			if n < 5 {
				t.Errorf("%s: GET %s: %d series, want the run's (or the exporter's) metrics", tt.name, path, n)
			}
		}
	}
}
