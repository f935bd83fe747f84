package job

import (
	"errors"
	"strings"
	"testing"
)

func TestTargetHint(t *testing.T) {
	for _, tc := range []struct{ in, domain, rcpt string }{
		{"https://example.com", "example.com", ""},
		{"https://example.com/path?q=1", "example.com", ""},
		{"smtp://mx.example.com:2525", "mx.example.com:2525", ""},
		{"user@example.com", "example.com", "user@example.com"},
		{"example.com", "", ""},
		{"[2001:db8::1]:25", "", ""},
		{"192.0.2.1:25", "", ""},
	} {
		d, r := TargetHint(tc.in)
		if d != tc.domain || r != tc.rcpt {
			t.Errorf("TargetHint(%q) = %q, %q; want %q, %q", tc.in, d, r, tc.domain, tc.rcpt)
		}
	}
}

func TestTargetNote(t *testing.T) {
	for _, tc := range []struct {
		in   string
		port uint16
		want string
	}{
		{"::1:2525", 25, "read ::1:2525 as the IPv6 address ::1:2525 on port 25; for ::1 on port 2525 write [::1]:2525"},
		{"2001:db8::25", 25, "read 2001:db8::25 as the IPv6 address 2001:db8::25 on port 25; a port goes after brackets"},
		{"[::1]:2525", 2525, ""},
		{"2001:db8::a", 25, ""},
		{"example.com:25", 25, ""},
		{"192.0.2.1", 25, ""},
	} {
		if got := TargetNote(tc.in, tc.port); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("TargetNote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidateHints(t *testing.T) {
	j := New("timeout")
	j.Target, j.Phase = "192.0.2.1", "DATA"
	if err := j.Validate(); err != nil || j.Phase != "data" {
		t.Errorf("Validate(phase DATA) = %v, phase %q; want nil, data", err, j.Phase)
	}
	j = New("timeout")
	j.Target, j.Phase = "192.0.2.1", "dta"
	var fe *FieldError
	if err := j.Validate(); !errors.As(err, &fe) || !strings.Contains(fe.Reason, `did you mean "data"?`) {
		t.Errorf("Validate(phase dta) = %v, want a did-you-mean of data", err)
	}
	j = New("session")
	j.Target = "user@example.com"
	var te *TargetError
	if err := j.Validate(); !errors.As(err, &te) || te.Domain != "example.com" || te.Recipient != "user@example.com" {
		t.Errorf("Validate(user@example.com) = %v, want a *TargetError suggesting example.com", err)
	}
	j = New("mtu")
	j.Target, j.MTU.Direction = "192.0.2.1", "BOTH"
	if err := j.Validate(); err != nil || j.MTU.Direction != "both" {
		t.Errorf("Validate(direction BOTH) = %v, %q; want nil, both", err, j.MTU.Direction)
	}
}

// TestLinkLocalTarget: an IPv6 link-local address without a zone is bad
// input (issue 20, item 8), not a connect that fails with "invalid
// argument" and a no-local-route finding.
func TestLinkLocalTarget(t *testing.T) {
	for _, tc := range []struct {
		target, want string
	}{
		{"[fe80::1]:25", "target \"[fe80::1]:25\": a link-local address needs a zone: fe80::1%eth0"},
		{"fe80::1", "target \"fe80::1\": a link-local address needs a zone: fe80::1%eth0"},
		{"[FE80::a:b]", "target \"[FE80::a:b]\": a link-local address needs a zone: fe80::a:b%eth0"},
		{"[ff02::1]:25", "target \"[ff02::1]:25\": a link-local address needs a zone: ff02::1%eth0"},
		{"[fe80::1%eth0]:25", ""},
		{"[2001:db8::25]:25", ""},
		{"169.254.1.1:25", ""},
		{"[::ffff:169.254.1.1]:25", ""},
	} {
		_, _, err := SplitTarget(tc.target, 25)
		got := ""
		if err != nil {
			got = err.Error()
			if _, ok := err.(*InputError); !ok {
				t.Errorf("SplitTarget(%q) error is a %T, want an *InputError (exit 3)", tc.target, err)
			}
		}
		if got != tc.want {
			t.Errorf("SplitTarget(%q) = %q, want %q", tc.target, got, tc.want)
		}
	}
}
