package help

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// mxEntry is a probe kind's entry, as the command line takes it from
// the run layer's registry.
var mxEntry = Command{Name: "mx", Summary: "check every MX address of DOMAIN", Synopsis: "smtpprobe mx DOMAIN[:PORT] [flags]",
	Examples: []string{"smtpprobe mx example.com", "smtpprobe mx example.com --json", "smtpprobe mx example.com -q"}}

// timeoutEntry is another, for flagSet's command.
var timeoutEntry = Command{Name: "timeout", Summary: "measure how long the server waits on an idle session", Synopsis: "smtpprobe timeout TARGET[:PORT] [flags]",
	Examples: []string{"smtpprobe timeout mx1.example.com", "smtpprobe timeout 192.0.2.10 --phase ehlo", "smtpprobe timeout example.com --phase data"}}

// testCLI is a command line with mx (its flags from flagSet) and a
// command "zap" that the reference does not know yet.
func testCLI(ran *[]string) CLI {
	return CLI{Names: []string{"mx", "zap"}, Commands: append([]Command{mxEntry}, Commands...), ManDate: "2026-12-02", Version: "v1",
		Topics: map[string]func(io.Writer) error{"config": func(w io.Writer) error { _, err := io.WriteString(w, "CONFIG\n"); return err }},
		Run: func(args []string, stdout, stderr io.Writer) int {
			*ran = append(*ran, strings.Join(args, " "))
			if col, ok := stdout.(*Collector); ok && args[0] == "mx" {
				col.Cmd = FromFlags(flagSet(), mxEntry, "smtpprobe mx DOMAIN")
				col.Cmd.Name = "mx"
			}
			return 0
		}}
}

func TestCLIReferenceAndCollect(t *testing.T) {
	var ran []string
	c := testCLI(&ran)
	ref := c.Reference()
	if last := ref[len(ref)-1]; last.Name != "zap" || last.Synopsis != "smtpprobe zap [flags]" {
		t.Errorf("Reference ends with %+v, want the unknown command zap", last)
	}
	var mx, zap Command
	for _, cmd := range c.Collect() {
		switch cmd.Name {
		case "mx":
			mx = cmd
		case "zap":
			zap = cmd
		}
	}
	if len(mx.Groups) == 0 || zap.Synopsis != "smtpprobe zap [flags]" {
		t.Errorf("Collect: mx = %+v, zap = %+v; want mx's flags and zap's placeholder", mx, zap)
	}
	if strings.Join(ran, ";") != "mx --help;zap --help" {
		t.Errorf("Collect ran %q, want each command of Names with --help", ran)
	}
}

func TestCLIHelp(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want, ran string
	}{
		{nil, "smtpprobe completion  print", ""},
		{[]string{"config"}, "CONFIG\n", ""},
		{[]string{"--man"}, ".TH SMTPPROBE 1", "mx --help;zap --help"},
		{[]string{"completion"}, "Usage: smtpprobe completion", ""},
		{[]string{"mx"}, "", "mx --help"},
		{[]string{"nosuch"}, "", "nosuch --help"},
	} {
		var ran []string
		var b bytes.Buffer
		if _, err := testCLI(&ran).Help(tc.args, &b, io.Discard); err != nil || !strings.Contains(b.String(), tc.want) || strings.Join(ran, ";") != tc.ran {
			t.Errorf("Help(%q) = %v, ran %q, printed %.60q; want %q and ran %q", tc.args, err, ran, b.String(), tc.want, tc.ran)
		}
	}
}

func TestCLICompletion(t *testing.T) {
	var ran []string
	c := testCLI(&ran)
	var b bytes.Buffer
	if err := c.Completion([]string{"BASH"}, &b); err != nil || !strings.Contains(b.String(), "zap") {
		t.Errorf("Completion(BASH) = %v, want a script naming zap", err)
	}
	if err := c.Completion([]string{"--help"}, &b); !errors.Is(err, ErrHelp) {
		t.Errorf("Completion(--help) = %v, want ErrHelp", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "completion: want one shell: bash, zsh, fish"},
		{[]string{"bsh"}, `completion: unknown shell "bsh": want bash, zsh, fish; did you mean "bash"?`},
	} {
		var ue *UsageError
		if err := c.Completion(tc.args, &b); !errors.As(err, &ue) || ue.Msg != tc.want {
			t.Errorf("Completion(%q) = %v, want usage error %q", tc.args, err, tc.want)
		}
	}
}
