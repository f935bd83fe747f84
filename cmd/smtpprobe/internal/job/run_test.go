package job

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// startPeer serves SMTP on 127.0.0.1:0 with SIZE 4096 and no CHUNKING,
// answering every command but QUIT with 250; each session lasts 5 s at
// most.
func startPeer(tb testing.TB) *net.TCPAddr {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprint(c, "220 mx.example.com ESMTP\r\n")
				r := bufio.NewReader(c)
				for i := 0; i < 20; i++ {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
					case strings.HasPrefix(cmd, "EHLO"):
						fmt.Fprint(c, "250-mx.example.com\r\n250 SIZE 4096\r\n")
					case cmd == "QUIT":
						fmt.Fprint(c, "221 2.0.0 bye\r\n")
						return
					default:
						fmt.Fprint(c, "250 2.0.0 ok\r\n")
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}

// TestRunCapabilityFieldError: an option the server cannot honour comes
// back from Run as a *FieldError naming the option by its neutral key,
// and its flag spelling is the front end's, not the engine's.
func TestRunCapabilityFieldError(t *testing.T) {
	addr := startPeer(t)
	tests := []struct {
		name      string
		set       func(j *Job)
		wantField string
		wantText  string
	}{
		{"size", func(j *Job) { j.Session.Size = 10000 }, "size", "SIZE 4096"},
		{"bdat", func(j *Job) { j.Session.Size = 1000; j.Session.BDAT = true }, "bdat", "CHUNKING"},
	}
	for _, tc := range tests {
		j := New("session")
		j.Target = fmt.Sprintf("127.0.0.1:%d", addr.Port)
		j.ReplyTimeout = 3 * time.Second
		j.Session.To = []string{"postmaster@example.com"}
		tc.set(j)
		if err := j.Validate(); err != nil {
			t.Fatalf("Validate(%s) = %v", tc.name, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := j.Run(ctx, nil)
		cancel()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.wantField || !strings.Contains(fe.Reason, tc.wantText) {
			t.Errorf("Run(%s) error = %#v, want a *FieldError for %q with %q", tc.name, err, tc.wantField, tc.wantText)
			continue
		}
		flag := fe.Format(func(f string) string { return "--" + f })
		t.Logf("Run(%s) error as flags: %s", tc.name, flag)
		if !strings.HasPrefix(flag, "--"+tc.wantField+":") || strings.Count(flag, "--") != 1 {
			t.Errorf("Run(%s) error as flags = %q, want it to start with --%s: and name no other flag", tc.name, flag, tc.wantField)
		}
	}
}
