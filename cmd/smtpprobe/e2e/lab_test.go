package e2e

// Helpers for tests that run against the network-namespace lab built by
// testdata/lab/lab.sh (README "The lab"): client — r1 — r2 — server, real Postfix,
// dnsmasq for lab.example, a bottleneck MTU on r1–r2 and a PMTU black-hole switch.
//
// Lab tests need root, iproute2, nftables, Postfix, dnsmasq and openssl. They skip
// under `go test -short` or when a prerequisite is missing, except when CI=true:
// then a missing prerequisite is a failure and -short does not skip them.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/units"
)

// labScript is lab.sh relative to this package's directory (the cwd of `go test`).
const labScript = "../../../testdata/lab/lab.sh"

// Lab is a running network-namespace lab (testdata/lab/lab.sh).
type Lab struct {
	ID                             string
	ClientNS, R1NS, R2NS, ServerNS string
	Dir                            string        // work directory (Postfix config, queue, logs)
	DNS, DNS6                      string        // dnsmasq addresses: 198.18.3.53, 2001:db8:3::53
	MailLog                        string        // Postfix maillog_file
	TLSCert                        string        // the lab root CA (PEM) that mx1's chain leads to; trust it with SSL_CERT_FILE
	TLSChain                       string        // what Postfix serves: mx1's leaf, then the intermediate CA (PEM)
	MTU                            int           // bottleneck (r1–r2) MTU
	SMTPDTimeout                   time.Duration // Postfix smtpd_timeout
	InFlowDelay                    time.Duration // Postfix in_flow_delay (1s, the stock default, unless --in-flow-delay)
	ICMP                           string        // "allow" or "drop" (frag-needed / packet-too-big on r1: forward black hole)
	ICMPReverse                    string        // "allow" or "drop" (the same on r2, toward the server: reverse black hole)
	Clamp                          string        // "on" or "off" (MSS clamping on r1)
	Loss                           int           // percent of forwarded TCP packets r2 drops at random
	Env                            map[string]string
	script                         string
}

// Lab addresses (see testdata/lab/lab.sh).
const (
	labMX1v4     = "198.18.3.10" // Postfix mx1.lab.example
	labMX1v6     = "2001:db8:3::10"
	labDroppedv4 = "198.18.3.20" // tcp/25 dropped: connect-timeout
	labDroppedv6 = "2001:db8:3::20"
	labClosedv4  = "198.18.3.30" // nothing listens: refused
	labClosedv6  = "2001:db8:3::30"
	labRejectv4  = "198.18.3.40" // Postfix smtpd answering 554 to EHLO and HELO
	labRejectv6  = "2001:db8:3::40"
	labNoRoutev4 = "198.18.99.1" // no route on r1: ICMP unreachable
	labNoRoutev6 = "2001:db8:99::1"
	labClientv4  = "198.18.1.2"
	labClientv6  = "2001:db8:1::2"
)

func inCI() bool { return os.Getenv("CI") == "true" }

func labScriptPath(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(labScript)
	if err != nil {
		t.Fatalf("lab script: %v", err)
	}
	return p
}

// labPrereqs skips the test (fails it when CI=true) unless the lab can be built here.
func labPrereqs(t testing.TB) {
	t.Helper()
	if testing.Short() && !inCI() {
		t.Skip("lab test: skipped with -short")
	}
	skipOrFail := t.Skipf
	if inCI() {
		skipOrFail = t.Fatalf
	}
	if runtime.GOOS != "linux" {
		skipOrFail("lab test: needs Linux network namespaces, have %s", runtime.GOOS)
		return
	}
	if _, err := exec.LookPath("bash"); err != nil {
		skipOrFail("lab test: bash not found: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", labScriptPath(t), "check")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		skipOrFail("lab test: prerequisites missing (testdata/lab/lab.sh check: %v):\n%s", err, bytes.TrimSpace(out))
	}
}

