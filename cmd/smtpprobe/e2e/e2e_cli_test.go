package e2e

// The command line as a new user meets it (issue 11): the built binary,
// with each friction of the list under its number. Inputs that
// are wrong, or that name hosts outside this machine, run in a network
// namespace that has only loopback (isolated); probes of the test's own
// servers on 127.0.0.1 run as they are.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// cliRun is one run of the binary.
type cliRun struct {
	stdout, stderr string
	code           int
}

// runCLI runs the binary with env added, bounded to 30 s.
func runCLI(t *testing.T, env []string, name string, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return cliRun{out.String(), errb.String(), code}
}

// isolated runs the binary in a new user and network namespace whose only
// interface is loopback, so that nothing it does can leave the machine.
func isolated(t *testing.T, bin string, args ...string) cliRun {
	t.Helper()
	return runCLI(t, nil, "unshare", append([]string{"-rn", "sh", "-c", `ip link set lo up && exec "$0" "$@"`, bin}, args...)...)
}

// cliPrereqs skips (or fails under CI=true) without unshare, ip and
// script, and under -short.
func cliPrereqs(t *testing.T) string {
	t.Helper()
	if testing.Short() && !inCI() {
		t.Skip("e2e: builds the binary; skipped with -short")
	}
	for _, tool := range []string{"unshare", "ip", "script"} {
		if _, err := exec.LookPath(tool); err != nil {
			if inCI() {
				t.Fatalf("needs %s (CI=true: not skipping)", tool)
			}
			t.Skipf("needs %s", tool)
		}
	}
	bin := smtpprobeBinary(t)
	if r := isolated(t, bin, "--version"); r.code != 0 {
		if inCI() {
			t.Fatalf("unshare -rn does not work here: %d %q", r.code, r.stderr)
		}
		t.Skipf("unshare -rn does not work here: %q", r.stderr)
	}
	return bin
}

