package render_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/dnscheck"
	"github.com/smtpprobe/smtpprobe/mtu"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/probe/render"
)

// A run that found no bottleneck says what bounded the search: the
// interface MTU, or the smaller maximum the user asked for (issue 11 §1:
// an explicit 1500 must not read "up to the interface MTU 65535").
func TestMTUNothingFailedBound(t *testing.T) {
	for _, tc := range []struct {
		rng   [2]int
		iface int
		want  string
	}{
		{[2]int{576, 1500}, 1500, "nothing failed up to the interface MTU,"},
		{[2]int{576, 1500}, 65535, "nothing failed up to the maximum asked for, 1500,"},
		{[2]int{1280, 9000}, 9000, "nothing failed up to the interface MTU,"},
	} {
		pm := tc.rng[1]
		rep := &probe.Report{Command: "mtu", Target: "192.0.2.1", Outcome: probe.OK, Findings: []probe.Finding{},
			Results: []probe.Result{{Host: "192.0.2.1", Address: "192.0.2.1", Port: 25, Outcome: probe.OK,
				MTUInfo: &probe.MTUInfo{PathMTU: &pm, Verdict: mtu.VerdictNoBottleneck, Bracket: [2]*int{&pm, nil},
					InterfaceMTU: tc.iface, Range: tc.rng, Probes: []probe.MTUProbe{}}}}}
		var b bytes.Buffer
		if err := render.Text(&b, rep, render.Options{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("Text(range %v, interface MTU %d) =\n%s\nwant it to contain %q", tc.rng, tc.iface, b.String(), tc.want)
		}
	}
}

// A finding's Option is shown in the front end's spelling when it gives
// one (the command line's "--to"), and not at all otherwise.
func TestFindingOptionName(t *testing.T) {
	rep := &probe.Report{Command: "session", Target: "192.0.2.1", Outcome: probe.Rejected, Results: []probe.Result{},
		Findings: []probe.Finding{{Severity: probe.SevWarning, Code: dnscheck.CodeRcptRefused, Option: "to",
			Message: "192.0.2.1 refused the recipient <postmaster> (501 5.1.3 Bad recipient address syntax); give a recipient the server accepts"}}}
	for _, tc := range []struct {
		name func(string) string
		want string
	}{
		{func(o string) string { return "--" + o }, "give a recipient the server accepts (set with --to)\n"},
		{nil, "give a recipient the server accepts\n"},
	} {
		var b bytes.Buffer
		if err := render.Text(&b, rep, render.Options{Option: tc.name}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("Text(finding with Option) =\n%s\nwant it to contain %q", b.String(), tc.want)
		}
	}
}