// startLab builds a fresh lab (lab.sh up OPTS...) and tears it down in t.Cleanup.
// Options: --mtu N, --smtpd-timeout S, --icmp drop|allow, --icmp-reverse drop|allow,
// --clamp on|off, --loss N, --in-flow-delay S.
func startLab(t testing.TB, opts ...string) *Lab {
	t.Helper()
	labPrereqs(t)
	script := labScriptPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", append([]string{script, "up"}, opts...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) } // lets lab.sh clean up
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	err := cmd.Run()
	env := parseKV(stdout.String())
	if id := env["LAB_ID"]; id != "" {
		// Registered even when up failed half-way: down is idempotent.
		t.Cleanup(func() { stopLab(t, script, id, env["LAB_DIR"]) })
	}
	if err != nil {
		t.Fatalf("lab.sh up %s: %v\nstderr:\n%s", strings.Join(opts, " "), err, stderr.String())
	}
	l := &Lab{
		ID:          env["LAB_ID"],
		ClientNS:    env["LAB_CLIENT_NS"],
		R1NS:        env["LAB_R1_NS"],
		R2NS:        env["LAB_R2_NS"],
		ServerNS:    env["LAB_SERVER_NS"],
		Dir:         env["LAB_DIR"],
		DNS:         env["LAB_DNS"],
		DNS6:        env["LAB_DNS6"],
		MailLog:     env["LAB_MAILLOG"],
		TLSCert:     env["LAB_TLS_CERT"],
		TLSChain:    env["LAB_TLS_CHAIN"],
		ICMP:        env["LAB_ICMP"],
		ICMPReverse: env["LAB_ICMP_REVERSE"],
		Clamp:       env["LAB_CLAMP"],
		Env:         env,
		script:      script,
	}
	if l.ID == "" || l.ClientNS == "" || l.ServerNS == "" || l.DNS == "" || l.Dir == "" {
		t.Fatalf("lab.sh up printed incomplete KEY=VALUE lines:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	if l.MTU, err = strconv.Atoi(env["LAB_MTU"]); err != nil {
		t.Fatalf("lab.sh up: LAB_MTU=%q: %v", env["LAB_MTU"], err)
	}
	if l.SMTPDTimeout, err = time.ParseDuration(env["LAB_SMTPD_TIMEOUT"]); err != nil {
		t.Fatalf("lab.sh up: LAB_SMTPD_TIMEOUT=%q: %v", env["LAB_SMTPD_TIMEOUT"], err)
	}
	if l.InFlowDelay, err = time.ParseDuration(env["LAB_IN_FLOW_DELAY"]); err != nil {
		t.Fatalf("lab.sh up: LAB_IN_FLOW_DELAY=%q: %v", env["LAB_IN_FLOW_DELAY"], err)
	}
	if l.Loss, err = strconv.Atoi(env["LAB_LOSS"]); err != nil {
		t.Fatalf("lab.sh up: LAB_LOSS=%q: %v", env["LAB_LOSS"], err)
	}
	t.Logf("lab %s up in %v (mtu %d, smtpd_timeout %v, in_flow_delay %v, icmp %s, icmp-reverse %s, clamp %s, loss %d %%)",
		l.ID, time.Since(start).Round(time.Millisecond), l.MTU, l.SMTPDTimeout, l.InFlowDelay, l.ICMP, l.ICMPReverse, l.Clamp, l.Loss)
	return l
}

func stopLab(t testing.TB, script, id, dir string) {
	if t.Failed() && dir != "" {
		for _, f := range []string{"maillog", "dnsmasq.log"} {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				t.Logf("lab %s %s (last lines):\n%s", id, f, tail(string(b), 40))
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "down", id)
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("lab.sh down %s: %v\n%s", id, err, out)
	}
}

// parseKV reads KEY=VALUE lines.
func parseKV(s string) map[string]string {
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Exec runs a command inside the client namespace. exit is the exit status, or -1
// when the command could not run or was killed (ctx expired); stderr then says why.
func (l *Lab) Exec(t testing.TB, ctx context.Context, name string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	return l.ExecNS(t, ctx, l.ClientNS, name, args...)
}

// ExecNS runs a command inside namespace ns of this lab (l.ClientNS, l.ServerNS, ...).
func (l *Lab) ExecNS(t testing.TB, ctx context.Context, ns, name string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return o.String(), e.String(), 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return o.String(), e.String(), ee.ExitCode()
	default:
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, ctx.Err())
		}
		return o.String(), e.String() + fmt.Sprintf("\n[lab exec %s %s: %v]", name, strings.Join(args, " "), err), -1
	}
}