// localSMTP is a go-smtp server on 127.0.0.1 that accepts any recipient.
func localSMTP(t *testing.T) string {
	t.Helper()
	s, err := probetest.StartSMTP("127.0.0.1:0", probetest.SMTPOptions{Domain: "mx.cli.example"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return fmt.Sprint(s.Addr.Port())
}

// wantUsage checks a run is a one-line usage error (exit 3) containing
// each of want.
func wantUsage(t *testing.T, what string, r cliRun, want ...string) {
	t.Helper()
	if r.code != 3 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("%s = %d, stdout %q, stderr %q; want exit 3 and one line on stderr", what, r.code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s stderr = %q, want it to contain %q", what, r.stderr, w)
		}
	}
}

// Friction 2: the probed address and port in every header and label,
// and a note on how a bare IPv6 literal ending in :digits was read.
func TestCLITargets(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	port := localSMTP(t)
	target := "127.0.0.1:" + port
	common := []string{"session", target, "--to", "postmaster@cli.example", "--connect-timeout", "2s", "--timeout", "5s"}

	text := runCLI(t, nil, bin, common...)
	if text.code != 0 || !strings.HasPrefix(text.stdout, "session 127.0.0.1 port "+port+": OK") || !strings.Contains(text.stdout, "  127.0.0.1:"+port+"  ok") {
		t.Errorf("session(text) = %d\n%s\nwant a header with the port and a row 127.0.0.1:%s", text.code, text.stdout, port)
	}
	nagios := runCLI(t, nil, bin, append(common, "--format", "nagios")...)
	if !strings.HasPrefix(nagios.stdout, "SMTPPROBE OK - session 127.0.0.1 port "+port+": 1/1 ok") || !strings.Contains(nagios.stdout, "'127.0.0.1:"+port+" connect'=") {
		t.Errorf("session(nagios) = %q, want the port in the status text and the perfdata labels", nagios.stdout)
	}
	probetest.WantPerfdata(t, strings.TrimSpace(strings.SplitN(strings.SplitN(nagios.stdout, "\n", 2)[0], " | ", 2)[1]))
	prom := runCLI(t, nil, bin, append(common, "--format", "prom")...)
	if !regexp.MustCompile(`smtpprobe_result_success\{address="127\.0\.0\.1",[^}]*port="` + port + `"`).MatchString(prom.stdout) {
		t.Errorf("session(prom) =\n%s\nwant a port label on the result's series", prom.stdout)
	}
	if !strings.Contains(prom.stdout, `smtpprobe_success{command="session",module="",target="127.0.0.1:`+port+`"} 1`) {
		t.Errorf("session(prom) =\n%s\nwant the run's target label as written, with its port", prom.stdout)
	}

	note := isolated(t, bin, "timeout", "::1:2525", "--phase", "ehlo", "--max-wait", "1s", "--connect-timeout", "1s")
	if !strings.Contains(note.stderr, "smtpprobe: note: read ::1:2525 as the IPv6 address ::1:2525 on port 25; for ::1 on port 2525 write [::1]:2525") ||
		!strings.HasPrefix(note.stdout, "timeout ::1:2525 port 25: ") {
		t.Errorf("timeout ::1:2525 = %d, stdout %q, stderr %q; want the note on stderr and port 25 in the header", note.code, note.stdout, note.stderr)
	}
	if r := isolated(t, bin, "timeout", "[::1]:2525", "--phase", "ehlo", "--max-wait", "1s", "--connect-timeout", "1s"); strings.Contains(r.stderr, "note:") ||
		!strings.HasPrefix(r.stdout, "timeout ::1 port 2525: ") {
		t.Errorf("timeout [::1]:2525 = stdout %q, stderr %q; want port 2525 and no note", r.stdout, r.stderr)
	}
}

// Friction 5: did-you-mean, case-insensitive enums, duration and target
// hints, global flags before the command.
func TestCLIConventions(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	wantUsage(t, "sesion", isolated(t, bin, "sesion", "example.com"), `unknown command "sesion"; did you mean "session"?`)
	wantUsage(t, "help sesion", isolated(t, bin, "help", "sesion"), `did you mean "session"?`)
	wantUsage(t, "--jsn", isolated(t, bin, "mx", "example.com", "--jsn"), "unknown flag --jsn; did you mean --json?")
	wantUsage(t, "--port", isolated(t, bin, "mx", "example.com", "--port", "2525"), "unknown flag --port: give the port with the target, DOMAIN:PORT")
	wantUsage(t, "--phase dta", isolated(t, bin, "timeout", "example.com", "--phase", "dta"), `--phase "dta": want one of`, `did you mean "data"?`)
	wantUsage(t, "--format nagois", isolated(t, bin, "mx", "example.com", "--format", "nagois"), `did you mean "nagios"?`)
	wantUsage(t, "--pause-after-data 3", isolated(t, bin, "session", "example.com", "--pause-after-data", "3"),
		`--pause-after-data "3": a duration needs a unit: did you mean 3s?`)
	wantUsage(t, "URL", isolated(t, bin, "mx", "https://example.com"), `target "https://example.com" is a URL: did you mean example.com?`)
	wantUsage(t, "mail address", isolated(t, bin, "session", "user@example.com"),
		`target "user@example.com" is a mail address: did you mean example.com (and --to user@example.com for the recipient)?`)
	wantUsage(t, "mx --warning mtu", isolated(t, bin, "mx", "example.com", "--warning", "mtu=1400"), "--warning mtu=...: mx does not measure that; its keys are time, cert, transient")

	// Upper case is the same value; global flags may come first.
	port := localSMTP(t)
	r := runCLI(t, nil, bin, "--json", "-q", "timeout", "127.0.0.1:"+port, "--phase", "EHLO", "--max-wait", "300ms", "--to", "postmaster@cli.example")
	var rep struct {
		Command string `json:"command"`
		Results []struct {
			Phase string `json:"phase"`
		} `json:"results"`
	}
	if r.code > 2 || json.Unmarshal([]byte(r.stdout), &rep) != nil && r.stdout != "" {
		t.Errorf("--json -q timeout --phase EHLO = %d, stdout %q, stderr %q; want a JSON report (or nothing when OK)", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, nil, bin, "--json", "timeout", "127.0.0.1:"+port, "--phase", "EHLO", "--max-wait", "300ms", "--to", "postmaster@cli.example")
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Command != "timeout" || len(rep.Results) != 1 || rep.Results[0].Phase != "ehlo" {
		t.Errorf("--json timeout --phase EHLO = %d, %v, stdout %q, stderr %q; want one ehlo result as JSON", r.code, err, r.stdout, r.stderr)
	}
}

// Friction 6 and 8: help with a synopsis, examples and grouped flags in
// 80 columns, defaults as people write them, only the thresholds that
// apply; --version, completion and the man page.
func TestCLIHelp(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	for _, cmd := range []string{"mx", "session", "timeout", "mtu", "check", "serve", "demo"} {
		r := isolated(t, bin, cmd, "--help")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: smtpprobe "+cmd) {
			t.Errorf("%s --help = %d, %q; want the synopsis first", cmd, r.code, r.stdout)
			continue
		}
		examples := strings.Index(r.stdout, "\nExamples:\n")
		own := strings.Index(r.stdout, "\nFlags of "+cmd+":\n")
		if examples < 0 || own < examples {
			t.Errorf("%s --help: want Examples, then the command's own flags:\n%s", cmd, r.stdout)
		}
		if n := strings.Count(r.stdout[examples:own], "\n  smtpprobe ") + strings.Count(r.stdout[examples:own], "\n  curl "); n < 3 || n > 5 {
			t.Errorf("%s --help has %d examples, want 3 to 5", cmd, n)
		}
		for _, line := range strings.Split(r.stdout, "\n") {
			if len([]rune(line)) > 80 {
				t.Errorf("%s --help line of %d columns: %q", cmd, len([]rune(line)), line)
			}
		}
		if regexp.MustCompile(`\(default \d+m\d+s\)|\(default \d+h\d+m`).MatchString(r.stdout) {
			t.Errorf("%s --help prints a Go-style default:\n%s", cmd, r.stdout)
		}
	}
	mx := isolated(t, bin, "mx", "--help")
	for _, want := range []string{"(default 60s)", "(default 30s)", "Output flags:", "Timing flags:", "Monitoring flags:", "cert=DAYS"} {
		if !strings.Contains(mx.stdout, want) {
			t.Errorf("mx --help lacks %q:\n%s", want, mx.stdout)
		}
	}
	for _, not := range []string{"timeout=DURATION", "mtu=N", "--max-wait", "--phase"} {
		if strings.Contains(mx.stdout, not) {
			t.Errorf("mx --help offers %q, which does not apply to mx", not)
		}
	}
	if to := isolated(t, bin, "timeout", "--help"); !strings.Contains(to.stdout, "--max-wait DURATION") || !strings.Contains(to.stdout, "(default 10m)") {
		t.Errorf("timeout --help = %q, want --max-wait with its default 10m", to.stdout)
	}
	if r := isolated(t, bin, "help", "timeout"); r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: smtpprobe timeout") {
		t.Errorf("help timeout = %d, %q", r.code, r.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{{[]string{"help", "completion"}, "completion"}, {[]string{"completion", "--help"}, "completion"}, {[]string{"help", "help"}, "help"}} {
		if r := isolated(t, bin, tc.args...); r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: smtpprobe "+tc.want+" ") {
			t.Errorf("%v = %d, %q; want the help of %s", tc.args, r.code, r.stdout, tc.want)
		}
	}
	if r := isolated(t, bin, "help", "config"); r.code != 0 || !strings.Contains(r.stdout, "command") {
		t.Errorf("help config = %d, %q; want the config keys", r.code, r.stdout)
	}

	v := isolated(t, bin, "--version")
	if v.code != 0 || !regexp.MustCompile(`^smtpprobe \S+\nrevision \S+.*, committed \S+\ngo1\.\d+\S* \w+/\w+\n$`).MatchString(v.stdout) {
		t.Errorf("--version = %d, %q; want the version, the VCS revision and time, the Go version", v.code, v.stdout)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := isolated(t, bin, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "smtpprobe") || !strings.Contains(r.stdout, "max-wait") || !strings.Contains(r.stdout, "nagios") || !strings.Contains(r.stdout, "ehlo") {
			t.Errorf("completion %s = %d, %q", shell, r.code, r.stdout)
		}
		if shell == "bash" {
			f := t.TempDir() + "/c.bash"
			os.WriteFile(f, []byte(r.stdout), 0o644)
			if out, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
				t.Errorf("bash -n on the bash completion: %v %s", err, out)
			}
		}
	}
	wantUsage(t, "completion tcsh", isolated(t, bin, "completion", "tcsh"), `unknown shell "tcsh"`)
	if man := isolated(t, bin, "help", "--man"); man.code != 0 || !strings.HasPrefix(man.stdout, ".TH SMTPPROBE 1 ") || !strings.Contains(man.stdout, `\-\-max\-wait`) {
		t.Errorf("help --man = %d, %.200q; want a man page with every command's flags", man.code, man.stdout)
	}
}

