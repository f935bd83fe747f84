package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/probetest"
)

// TestE2EServe runs the built binary against the in-process demo lab and
// stops it with SIGTERM while a probe is in flight, as systemd or a
// container runtime does: the probe still answers, the exit code is 0.
func TestE2EServe(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds the binary; skipped with -short")
	}
	t.Parallel()
	l := startServeLab(t)
	bin := smtpprobeBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stderr := &probetest.LockedBuffer{}
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", l.config(t, ""), "--listen", "127.0.0.1:0")
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill() // no-op once it exited
		<-exited
	})

	srv := &exporterRun{stderr: stderr}
	for i := 0; i < 500 && srv.addr == ""; i++ {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			srv.addr = m[1]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if srv.addr == "" {
		t.Fatalf("smtpprobe serve: no \"listening on\" line within 5s; stderr %q", stderr.String())
	}

	got := make(chan probetest.ScrapeResult, 1)
	go func() { got <- srv.get(t, "/probe?target=demo.example:"+l.port+"&module=mx", "5") }()
	srv.waitInFlight(t, 1)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res := <-got
	if res.Code != http.StatusOK || !strings.Contains(res.Body, "smtpprobe_result_outcome") {
		t.Errorf("serve(probe in flight at SIGTERM) = %d %q, want 200 and the report's metrics", res.Code, res.Body)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("smtpprobe serve after SIGTERM: %v, want exit 0; stderr %q", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("smtpprobe serve did not exit within 10s of SIGTERM; stderr %q", stderr.String())
	}
}
