package probe

import "testing"

func TestDefaultRecipient(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"Example.COM.", "postmaster@example.com"},
		{"mx1.example.com", "postmaster@mx1.example.com"},
		{"192.0.2.1", "postmaster"},
		{"2001:db8::1", "postmaster"},
		{"[2001:db8::1]", "postmaster"},
		{"", "postmaster"},
		{"bad..name", "postmaster"},
	} {
		if got := DefaultRecipient(tc.host); got != tc.want {
			t.Errorf("DefaultRecipient(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
}
