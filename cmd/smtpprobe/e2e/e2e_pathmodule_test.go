package e2e

// Issue 20, item 8 (one of the smaller defects): `help config` offered no
// path module. A module with command: path, and its keys max_hops, probes
// and compare_port, for check and serve, through the built binary
// against a listener on 127.0.0.1 (hop 1 answers with a SYN-ACK).

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestCLIPathModule(t *testing.T) {
	bin := cliPrereqs(t)
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	h := runCLI(t, nil, bin, "help", "config")
	for _, want := range []string{"command (mx, session, timeout, mtu or path)", "max_hops (whole number, 1 to 64) [path]",
		"probes (whole number, 1 to 10) [path]", "compare_port (port, 1 to 65535) [path]"} {
		if !strings.Contains(h.stdout, want) {
			t.Errorf("help config lacks %q", want)
		}
	}

	module := "modules:\n  route:\n    command: path\n    max_hops: 5\n    probes: 2\n    compare_port: 2\n"
	cfg := writeCheckConfig(t, module+fmt.Sprintf("targets:\n  - target: 127.0.0.1:%d\n    module: route\n", port))
	if r := runCLI(t, nil, bin, "check", "--config", cfg, "--validate"); r.code != 0 {
		t.Errorf("check --validate (path module) = %d %q %q, want 0", r.code, r.stdout, r.stderr)
	}
	r := runCLI(t, nil, bin, "check", "--config", cfg, "-v")
	if r.code != 0 || !strings.Contains(r.stdout, "SYN-ACK from the target at hop 1 (127.0.0.1)") {
		t.Errorf("check (path module) = %d\n%s%s\nwant 0 and the hop table", r.code, r.stdout, r.stderr)
	}
	for _, tt := range []struct{ key, want string }{
		{"max_hops: 0", "max_hops 0: want 1 to 64"}, {"max_hops: 65", "max_hops 65: want 1 to 64"},
		{"probes: 11", "probes 11: want 1 to 10"}, {"compare_port: 70000", "compare_port 70000: want a port from 1 to 65535"},
	} {
		bad := writeCheckConfig(t, "modules:\n  route:\n    command: path\n    "+tt.key+"\ntargets:\n  - target: 192.0.2.1\n    module: route\n")
		wantUsage(t, "check --validate ("+tt.key+")", isolated(t, bin, "check", "--config", bad, "--validate"), tt.want)
	}
	if r := isolated(t, bin, "check", "--config", writeCheckConfig(t, "modules:\n  m:\n    command: mx\n    max_hops: 3\n"), "--validate"); r.code != 3 {
		t.Errorf("max_hops in an mx module: exit %d %q, want 3 (the key does not apply)", r.code, r.stderr)
	}

	// serve: the module answers a scrape.
	srv := startServeBinary(t, bin, writeCheckConfig(t, module+fmt.Sprintf("serve:\n  allow: [\"127.0.0.0/8:%d\"]\n", port)))
	res := srv.get(t, fmt.Sprintf("/probe?target=127.0.0.1:%d&module=route", port), "10")
	if res.Code != 200 || !strings.Contains(res.Body, `smtpprobe_success{command="path",module="route",target="127.0.0.1"} 1`) ||
		!strings.Contains(res.Body, fmt.Sprintf(`port="%d"`, port)) {
		t.Errorf("serve /probe module=route = %d\n%s\nwant 200 and smtpprobe_success 1 of command path", res.Code, res.Body)
	}
}
