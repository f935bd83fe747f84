package policy

import (
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/dnscheck/dane"
)

// TestHostDANEFor: whether a host's TLSA records apply to a session (RFC
// 7672 §2.2): every validation the chain needs, and a failed lookup in a
// signed zone, which senders treat as a mismatch.
func TestHostDANEFor(t *testing.T) {
	rec := []dane.Record{{Usage: 3, Selector: 1, MatchingType: 1, Data: "ab"}}
	for _, tc := range []struct {
		name            string
		hd              *HostDANE
		mxSecure, viaMX bool
		want            string // "nil", "enforced", or a word of NotEnforced
	}{
		{"no lookup", nil, true, true, "nil"},
		{"no records", &HostDANE{DANE: DANEReport{Secure: true}, AddrSecure: true}, true, true, "nil"},
		{"all validated", &HostDANE{DANE: DANEReport{Records: rec, Secure: true}, AddrSecure: true}, true, true, "enforced"},
		{"TLSA not validated", &HostDANE{DANE: DANEReport{Records: rec}, AddrSecure: true}, true, true, "TLSA records are not"},
		{"MX not validated", &HostDANE{DANE: DANEReport{Records: rec, Secure: true}, AddrSecure: true}, false, true, "MX records are not"},
		{"implicit MX, unsigned parent", &HostDANE{DANE: DANEReport{Records: rec, Secure: true}, AddrSecure: true}, false, false, "enforced"},
		{"addresses not validated", &HostDANE{DANE: DANEReport{Records: rec, Secure: true}}, true, true, "address records"},
		{"lookup failed, signed", &HostDANE{DANE: DANEReport{LookupError: "SERVFAIL"}, AddrSecure: true}, true, true, "enforced"},
		{"lookup failed, unsigned MX", &HostDANE{DANE: DANEReport{LookupError: "SERVFAIL"}, AddrSecure: true}, false, true, ""},
	} {
		d := tc.hd.For(tc.mxSecure, tc.viaMX)
		var got string
		switch {
		case d == nil:
			got = "nil"
		case d.Enforced:
			got = "enforced"
		default:
			got = d.NotEnforced
		}
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s: For(%v, %v) = %q, want %q", tc.name, tc.mxSecure, tc.viaMX, got, tc.want)
		}
		if d != nil && len(d.Records) > 0 && &d.Records[0] == &tc.hd.DANE.Records[0] {
			t.Errorf("%s: For shares the host's records; want a copy per session", tc.name)
		}
	}
}

func TestReferenceNames(t *testing.T) {
	for _, tc := range []struct {
		expanded, host, want string
	}{{"", "mx.example.com", "mx.example.com"}, {"MX.example.com", "mx.example.com", "mx.example.com"},
		{"mx.hoster.example", "mx.example.com", "mx.example.com mx.hoster.example"}} {
		d := &DANEReport{Expanded: tc.expanded}
		if got := strings.Join(d.ReferenceNames(tc.host), " "); got != tc.want {
			t.Errorf("ReferenceNames(%q, expanded %q) = %q, want %q", tc.host, tc.expanded, got, tc.want)
		}
	}
}
