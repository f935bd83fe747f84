package e2e

// Issue 20, friction 9: bounded, non-destructive input, through the built
// binary. Every run whose input is hostile runs in a namespace that has
// only loopback (isolated), so that nothing it does can leave the machine.

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// maxRSS runs the binary isolated and returns its result and its peak
// resident set in KiB, as GNU time reports it for its own child. The
// rusage of the process this test starts would not do: Go starts it with
// vfork, so until exec it runs in the test's own memory, and Linux keeps
// that high-water mark (the whole test binary's, a few hundred MB under
// -race) across the execs of unshare, sh and smtpprobe. time forks
// smtpprobe from its own small memory, so the child's peak is its own.
func maxRSS(t *testing.T, bin string, args ...string) (cliRun, int64) {
	t.Helper()
	timeBin, err := exec.LookPath("time")
	if err != nil {
		timeBin = "/usr/bin/time"
	}
	if _, err := os.Stat(timeBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("GNU time is needed to measure the peak RSS (.ci/run installs the time package): %v", err)
		}
		t.Skipf("no GNU time: %v", err)
	}
	rssFile := filepath.Join(t.TempDir(), "rss")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	script := `ip link set lo up && f=$1 && shift && exec "$0" -f %M -o "$f" "$@"`
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"-rn", "sh", "-c", script, timeBin, rssFile, bin}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%q: %v", args, err)
	}
	b, err := os.ReadFile(rssFile)
	if err != nil {
		t.Fatalf("%q: time wrote no peak RSS: %v", args, err)
	}
	// time -o writes "Command exited with non-zero status N" before the
	// figure when the command fails; the figure is the last line.
	lines := strings.Fields(strings.TrimSpace(string(b)))
	kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		t.Fatalf("%q: peak RSS %q: %v", args, b, err)
	}
	return cliRun{out.String(), errb.String(), cmd.ProcessState.ExitCode()}, kib
}

// TestCLIBoundedInput: files that never end or are far too large get one
// line and exit 3, without filling memory; files that are replaced by a
// rename must be regular files.
func TestCLIBoundedInput(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	dir := t.TempDir()

	// Before issue 20: "fatal error: out of memory", exit 2, a goroutine dump.
	wantUsage(t, "check --config /dev/zero --validate", isolated(t, bin, "check", "--config", "/dev/zero", "--validate"),
		"--config: /dev/zero is larger than 1.0 MiB, the limit for a configuration file")
	wantUsage(t, "serve --config /dev/zero", isolated(t, bin, "serve", "--config", "/dev/zero"),
		"--config: /dev/zero is larger than 1.0 MiB")
	wantUsage(t, "mx --baseline /dev/zero", isolated(t, bin, "mx", "example.com", "--baseline", "/dev/zero"),
		"--baseline: /dev/zero is larger than 8.0 MiB, the limit for a baseline file")

	// A 50 MB file is refused, read no further than the limit.
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# comment line of a config file that never ends\n"), 50<<20/48), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "--config", big, "--validate"}, {"serve", "--config", big, "--validate"}, {"mx", "example.com", "--baseline", big}} {
		r, rss := maxRSS(t, bin, args...)
		wantUsage(t, strings.Join(args, " "), r, "is larger than")
		if rss > 100<<10 {
			t.Errorf("%q: peak RSS %d KiB, want at most 100 MiB", args, rss)
		}
	}
	// Within the byte limit, a file of many tiny items (the worst a
	// parser meets: yaml.v3 spends ~600 bytes on "a,") is refused by
	// its count of items, and one just below both limits costs at most
	// about 100 MB.
	items := func(n int) string {
		return "modules:\n  mx:\n    command: mx\nserve:\n  allow: [192.0.2.0/24, " + strings.Repeat("a,", n) + "a]\n"
	}
	many := filepath.Join(dir, "many.yaml")
	if err := os.WriteFile(many, []byte(items(60_000)), 0o644); err != nil {
		t.Fatal(err)
	}
	r, rss := maxRSS(t, bin, "serve", "--config", many, "--validate")
	wantUsage(t, "serve --config many.yaml --validate", r, "has more than 50000 items")
	if rss > 100<<10 {
		t.Errorf("serve --config many.yaml --validate: peak RSS %d KiB, want at most 100 MiB", rss)
	}
	near := filepath.Join(dir, "near.yaml")
	if err := os.WriteFile(near, []byte(items(49_900)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, rss := maxRSS(t, bin, "check", "--config", near, "--validate"); rss > 120<<10 {
		t.Errorf("check --config near.yaml --validate (49,900 items): peak RSS %d KiB, want about 100 MiB at most", rss)
	}

	// --prom-file and --save-baseline never replace what is not a regular
	// file. Before: the node was replaced by a regular file, exit 0.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	nodes := []string{fifo}
	if os.Geteuid() == 0 {
		node := filepath.Join(dir, "null")
		if err := syscall.Mknod(node, syscall.S_IFCHR|0o644, 1<<8|3); err != nil { // 1,3: /dev/null
			t.Fatal(err)
		}
		nodes = append(nodes, node)
	}
	for _, n := range nodes {
		for _, flag := range []string{"--prom-file", "--save-baseline"} {
			r := isolated(t, bin, "mx", "example.com", flag, n)
			wantUsage(t, "mx "+flag+" "+n, r, flag+" "+n+": exists and is a ", "not a regular file")
			if st, err := os.Lstat(n); err != nil || st.Mode().IsRegular() {
				t.Errorf("after mx %s %s: %v, %v; want the node left alone", flag, n, st.Mode(), err)
			}
		}
	}
	wantUsage(t, "mx --save-baseline DIR", isolated(t, bin, "mx", "example.com", "--save-baseline", dir), "exists and is a directory")
}

// TestCLIInterrupted: SIGINT during a run says "interrupted", with exit
// 130 (before: a bare "context canceled", exit 3).
func TestCLIInterrupted(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never greets
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "timeout", ln.Addr().String(), "--phase", "banner", "--max-wait", "20s")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 || errb.String() != "smtpprobe: timeout: interrupted by SIGINT\n" {
		t.Errorf("timeout, then SIGINT = %d, stderr %q; want 130 and \"smtpprobe: timeout: interrupted by SIGINT\"", code, errb.String())
	}
}

// TestE2EServeNosniff: every answer of the exporter, the text ones that
// quote a server's words included, carries X-Content-Type-Options:
// nosniff.
func TestE2EServeNosniff(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds the binary; skipped with -short")
	}
	t.Parallel()
	l := startServeLab(t)
	srv := startServeBinary(t, smtpprobeBinary(t), l.config(t, ""))
	client := &http.Client{Timeout: 30 * time.Second}
	for _, path := range []string{
		"/probe?target=demo.example:" + l.port + "&module=mx&debug=true", // 200, text with the servers' replies
		"/probe?target=demo.example:" + l.port + "&module=mx",            // 200, the exposition
		"/probe?target=demo.example",                                     // 400, no module
		"/probe?target=elsewhere.example&module=mx",                      // 403
		"/metrics", "/", "/logs?id=1", "/logs", "/nothing", "/-/reload",
	} {
		resp, err := client.Get("http://" + srv.addr + path)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			continue
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s = %d, X-Content-Type-Options %q; want nosniff", path, resp.StatusCode, got)
		}
	}
}
