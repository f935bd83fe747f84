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