// SetICMP switches the PMTU black hole on r1: "drop" or "allow".
func (l *Lab) SetICMP(t testing.TB, mode string) {
	t.Helper()
	l.run(t, "icmp", l.ID, mode)
	l.ICMP = mode
}

// SetICMPReverse switches the reverse PMTU black hole on r2 (the ICMP r2 sends
// toward the server): "drop" or "allow".
func (l *Lab) SetICMPReverse(t testing.TB, mode string) {
	t.Helper()
	l.run(t, "icmp-reverse", l.ID, mode)
	l.ICMPReverse = mode
}

// SetClamp switches MSS clamping on r1 ("on" or "off"): nftables
// tcp option maxseg size set rt mtu on forwarded SYNs.
func (l *Lab) SetClamp(t testing.TB, mode string) {
	t.Helper()
	l.run(t, "clamp", l.ID, mode)
	l.Clamp = mode
}

// SetLoss makes r2 drop pct percent of forwarded TCP packets at random, both
// ways (0 removes the rule).
func (l *Lab) SetLoss(t testing.TB, pct int) {
	t.Helper()
	l.run(t, "loss", l.ID, strconv.Itoa(pct))
	l.Loss = pct
}

// FlushPMTU makes every lab namespace forget learned path MTUs (the client's and
// the server's caches included).
//
// It first ends the lab's lingering connections (endLingering): a connection
// an earlier run closed with unsent data, such as a body or ClientHello a
// black hole swallowed, stays in FIN-WAIT-1 and keeps retransmitting its
// full-size segments for minutes. Once ICMP is let through again, the
// frag-needed / packet-too-big those retransmissions draw would teach the
// kernel the path MTU again after the flush, and the next session's SYN would
// advertise the smaller MSS that hides a reverse black hole (RFC 9293 §3.7.1).
func (l *Lab) FlushPMTU(t testing.TB) {
	t.Helper()
	l.endLingering(t)
	l.SetMTU(t, l.MTU)
}

// lingeringStates are the TCP states of a connection its process has already
// closed (RFC 9293 §3.3.2) that can still have data to retransmit. Ending
// them cannot disturb a session that is still running in the lab.
var lingeringStates = []string{"state", "fin-wait-1", "state", "closing", "state", "last-ack"}

// endLingering ends (ss -K, SOCK_DESTROY) the lingering TCP connections of
// the client and server namespaces, and fails if one survives (a kernel
// without CONFIG_INET_DIAG_DESTROY).
func (l *Lab) endLingering(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list := func(ns string, kill bool) map[string]bool {
		args := []string{"-Htn"}
		if kill {
			args = []string{"-HtnK"}
		}
		out, errOut, exit := l.ExecNS(t, ctx, ns, "ss", append(args, lingeringStates...)...)
		if exit != 0 {
			t.Fatalf("ss %s in %s: exit %d: %s", strings.Join(args, " "), ns, exit, errOut)
		}
		conns := map[string]bool{}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 5 {
				conns[f[3]+" -> "+f[4]] = true
			}
		}
		return conns
	}
	for _, ns := range []string{l.ClientNS, l.ServerNS} {
		killed := list(ns, true)
		if len(killed) > 0 {
			t.Logf("lab %s: ended %s in %s before the flush", l.ID, units.Count(len(killed), "lingering connection"), ns)
		}
		for c := range list(ns, false) {
			if killed[c] {
				t.Fatalf("lab %s: ss -K left the lingering connection %s in %s; the kernel needs CONFIG_INET_DIAG_DESTROY", l.ID, c, ns)
			}
		}
	}
}