// Friction 9, 10 and 11: one duration format and plurals, the Nagios
// status line even with -q, progress on a terminal's stderr, colour only
// on a terminal and never with NO_COLOR, a refused secondary MX among
// the findings.
func TestCLIOutput(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	port := localSMTP(t)
	target := "127.0.0.1:" + port
	r := runCLI(t, nil, bin, "session", target, "--to", "postmaster@cli.example")
	if !regexp.MustCompile(`: OK, outcome ok, 1 of 1 address ok \((\d+\.\d{3}ms|\d+\.\dms|\d+\.\d\dms|\d+ms|\d+\.\d{3}s)\)\n`).MatchString(r.stdout) {
		t.Errorf("session(text) header = %q, want \"1 of 1 address ok\" and a units.Duration total", strings.SplitN(r.stdout, "\n", 2)[0])
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("session(text) to a pipe has colour: %q", r.stdout)
	}
	q := runCLI(t, nil, bin, "session", target, "--to", "postmaster@cli.example", "-q", "--format", "nagios")
	if q.code != 0 || !strings.HasPrefix(q.stdout, "SMTPPROBE OK - session 127.0.0.1 port "+port) {
		t.Errorf("session -q --format nagios = %d, %q; want the status line even with -q", q.code, q.stdout)
	}
	if q := runCLI(t, nil, bin, "session", target, "--to", "postmaster@cli.example", "-q"); q.code != 0 || q.stdout != "" {
		t.Errorf("session -q (text, OK) = %d, %q; want nothing", q.code, q.stdout)
	}

	// On a terminal (script(1) gives one): colour, and progress for timeout.
	tty := func(env []string, args ...string) string {
		t.Helper()
		line := bin
		for _, a := range args {
			line += " '" + a + "'"
		}
		return runCLI(t, env, "script", "-qefc", line, "/dev/null").stdout
	}
	out := tty([]string{"NO_COLOR="}, "timeout", target, "--phase", "ehlo", "--max-wait", "2500ms", "--to", "postmaster@cli.example")
	if !strings.Contains(out, "\x1b[32mOK\x1b[0m") {
		t.Errorf("timeout on a terminal = %q, want OK in green", out)
	}
	if !regexp.MustCompile(`timeout: waiting for the server to hang up: 0/1 phase done, \d+s of 2\.5s`).MatchString(out) {
		t.Errorf("timeout on a terminal = %q, want a progress line with phases done and elapsed out of the bound", out)
	}
	if out := tty([]string{"NO_COLOR=1"}, "session", target, "--to", "postmaster@cli.example"); strings.Contains(out, "\x1b[3") || !strings.Contains(out, ": OK,") {
		t.Errorf("session on a terminal with NO_COLOR=1 = %q, want no colour", out)
	}

	// A refused secondary MX is a finding in the text.
	dns, err := probetest.StartDNS("127.0.0.1:0", `cli.example. 300 IN MX 10 mx1.cli.example.
cli.example. 300 IN MX 20 mx2.cli.example.
mx1.cli.example. 300 IN A 127.0.0.1
mx2.cli.example. 300 IN A 127.0.0.9
`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Close() })
	mx := runCLI(t, nil, bin, "mx", "cli.example:"+port, "--resolver", dns.Addr, "--no-ptr", "--connect-timeout", "2s")
	// Issue 20: the compact text gives it one line, address and cause.
	if mx.code != 1 || !regexp.MustCompile(`(?m)^  warning  127\.0\.0\.9:`+port+` refused: connection refused \(RST to SYN\)`).MatchString(mx.stdout) {
		t.Errorf("mx with a refused secondary = %d\n%s\nwant exit 1 and a warning finding for MX 20", mx.code, mx.stdout)
	}
}

