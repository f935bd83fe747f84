package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// serveAllowHelperEnv carries the built binary's path into the namespace.
const serveAllowHelperEnv = "SMTPPROBE_SERVE_ALLOW_HELPER"

// TestE2EServeAllowlist runs the built exporter against names that lead
// outside serve.allow: a name that first resolves inside the allowlist
// and then outside it (DNS rebinding), an allowed domain whose MX points
// outside, an MX set with one exchanger inside and one outside, a port
// the allowlist does not name, and IPv4-mapped spellings. The disallowed
// addresses have listeners that count connections: they must see none.
//
// The disallowed targets are addresses like any other, so the whole test
// runs in a fresh network namespace that has only loopback: whatever a
// regression connects to cannot leave the machine.
func TestE2EServeAllowlist(t *testing.T) {
	if testing.Short() && !inCI() {
		t.Skip("e2e: builds the binary and a network namespace; skipped with -short")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing = append(missing, "ip (iproute2)")
	}
	if len(missing) > 0 {
		if inCI() {
			t.Fatalf("needs %s to create a loopback-only namespace (CI=true: not skipping)", strings.Join(missing, ", "))
		}
		t.Skipf("needs %s to create a loopback-only namespace", strings.Join(missing, ", "))
	}
	t.Parallel()
	bin := smtpprobeBinary(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ns := loopbackNetns(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, exe,
		"-test.run=^TestE2EServeAllowlistHelper$", "-test.v", "-test.count=1", "-test.timeout=80s")
	cmd.Env = append(os.Environ(), serveAllowHelperEnv+"="+bin)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("in namespace %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("helper in %s: %v", ns, err)
	}
	if !strings.Contains(string(out), "--- PASS: TestE2EServeAllowlistHelper") {
		t.Fatalf("helper in %s did not pass (no PASS line)", ns)
	}
}

// loopbackNetns creates a network namespace with only lo, up, and
// deletes it at cleanup.
func loopbackNetns(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	ns := "smtpprobe-allow-" + hex.EncodeToString(b)
	ipCmd := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := ipCmd("netns", "add", ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ipCmd("netns", "del", ns); err != nil {
			t.Error(err)
		}
	})
	if err := ipCmd("-n", ns, "link", "set", "lo", "up"); err != nil {
		t.Fatal(err)
	}
	return ns
}

// trap is a listener at an address the exporter must never connect to.
type trap struct {
	ln       net.Listener
	accepted atomic.Int64
}

func startTrap(t testing.TB, addr string) *trap {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("trap listener %s: %v", addr, err)
	}
	tr := &trap{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return tr
}