// SetMTU changes the bottleneck MTU (1280..1500) and flushes learned path MTUs.
func (l *Lab) SetMTU(t testing.TB, mtu int) {
	t.Helper()
	l.run(t, "mtu", l.ID, strconv.Itoa(mtu))
	l.MTU = mtu
}

func (l *Lab) run(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{l.script}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lab.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// smtpprobeBinary builds ./cmd/smtpprobe (this package's parent) once per test binary and returns its path.
// The binary lives in $TMPDIR/smtpprobe-e2e-PID; directories of test processes that
// are gone are removed on the next build.
func smtpprobeBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		removeStaleBinDirs()
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("smtpprobe-e2e-%d", os.Getpid()))
		if binErr = os.MkdirAll(dir, 0o755); binErr != nil {
			return
		}
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = "/usr/local/go/bin/go" // where .ci/run also looks
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out := filepath.Join(dir, "smtpprobe")
		cmd := exec.CommandContext(ctx, gobin, "build", "-o", out, "..")
		cmd.WaitDelay = 10 * time.Second
		if b, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build -o %s ..: %v\n%s", out, err, b)
			return
		}
		binPath = out
	})
	if binErr != nil {
		t.Fatalf("building smtpprobe: %v", binErr)
	}
	return binPath
}

func removeStaleBinDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "smtpprobe-e2e-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "smtpprobe-e2e-"))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(d)
		}
	}
}

