package e2e

// Issue 20, friction 5: `make lab` prints only KEY=VALUE lines on stdout
// (before: make echoed "bash testdata/lab/lab.sh up" into them) and a
// cheat sheet of every lab target with the verdict to expect on stderr.
// Every line of the sheet is run here, twice in a row (no cache flushed),
// and must exit as it says.

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLabCheatSheet(t *testing.T) {
	t.Parallel()
	labPrereqs(t)
	needTools(t, "make")
	bin := smtpprobeBinary(t)
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "make", "-s", "lab")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	err := cmd.Run()
	env := parseKV(stdout.String())
	if id := env["LAB_ID"]; id != "" {
		t.Cleanup(func() { stopLab(t, labScriptPath(t), id, env["LAB_DIR"]) })
	}
	if err != nil {
		t.Fatalf("make lab: %v\n%s", err, stderr.String())
	}
	kv := regexp.MustCompile(`^LAB_[A-Z0-9_]+=\S*$`)
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if !kv.MatchString(line) {
			t.Errorf("make lab stdout line %q is not KEY=VALUE", line)
		}
	}
	// "  smtpprobe ARGS   EXIT  WHAT"
	row := regexp.MustCompile(`(?m)^  smtpprobe (\S.*?\S) +([0-3]) +(\S.*)$`)
	rows := row.FindAllStringSubmatch(stderr.String(), -1)
	if len(rows) < 15 {
		t.Fatalf("make lab stderr has %d cheat sheet rows, want every lab target:\n%s", len(rows), stderr.String())
	}
	if !strings.Contains(stderr.String(), "ip netns exec "+env["LAB_CLIENT_NS"]+" smtpprobe") ||
		!strings.Contains(stderr.String(), "make lab-down LAB_ID="+env["LAB_ID"]) {
		t.Errorf("make lab cheat sheet does not name this lab's namespace and id:\n%s", stderr.String())
	}
	for _, r := range rows {
		want, _ := strconv.Atoi(r[2])
		args := append(strings.Fields(r[1]), "--resolver", env["LAB_DNS"], "--connect-timeout", "3s", "--format", "nagios")
		for try := 1; try <= 2; try++ {
			rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
			c := exec.CommandContext(rctx, "ip", append([]string{"netns", "exec", env["LAB_CLIENT_NS"], bin}, args...)...)
			c.WaitDelay = 5 * time.Second
			out, _ := c.Output()
			rcancel()
			if got := c.ProcessState.ExitCode(); got != want {
				t.Errorf("cheat sheet %q (%s), run %d: exit %d, want %d\n%s", r[1], r[3], try, got, want, firstLine(string(out)))
			} else {
				t.Logf("smtpprobe %s: exit %d: %s", r[1], got, firstLine(string(out)))
			}
		}
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
