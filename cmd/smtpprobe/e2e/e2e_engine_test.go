package e2e

// Issue 11's engine frictions through the built binary, against go-smtp
// servers of the test's own on 127.0.0.1: a recipient refused at RCPT
// gets the same finding from every command that sends RCPT, and a local
// socket error of mtu is UNKNOWN with its errno, not a network outcome.

import (
	"strings"
	"testing"
)

// Friction 1: with no --to, RCPT gets the bare <postmaster>, which go-smtp
// (like some real servers) refuses with a 5yz; session, every timeout
// phase that reaches RCPT, and mtu say which recipient was refused, with
// the reply, and to pass one with --to. The report says it once.
func TestCLIRecipientRefusedEveryCommand(t *testing.T) {
	if testing.Short() && !inCI() {
		t.Skip("e2e: builds the binary; skipped with -short")
	}
	bin := smtpprobeBinary(t)
	port := localSMTP(t)
	target := "127.0.0.1:" + port
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"session", []string{"session", target}},
		{"timeout --phase all", []string{"timeout", target, "--phase", "all", "--max-wait", "1s"}},
		{"mtu", []string{"mtu", target, "--max", "1500"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, nil, bin, tc.args...)
			want := "rcpt-refused: 127.0.0.1 refused the recipient <postmaster> (5"
			if n := strings.Count(r.stdout, want); n != 1 {
				t.Errorf("smtpprobe %s: %d findings %q, want 1\nstdout:\n%s\nstderr: %s", strings.Join(tc.args, " "), n, want, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "give a recipient the server accepts (set with --to)") {
				t.Errorf("smtpprobe %s stdout does not say to pass a recipient with --to:\n%s", strings.Join(tc.args, " "), r.stdout)
			}
			if r.code == 0 || r.code == 3 {
				t.Errorf("smtpprobe %s exit %d, want a verdict on the server (1 or 2)", strings.Join(tc.args, " "), r.code)
			}
		})
	}
}

// Friction 3: mtu against loopback with no maximum reaches the interface
// MTU, whose MSS clamp (TCP_MAXSEG 65495) Linux refuses: a local error,
// UNKNOWN (exit 3) with the option and its errno on one line, never
// "unreachable". With --max 1500 a run without a bottleneck says it went
// up to that maximum, not up to the interface MTU.
func TestCLIMTULoopback(t *testing.T) {
	if testing.Short() && !inCI() {
		t.Skip("e2e: builds the binary; skipped with -short")
	}
	bin := smtpprobeBinary(t)
	target := "127.0.0.1:" + localSMTP(t)
	r := runCLI(t, nil, bin, "mtu", target, "--to", "postmaster@example.com")
	if r.code != 3 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, "TCP_MAXSEG=65495") || !strings.Contains(r.stderr, "EINVAL") || strings.Contains(r.stderr, "unreachable") {
		t.Errorf("smtpprobe mtu %s = %d, stdout %q, stderr %q; want exit 3 and one line naming TCP_MAXSEG=65495 and EINVAL", target, r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, nil, bin, "mtu", target, "--to", "postmaster@example.com", "--max", "1500")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing failed up to the maximum asked for, 1500") || strings.Contains(r.stdout, "up to the interface MTU") {
		t.Errorf("smtpprobe mtu %s --max 1500 = %d, stdout:\n%s\nstderr %q; want exit 0, nothing failed up to the maximum asked for", target, r.code, r.stdout, r.stderr)
	}
}