// TestLab checks the lab itself with plain tools, so a broken lab is told apart
// from a broken smtpprobe.
func TestLab(t *testing.T) {
	l := startLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// smtpDialog connects, reads the greeting, sends EHLO and prints both reply's first lines.
	const smtpDialog = `exec 3<>"/dev/tcp/$1/25" || exit 10
IFS= read -r -t 5 greeting <&3 || exit 11
printf 'EHLO client.lab.example\r\n' >&3
IFS= read -r -t 5 ehlo <&3 || exit 12
printf 'QUIT\r\n' >&3
printf '%s\n%s\n' "${greeting%$'\r'}" "${ehlo%$'\r'}"`

	t.Run("smtp", func(t *testing.T) {
		tests := []struct {
			addr          string
			wantExit      int
			wantGreeting  string
			wantEHLOReply string
		}{
			{labMX1v4, 0, "220 mx1.lab.example ESMTP", "250-mx1.lab.example"},
			{labMX1v6, 0, "220 mx1.lab.example ESMTP", "250-mx1.lab.example"},
			{labRejectv4, 0, "220 reject.lab.example ESMTP", "554 5.7.1"},
			{labRejectv6, 0, "220 reject.lab.example ESMTP", "554 5.7.1"},
			{labClosedv4, 10, "", ""},
			{labClosedv6, 10, "", ""},
		}
		for _, tt := range tests {
			t.Run(tt.addr, func(t *testing.T) {
				t.Parallel()
				out, errOut, exit := l.Exec(t, ctx, "timeout", "10", "bash", "-c", smtpDialog, "smtp", tt.addr)
				if exit != tt.wantExit {
					t.Fatalf("smtp(%s) exit = %d, want %d\nstderr: %s", tt.addr, exit, tt.wantExit, errOut)
				}
				if tt.wantExit != 0 {
					if !strings.Contains(strings.ToLower(errOut), "connection refused") {
						t.Errorf("smtp(%s) stderr = %q, want a connection refused", tt.addr, errOut)
					}
					return
				}
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != 2 || !strings.HasPrefix(lines[0], tt.wantGreeting) || !strings.HasPrefix(lines[1], tt.wantEHLOReply) {
					t.Errorf("smtp(%s) = %q, want greeting %q and EHLO reply %q", tt.addr, lines, tt.wantGreeting, tt.wantEHLOReply)
				}
			})
		}
		for _, addr := range []string{labDroppedv4, labDroppedv6} {
			t.Run(addr, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				_, errOut, exit := l.Exec(t, ctx, "timeout", "2", "bash", "-c", `exec 3<>"/dev/tcp/$1/25"`, "connect", addr)
				if exit != 124 {
					t.Errorf("connect(%s) exit = %d after %v, want 124 (timeout)\nstderr: %s", addr, exit, time.Since(start), errOut)
				}
			})
		}
	})

	// The ICMP rejections (issue 13): the SYN is answered at once with an ICMP
	// error (bash reports the errno), and the rejecting rule counted it.
	t.Run("rejections", func(t *testing.T) {
		for _, r := range []struct{ addr, ns, want string }{
			{labProhibitedv4, l.ServerNS, "No route to host"}, {labProhibitedv6, l.ServerNS, "Permission denied"},
			{labFilteredv4, l.R2NS, "No route to host"}, {labFilteredv6, l.R2NS, "Permission denied"},
			{labHostUnreachv4, l.R2NS, "No route to host"}, {labHostUnreachv6, l.R2NS, "No route to host"},
			{labNetUnreachv4, l.R2NS, "Network is unreachable"}, {labNetUnreachv6, l.R2NS, "Network is unreachable"},
		} {
			_, errOut, exit := l.Exec(t, ctx, "timeout", "2", "bash", "-c", `exec 3<>"/dev/tcp/$1/25"`, "connect", r.addr)
			if exit == 0 || exit == 124 || !strings.Contains(errOut, r.want) {
				t.Errorf("connect(%s) exit = %d, stderr %q; want an immediate %q", r.addr, exit, errOut, r.want)
			}
			out, _, _ := l.ExecNS(t, ctx, r.ns, "nft", "list", "chain", "inet", "smtpprobe_lab", "rejects")
			if !strings.Contains(out, r.addr) || strings.Contains(out, r.addr+" tcp dport 25 counter packets 0 ") {
				t.Errorf("%s rejects chain = %q, want the rule for %s with packets counted", r.ns, out, r.addr)
			}
		}
	})

	t.Run("dns", func(t *testing.T) {
		if _, err := exec.LookPath("dig"); err != nil {
			if inCI() {
				t.Fatalf("dig not installed: %v", err)
			}
			t.Skipf("dig not installed: %v", err)
		}
		tests := []struct {
			name, qtype string
			wantStatus  string
			want        []string // answer lines (data only), any order
		}{
			{"ok.lab.example", "MX", "NOERROR", []string{"10 mx1.lab.example."}},
			{"mixed.lab.example", "MX", "NOERROR", []string{"10 mx1.lab.example.", "20 dropped.lab.example.", "30 closed.lab.example."}},
			{"down.lab.example", "MX", "NOERROR", []string{"10 dropped.lab.example.", "20 closed.lab.example."}},
			{"reject.lab.example", "MX", "NOERROR", []string{"10 reject.lab.example."}},
			{"nullmx.lab.example", "MX", "NOERROR", []string{"0 ."}},
			{"implicit.lab.example", "MX", "NOERROR", nil},
			{"implicit.lab.example", "A", "NOERROR", []string{labMX1v4}},
			{"implicit.lab.example", "AAAA", "NOERROR", []string{labMX1v6}},
			{"cname.lab.example", "MX", "NOERROR", []string{"10 alias.lab.example."}},
			{"alias.lab.example", "A", "NOERROR", []string{"mx1.lab.example.", labMX1v4}},
			{"literal.lab.example", "MX", "NOERROR", []string{"10 198.18.3.10."}},
			{"mx1.lab.example", "A", "NOERROR", []string{labMX1v4}},
			{"mx1.lab.example", "AAAA", "NOERROR", []string{labMX1v6}},
			{"dropped.lab.example", "A", "NOERROR", []string{labDroppedv4}},
			{"closed.lab.example", "AAAA", "NOERROR", []string{labClosedv6}},
			{"10.3.18.198.in-addr.arpa", "PTR", "NOERROR", []string{"mx1.lab.example."}},
			{"missing.lab.example", "MX", "NXDOMAIN", nil},
		}
		for _, tt := range tests {
			for _, server := range []string{l.DNS, l.DNS6} {
				t.Run(tt.name+"/"+tt.qtype+"/"+server, func(t *testing.T) {
					t.Parallel()
					out, errOut, exit := l.Exec(t, ctx, "dig", "+time=2", "+tries=2", "+noall", "+comments", "+answer", "@"+server, tt.name, tt.qtype)
					if exit != 0 {
						t.Fatalf("dig @%s %s %s exit = %d, want 0\n%s", server, tt.name, tt.qtype, exit, errOut)
					}
					status, answers := parseDig(out)
					if status != tt.wantStatus || !sameSet(answers, tt.want) {
						t.Errorf("dig @%s %s %s = %s %q, want %s %q", server, tt.name, tt.qtype, status, answers, tt.wantStatus, tt.want)
					}
				})
			}
		}
	})

	// PMTU: the bottleneck is visible with ICMP allowed, and frag-needed never
	// reaches the client with ICMP dropped. Runs after the parallel groups above.
	t.Run("pmtu", func(t *testing.T) {
		if _, err := exec.LookPath("ping"); err != nil {
			if inCI() {
				t.Fatalf("ping not installed: %v", err)
			}
			t.Skipf("ping not installed: %v", err)
		}
		size := strconv.Itoa(l.MTU + 50) // payload: the packet is MTU+78 (v4) / MTU+98 (v6)
		for _, mode := range []string{"drop", "allow"} {
			l.SetICMP(t, mode)
			l.SetMTU(t, l.MTU) // flush learned path MTUs
			for _, dst := range []string{labMX1v4, labMX1v6} {
				out, errOut, _ := l.Exec(t, ctx, "ping", "-n", "-M", "do", "-s", size, "-c", "2", "-W", "1", dst)
				all := out + errOut
				sawICMP := strings.Contains(all, "mtu = "+strconv.Itoa(l.MTU)) || strings.Contains(all, "mtu="+strconv.Itoa(l.MTU))
				if want := mode == "allow"; sawICMP != want {
					t.Errorf("icmp %s: ping -M do -s %s %s: saw frag-needed/packet-too-big = %v, want %v\n%s", mode, size, dst, sawICMP, want, all)
				}
			}
		}
	})
}