// TestE2EServeAllowlistHelper runs only inside the namespace made by
// TestE2EServeAllowlist.
func TestE2EServeAllowlistHelper(t *testing.T) {
	bin := os.Getenv(serveAllowHelperEnv)
	if bin == "" {
		t.Skip("runs only inside the namespace made by TestE2EServeAllowlist")
	}
	// Refuse to run anywhere but a namespace with loopback alone.
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			t.Fatalf("interface %s is not loopback: this helper runs only in a loopback-only namespace", i.Name)
		}
	}

	good, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{Domain: "mx.allowed.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { good.Close() })
	port := good.Addr.Port()
	traps := []*trap{
		startTrap(t, fmt.Sprintf("127.0.0.2:%d", port)),
		startTrap(t, fmt.Sprintf("[::1]:%d", port)),
		startTrap(t, "127.0.0.1:25"), // the default port, which the allowlist entries do not name
	}

	zone := func(rebind string) string {
		return fmt.Sprintf(`
ok.allowed.test. 0 IN A 127.0.0.1
rebind.allowed.test. 0 IN A %s
allowed.test. 0 IN MX 10 mx.outside.test.
mixed.allowed.test. 0 IN MX 10 mx.allowed.test.
mixed.allowed.test. 0 IN MX 20 mx.outside.test.
mx.allowed.test. 0 IN A 127.0.0.1
mx.outside.test. 0 IN A 127.0.0.2
v6.allowed.test. 0 IN AAAA ::1
mapped.allowed.test. 0 IN AAAA ::ffff:127.0.0.2
`, rebind)
	}
	dns, err := probetest.StartDNS("127.0.0.1:0", zone("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Close() })

	cfg := probetest.WriteConfig(t, fmt.Sprintf(`
modules:
  mx:
    command: mx
    resolver: %[1]s
    connect_timeout: 2s
    timeout: 5s
    helo: probe.allowed.test
    no_ptr: true
  session:
    command: session
    resolver: %[1]s
    connect_timeout: 2s
    timeout: 5s
    helo: probe.allowed.test
    to: [someone@allowed.test]
serve:
  allow: ["allowed.test:%[2]d", "127.0.0.1/32:%[2]d"]
`, dns.Addr, port))

	// A module that delivers is refused before anything listens.
	deliver := probetest.WriteConfig(t, fmt.Sprintf("modules:\n  send:\n    command: session\n    deliver: true\nserve:\n  allow: [\"127.0.0.1/32:%d\"]\n", port))
	out, err := exec.Command(bin, "serve", "--config", deliver, "--listen", "127.0.0.1:0").CombinedOutput()
	if code := exitCode(err); code != 3 || !strings.Contains(string(out), "serve never delivers mail") || strings.Count(string(out), "\n") != 1 {
		t.Errorf("serve with a deliver module = exit %d, %q; want 3 and one line saying serve never delivers mail", code, out)
	}

	srv := startServeBinary(t, bin, cfg)
	scrape := func(query string) probetest.ScrapeResult {
		t.Helper()
		return srv.get(t, "/probe?"+query, "5")
	}
	expect := func(name, query string, code int, reason string) {
		t.Helper()
		res := scrape(query)
		if res.Code != code || !strings.Contains(res.Body, reason) {
			t.Errorf("%s: GET /probe?%s = %d %q; want %d containing %q", name, query, res.Code, probetest.Truncate(res.Body, 300), code, reason)
		}
	}
	p := fmt.Sprint(port)

	expect("allowed name", "target=ok.allowed.test:"+p+"&module=session", 200, `smtpprobe_success{command="session",module="session",target="ok.allowed.test"} 1`)
	expect("rebind before", "target=rebind.allowed.test:"+p+"&module=session", 200, `smtpprobe_success{command="session",module="session",target="rebind.allowed.test"} 1`)
	if err := dns.Replace(zone("127.0.0.2")); err != nil {
		t.Fatal(err)
	}
	expect("rebind after", "target=rebind.allowed.test:"+p+"&module=session", 403, "127.0.0.2 is outside every network in serve.allow")
	expect("MX outside", "target=allowed.test:"+p+"&module=mx", 403, "address 127.0.0.2:"+p+" of mx.outside.test")
	expect("one MX outside", "target=mixed.allowed.test:"+p+"&module=mx", 403, "mx.outside.test")
	expect("AAAA outside", "target=v6.allowed.test:"+p+"&module=session", 403, "::1 is outside every network in serve.allow")
	expect("mapped AAAA outside", "target=mapped.allowed.test:"+p+"&module=session", 403, "127.0.0.2 is outside every network in serve.allow")
	expect("address outside", "target=127.0.0.2:"+p+"&module=session", 403, "127.0.0.2 is outside every network in serve.allow")
	expect("mapped address outside", "target=[::ffff:127.0.0.2]:"+p+"&module=session", 403, "127.0.0.2 is outside every network in serve.allow")
	expect("default port not allowed", "target=ok.allowed.test&module=session", 403, "port 25 is not in serve.allow")
	expect("address on a port not allowed", "target=127.0.0.1:25&module=session", 403, "port 25 of 127.0.0.1 is not in serve.allow")

	for _, tr := range traps {
		if n := tr.accepted.Load(); n != 0 {
			t.Errorf("disallowed address %s received %d connections, want 0", tr.ln.Addr(), n)
		}
	}
	if good.Sessions() < 2 {
		t.Errorf("allowed server saw %d sessions, want at least 2 (the allowed probes ran)", good.Sessions())
	}
}

// exitCode returns a finished command's exit code (0 for a nil error).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// startServeBinary runs the built binary's serve on 127.0.0.1:0 until the
// test ends.
func startServeBinary(t testing.TB, bin, cfg string) *exporterRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &probetest.LockedBuffer{}
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("serve stderr:\n%s", stderr.String())
		}
	})
	r := &exporterRun{stderr: stderr}
	for i := 0; i < 500; i++ {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			r.addr = m[1]
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("smtpprobe serve: no \"listening on\" line within 5s; stderr %q", stderr.String())
	return nil
}
