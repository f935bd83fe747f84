package e2e

// The peers of testdata/bench/check.sh: an in-process DNS zone of many
// domains and go-smtp servers on loopback, for timing `smtpprobe check`
// over 1,000 targets. Not a test: it does nothing unless
// SMTPPROBE_BENCH_PEERS names a directory.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

const (
	benchTargets = 1000 // domains t0000.bench.example ...
	benchServers = 50   // go-smtp servers on 127.0.1.1 ... 127.0.1.50, one port
	benchServe   = 5 * time.Minute
)

// TestBenchPeers serves the benchmark's peers until DIR/stop appears or
// benchServe passes. It writes into DIR (SMTPPROBE_BENCH_PEERS):
//
//	check.yaml   a check of every domain with module mx (resolver: the zone; no_ptr,
//	             no_starttls and no_policy, as check_smtp does no reverse DNS, no
//	             STARTTLS and no MTA-STS/DANE lookups; the servers offer no STARTTLS)
//	targets.txt  "IP PORT" of each domain's one MX, in the same order, for check_smtp
//	pid          this process, for the harness to end it if stop is not obeyed
//	ready        written last
//
// The environment variables SMTPPROBE_BENCH_TARGETS and SMTPPROBE_BENCH_SERVERS
// change the counts.
func TestBenchPeers(t *testing.T) {
	dir := os.Getenv("SMTPPROBE_BENCH_PEERS")
	if dir == "" {
		t.Skip("benchmark peers: set SMTPPROBE_BENCH_PEERS=DIR (testdata/bench/check.sh does)")
	}
	nTargets := envInt(t, "SMTPPROBE_BENCH_TARGETS", benchTargets, 1, 100000)
	nServers := envInt(t, "SMTPPROBE_BENCH_SERVERS", benchServers, 1, 250)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	// Servers on 127.0.1.1..N share one port, as MX records carry none.
	ips := make([]string, nServers)
	specs := make([]probetest.SMTPOptions, nServers)
	for i := range ips {
		ips[i] = fmt.Sprintf("127.0.1.%d", i+1)
		specs[i] = probetest.SMTPOptions{Domain: fmt.Sprintf("mx%d.bench.example", i+1)}
	}
	var (
		servers []*probetest.SMTPServer
		lastErr error
	)
	for try := 0; try < 20 && servers == nil; try++ {
		servers, lastErr = probetest.StartOnOnePort(specs, ips, "127.0.1.254")
	}
	if servers == nil {
		t.Fatalf("no free port shared by 127.0.1.1-%d: %v", nServers, lastErr)
	}
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	port := servers[0].Addr.Port()

	var zone, targets, check strings.Builder
	for i := range nServers {
		fmt.Fprintf(&zone, "mx%d.bench.example. 300 IN A %s\n", i+1, ips[i])
	}
	for i := range nTargets {
		name := fmt.Sprintf("t%04d.bench.example", i)
		s := i % nServers
		fmt.Fprintf(&zone, "%s. 300 IN MX 10 mx%d.bench.example.\n", name, s+1)
		fmt.Fprintf(&targets, "%s %d\n", ips[s], port)
	}
	var (
		dns *probetest.DNSServer
		err error
	)
	for try := 0; try < 20 && dns == nil; try++ { // StartDNS may find the UDP port taken on TCP
		dns, err = probetest.StartDNS("127.0.0.1:0", zone.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()

	fmt.Fprintf(&check, "# %d domains, each with one MX among %d go-smtp servers on port %d\n", nTargets, nServers, port)
	fmt.Fprintf(&check, "parallel: 64\nper_host: 4\nmodules:\n  mx:\n    command: mx\n    resolver: %s\n    no_ptr: true\n    no_starttls: true\n    no_policy: true\n    connect_timeout: 5s\n    timeout: 10s\ntargets:\n", dns.Addr)
	for i := range nTargets {
		fmt.Fprintf(&check, "  - {target: \"t%04d.bench.example:%d\", module: mx}\n", i, port)
	}
	for name, text := range map[string]string{"check.yaml": check.String(), "targets.txt": targets.String(),
		"pid": strconv.Itoa(os.Getpid()) + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(dns.Addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("bench peers: %d domains, %d servers on port %d, DNS %s; waiting for %s", nTargets, nServers, port, dns.Addr, filepath.Join(dir, "stop"))

	deadline := time.Now().Add(benchServe)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var sessions int64
	for _, s := range servers {
		sessions += s.Sessions()
	}
	t.Logf("bench peers: %d SMTP sessions, %d DNS queries served", sessions, dns.Queries())
	_ = os.WriteFile(filepath.Join(dir, "served"), []byte(fmt.Sprintf("%d %d\n", sessions, dns.Queries())), 0o644)
}

func envInt(t testing.TB, name string, def, lo, hi int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		t.Fatalf("%s=%q: want an integer from %d to %d", name, s, lo, hi)
	}
	return n
}