// refusingSMTP is a scripted SMTP server on 127.0.0.1 that refuses every
// recipient with 501, as one that wants a domain in RCPT does; it serves
// until the test ends, each session bounded to 10 s.
func refusingSMTP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprint(c, "220 refuse.cli.example ESMTP\r\n")
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					cmd := strings.ToUpper(sc.Text())
					switch {
					case strings.HasPrefix(cmd, "EHLO"):
						fmt.Fprint(c, "250-refuse.cli.example\r\n250 PIPELINING\r\n")
					case strings.HasPrefix(cmd, "RCPT"):
						fmt.Fprint(c, "501 5.1.3 Bad recipient address syntax\r\n")
					case strings.HasPrefix(cmd, "QUIT"):
						fmt.Fprint(c, "221 2.0.0 Bye\r\n")
						return
					default:
						fmt.Fprint(c, "250 2.0.0 Ok\r\n")
					}
				}
			}()
		}
	}()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// Friction 1, the front end's half: a recipient refused at RCPT is a
// finding in every command that sends one, naming the recipient and the
// flag that sets it.
func TestCLIRecipientRefused(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	target := "127.0.0.1:" + refusingSMTP(t)
	for _, args := range [][]string{
		{"session", target},
		{"timeout", target, "--phase", "rcpt", "--max-wait", "500ms"},
	} {
		r := runCLI(t, nil, bin, args...)
		if !regexp.MustCompile(`(?m)^  warning  rcpt-refused: .*refused the recipient <postmaster>.*\(set with --to\)$`).MatchString(r.stdout) {
			t.Errorf("%v = %d\n%s\nwant an rcpt-refused finding naming <postmaster> and --to", args, r.code, r.stdout)
		}
	}
}
