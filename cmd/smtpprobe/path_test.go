package main

import (
	"context"
	"strings"
	"testing"
)

// TestPathUsage: bad flags of `smtpprobe path` are one line on stderr and
// exit 3, before any packet.
func TestPathUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"path"}, "want exactly one TARGET"},
		{[]string{"path", "192.0.2.1", "--max-hops", "0"}, "--max-hops 0: want 1 to 64"},
		{[]string{"path", "192.0.2.1", "--max-hops", "65"}, "--max-hops 65: want 1 to 64"},
		{[]string{"path", "192.0.2.1", "--probes", "0"}, "--probes 0: want 1 to 10"},
		{[]string{"path", "192.0.2.1", "--probes", "11"}, "--probes 11: want 1 to 10"},
		{[]string{"path", "192.0.2.1", "--wait", "0s"}, "--wait 0s: want a positive duration"},
		{[]string{"path", "192.0.2.1", "--compare-port", "0"}, "--compare-port 0: want a port from 1 to 65535"},
		{[]string{"path", "192.0.2.1", "--compare-port", "70000"}, "--compare-port 70000: want a port"},
	}
	for _, tt := range tests {
		var out, errOut strings.Builder
		code := run(context.Background(), tt.args, &out, &errOut)
		lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
		if code != 3 || len(lines) != 1 || !strings.Contains(lines[0], tt.want) || out.Len() != 0 {
			t.Errorf("run(%q) = %d, stderr %q, stdout %q; want 3 and one line with %q", tt.args, code, errOut.String(), out.String(), tt.want)
		}
	}
}
