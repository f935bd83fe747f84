package job

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateFieldError(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Job)
		field string
		text  string // Error(), with the neutral keys
	}{
		{"connect timeout", func(j *Job) { j.ConnectTimeout = 0 }, "connect_timeout", "connect_timeout 0s: want a positive duration such as 30s"},
		{"timeout", func(j *Job) { j.ReplyTimeout = -1 }, "timeout", "timeout -1ns: want a positive duration such as 60s"},
		{"families", func(j *Job) { j.IPv4, j.IPv6 = true, true }, "ipv4", "ipv4 and ipv6 exclude each other"},
		{"parallel", func(j *Job) { j.Parallel = 0 }, "parallel", "parallel 0: want 1 to 1024"},
		{"helo", func(j *Job) { j.Helo = "192.0.2.1" }, "helo", `helo "192.0.2.1": an address goes in brackets`},
		{"resolver", func(j *Job) { j.Resolver = "a b" }, "resolver", "resolver: "},
		{"tls groups", func(j *Job) { j.TLSGroups = "pqq" }, "tls_groups", `tls_groups "pqq": want pq, classical, default; did you mean "pq"?`},
	}
	for _, tc := range tests {
		j := New("mx")
		j.Target = "example.com"
		tc.edit(j)
		err := j.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.HasPrefix(err.Error(), tc.text) {
			t.Errorf("Validate(%s) = %v, want a *FieldError for %s reading %q", tc.name, err, tc.field, tc.text)
		}
	}
}

func TestValidateCommandFields(t *testing.T) {
	tests := []struct {
		command string
		edit    func(*Job)
		field   string
	}{
		{"session", func(j *Job) { j.Session.Size = 0 }, "size"},
		{"session", func(j *Job) { j.Session.ChunkSize = -1 }, "chunk_size"},
		{"session", func(j *Job) { j.Session.PauseAfterData = -1 }, "pause_after_data"},
		{"session", func(j *Job) { j.Session.To = []string{"<a@example.com>"} }, "to"},
		{"session", func(j *Job) { j.Session.From = "a b" }, "from"},
		{"timeout", func(j *Job) { j.Phase = "later" }, "phase"},
		{"timeout", func(j *Job) { j.Timeout.MaxWait = 0 }, "max_wait"},
		{"timeout", func(j *Job) { j.PauseCmp = map[string]time.Duration{"chunk-pause": -1} }, "chunk_pause"},
		{"mtu", func(j *Job) { j.MTU.Direction = "sideways" }, "direction"},
		{"mtu", func(j *Job) { j.MTU.Min = 10 }, "min"},
		{"mtu", func(j *Job) { j.MTU.Min, j.MTU.Max = 1500, 1400 }, "min"},
	}
	for _, tc := range tests {
		j := New(tc.command)
		j.Target = "example.com"
		tc.edit(j)
		var fe *FieldError
		if err := j.Validate(); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Validate(%s, %s) = %v, want a *FieldError for %s", tc.command, tc.field, err, tc.field)
		}
	}
}

func TestFieldErrorFormat(t *testing.T) {
	flag := func(f string) string { return "--" + strings.ReplaceAll(f, "_", "-") }
	tests := []struct {
		in   *FieldError
		want string
	}{
		{&FieldError{Field: "max_wait", Value: "0s", Reason: "want a positive duration such as 10m"}, "--max-wait 0s: want a positive duration such as 10m"},
		{&FieldError{Field: "min", Value: "1500", Reason: "is above %s", Other: "max", OtherValue: "1400"}, "--min 1500 is above --max 1400"},
		{&FieldError{Field: "to", Reason: "empty recipient"}, "--to: empty recipient"},
	}
	for _, tc := range tests {
		if got := tc.in.Format(flag); got != tc.want {
			t.Errorf("Format(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDefaultRecipient(t *testing.T) {
	for host, want := range map[string]string{
		"Example.COM.": "postmaster@example.com", "192.0.2.1": "postmaster", "2001:db8::1": "postmaster",
	} {
		if got := DefaultRecipient(host); got != want {
			t.Errorf("DefaultRecipient(%q) = %q, want %q", host, got, want)
		}
	}
	j := New("session")
	j.Target = "192.0.2.1:2525"
	if err := j.Validate(); err != nil || len(j.Session.To) != 1 || j.Session.To[0] != "postmaster" || j.Port() != 2525 {
		t.Errorf("Validate(session 192.0.2.1:2525) = %v, To %q, port %d; want postmaster, 2525", err, j.Session.To, j.Port())
	}
}

func TestValidateInputError(t *testing.T) {
	for _, tc := range []struct{ command, target, want string }{
		{"ping", "example.com", `unknown command "ping"`},
		{"mx", "bad..example", `mx: invalid domain "bad..example"`},
		{"mx", "", "empty target"},
	} {
		j := New(tc.command)
		j.Target = tc.target
		var ie *InputError
		if err := j.Validate(); !errors.As(err, &ie) || !strings.Contains(ie.Msg, tc.want) {
			t.Errorf("Validate(%s %q) = %v, want an *InputError containing %q", tc.command, tc.target, err, tc.want)
		}
	}
}

// TestTLSGroups: the key-share choice reaches the prober, in any case.
func TestTLSGroups(t *testing.T) {
	for _, in := range []string{"", "pq", "Classical", "DEFAULT"} {
		j := New("mx")
		j.Target, j.TLSGroups = "example.com", in
		if err := j.Validate(); err != nil {
			t.Errorf("Validate(tls groups %q) = %v, want nil", in, err)
			continue
		}
		if got := string(j.prober().TLSGroups); got != strings.ToLower(in) {
			t.Errorf("prober(tls groups %q).TLSGroups = %q, want %q", in, got, strings.ToLower(in))
		}
	}
}
