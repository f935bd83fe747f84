package e2e

// Issue 20, friction 4: the black-hole demo (make demo-blackhole) runs
// here as a user runs it: it builds the lab, runs mx, mtu and path,
// explains them and tears everything down, in under 30 s, and its
// verdicts are the expected ones.

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

func TestDemoBlackhole(t *testing.T) {
	labPrereqs(t)
	needTools(t, "make")
	root := repoRoot(t)
	before := labIDs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "make", "-s", "demo-blackhole", "BIN="+t.TempDir()+"/smtpprobe")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	err := cmd.Run()
	s := out.String()
	t.Logf("make demo-blackhole:\n%s", s)
	if err != nil {
		t.Fatalf("make demo-blackhole: %v", err)
	}
	for _, want := range []string{
		"$ smtpprobe mx ok.lab.example -4\nmx ok.lab.example port 25: CRITICAL, outcome pmtu-blackhole",
		"$ smtpprobe mtu mx1.lab.example -4\nmtu mx1.lab.example port 25: CRITICAL, outcome pmtu-blackhole",
		"path MTU 1400, bracket [1400, 1401], verdict pmtu-blackhole",
		"server to client: path MTU 1400, bracket [1400, 1401], verdict pmtu-blackhole",
		"the black-holed link lies between hop 1 (198.18.1.1) and hop 2 (198.18.2.2)",
		"$ smtpprobe path mx1.lab.example -4\npath mx1.lab.example port 25: OK",
		"SYN-ACK from the target at hop 3 (198.18.3.10)",
		"Every verdict was the expected one",
		"torn down",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("make demo-blackhole output lacks %q", want)
		}
	}
	if n := strings.Count(s, "as expected)"); n != 3 {
		t.Errorf("make demo-blackhole: %d commands exited as expected, want 3", n)
	}
	m := regexp.MustCompile(`== Done in (\d+) s`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("make demo-blackhole: no \"Done in N s\" line")
	}
	if secs, _ := strconv.Atoi(m[1]); secs >= 30 {
		t.Errorf("make demo-blackhole took %d s (lab up to tear-down), want under 30", secs)
	}
	id := regexp.MustCompile(`lab (spl[0-9a-f]{5}) torn down`).FindStringSubmatch(s)
	if id == nil {
		t.Fatalf("make demo-blackhole did not name the lab it tore down")
	}
	if labIDs(t)[id[1]] && !before[id[1]] {
		t.Errorf("lab %s still has namespaces after make demo-blackhole", id[1])
		stopLab(t, labScriptPath(t), id[1], "")
	}
}

// labIDs lists the labs whose namespaces exist (lab.sh list).
func labIDs(t testing.TB) map[string]bool {
	t.Helper()
	out, err := exec.Command("bash", labScriptPath(t), "list").Output()
	if err != nil {
		t.Fatalf("lab.sh list: %v", err)
	}
	ids := map[string]bool{}
	for _, id := range strings.Fields(string(out)) {
		ids[id] = true
	}
	return ids
}