// TestLabSwitches checks the lab's fault switches with plain tools: the reverse
// black hole (ping from the server), MSS clamping and random loss (nftables
// counters), and the size of the certificate chain Postfix serves.
func TestLabSwitches(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("chain", func(t *testing.T) {
		if _, err := exec.LookPath("openssl"); err != nil {
			t.Fatalf("openssl: %v", err) // lab.sh check requires it
		}
		out, errOut, exit := l.Exec(t, ctx, "timeout", "10", "openssl", "s_client", "-starttls", "smtp",
			"-connect", labMX1v4+":25", "-CAfile", l.TLSCert, "-verify_return_error", "-showcerts", "-servername", "mx1.lab.example")
		if exit != 0 {
			t.Fatalf("openssl s_client -starttls smtp (trusting LAB_TLS_CERT) exit = %d\n%s\n%s", exit, out, errOut)
		}
		if n := strings.Count(out, "-----BEGIN CERTIFICATE-----"); n != 2 {
			t.Errorf("Postfix served %d certificates, want 2 (leaf and intermediate)", n)
		}
		var read int
		if _, after, ok := strings.Cut(out, "SSL handshake has read "); ok {
			read, _ = strconv.Atoi(strings.Fields(after)[0])
		}
		if read < 3000 {
			t.Errorf("STARTTLS handshake read %d bytes, want a realistic chain (>= 3000)", read)
		}
	})

	// The reverse black hole: r2 generates the frag-needed for the server's
	// oversized packets; with icmp-reverse drop the server never sees it.
	t.Run("icmp-reverse", func(t *testing.T) {
		size := strconv.Itoa(l.MTU + 50)
		for _, mode := range []string{"drop", "allow"} {
			l.SetICMPReverse(t, mode)
			l.FlushPMTU(t)
			for _, dst := range []string{labClientv4, labClientv6} {
				out, errOut, _ := l.ExecNS(t, ctx, l.ServerNS, "ping", "-n", "-M", "do", "-s", size, "-c", "2", "-W", "1", dst)
				all := out + errOut
				sawICMP := strings.Contains(all, "mtu = "+strconv.Itoa(l.MTU)) || strings.Contains(all, "mtu="+strconv.Itoa(l.MTU))
				if want := mode == "allow"; sawICMP != want {
					t.Errorf("icmp-reverse %s: ping (server) -M do -s %s %s: saw frag-needed/packet-too-big = %v, want %v\n%s", mode, size, dst, sawICMP, want, all)
				}
			}
		}
		l.SetICMPReverse(t, "allow")
	})

	t.Run("clamp", func(t *testing.T) {
		l.SetClamp(t, "on")
		_, errOut, exit := l.Exec(t, ctx, "timeout", "5", "bash", "-c", `exec 3<>"/dev/tcp/$1/25"; IFS= read -r -t 3 g <&3`, "c", labMX1v4)
		if exit != 0 {
			t.Fatalf("connect through the clamp exit = %d: %s", exit, errOut)
		}
		out, _, _ := l.ExecNS(t, ctx, l.R1NS, "nft", "list", "chain", "inet", "smtpprobe_lab", "clamp")
		if !strings.Contains(out, "maxseg size set rt mtu") || strings.Contains(out, "packets 0 ") {
			t.Errorf("r1 clamp chain after a connect = %q, want the rule with packets counted", out)
		}
		l.SetClamp(t, "off")
		out, _, _ = l.ExecNS(t, ctx, l.R1NS, "nft", "list", "chain", "inet", "smtpprobe_lab", "clamp")
		if strings.Contains(out, "maxseg") {
			t.Errorf("r1 clamp chain after clamp off = %q, want no rule", out)
		}
	})

	t.Run("loss", func(t *testing.T) {
		l.SetLoss(t, 30)
		for range 10 {
			l.Exec(t, ctx, "timeout", "3", "bash", "-c", `exec 3<>"/dev/tcp/$1/25"; IFS= read -r -t 2 g <&3; printf 'QUIT\r\n' >&3`, "c", labMX1v4)
		}
		out, _, _ := l.ExecNS(t, ctx, l.R2NS, "nft", "list", "chain", "inet", "smtpprobe_lab", "loss")
		if !strings.Contains(out, "numgen random mod 100 < 30") || strings.Contains(out, "packets 0 ") {
			t.Errorf("r2 loss chain after 10 sessions at 30 %% = %q, want the rule with drops counted", out)
		}
		l.SetLoss(t, 0)
		out, _, _ = l.ExecNS(t, ctx, l.R2NS, "nft", "list", "chain", "inet", "smtpprobe_lab", "loss")
		if strings.Contains(out, "numgen") {
			t.Errorf("r2 loss chain after loss 0 = %q, want no rule", out)
		}
	})

	t.Run("in_flow_delay", func(t *testing.T) {
		out, errOut, exit := l.ExecNS(t, ctx, l.ServerNS, "postconf", "-c", l.Dir+"/postfix", "-h", "in_flow_delay")
		if exit != 0 || strings.TrimSpace(out) != "1s" || l.InFlowDelay != time.Second {
			t.Errorf("postconf in_flow_delay = %q (exit %d, %s), LAB_IN_FLOW_DELAY %v, want 1s (the stock default)", out, exit, errOut, l.InFlowDelay)
		}
	})
}

// parseDig reads `dig +noall +comments +answer` output: the status and the data
// of each answer (after the type).
func parseDig(out string) (status string, answers []string) {
	for _, line := range strings.Split(out, "\n") {
		if _, after, ok := strings.Cut(line, "status: "); ok {
			status, _, _ = strings.Cut(after, ",")
			continue
		}
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 5 && f[2] == "IN" {
			answers = append(answers, strings.Join(f[4:], " "))
		}
	}
	return status, answers
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[string]int)
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}
