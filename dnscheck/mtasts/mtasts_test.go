package mtasts

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// rfcPolicy is the example policy of RFC 8461 §3.2.
const rfcPolicy = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"

func TestParsePolicyRFC(t *testing.T) {
	p, err := ParsePolicy(rfcPolicy)
	if err != nil {
		t.Fatalf("ParsePolicy(RFC 8461 §3.2 example) = %v", err)
	}
	want := &Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 604800,
		MX: []string{"mail.example.com", "*.example.net", "backupmx.example.com"}}
	if p.Version != want.Version || p.Mode != want.Mode || p.MaxAge != want.MaxAge || !slices.Equal(p.MX, want.MX) {
		t.Errorf("ParsePolicy(RFC example) = %+v, want %+v", p, want)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		mode     Mode
		mx       []string
		maxAge   int64
		err      string // substring of the error; "" for success
	}{
		{"lf only", "version: STSv1\nmode: testing\nmx: MX.Example.COM.\nmax_age: 86400", ModeTesting, []string{"mx.example.com"}, 86400, ""},
		{"tabs and spaces", "version:STSv1\nmode:\tnone\t\nmax_age:  0  \n", ModeNone, nil, 0, ""},
		{"first mode wins", "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 1\n", ModeTesting, []string{"a.example"}, 1, ""},
		{"unknown field ignored", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nfoo_bar: baz qux\n", ModeEnforce, []string{"a.example"}, 1, ""},
		{"max max_age", "version: STSv1\nmode: none\nmax_age: 31557600\n", ModeNone, nil, MaxMaxAge, ""},
		{"no version", "mode: enforce\nmx: a.example\nmax_age: 1\n", "", nil, 0, "no version"},
		{"bad version", "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "", nil, 0, `version "STSv2"`},
		{"bad mode", "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", "", nil, 0, "want enforce, testing or none"},
		{"no mode", "version: STSv1\nmx: a.example\nmax_age: 1\n", "", nil, 0, "no mode"},
		{"no max_age", "version: STSv1\nmode: enforce\nmx: a.example\n", "", nil, 0, "no max_age"},
		{"max_age too big", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "", nil, 0, "above the maximum"},
		{"max_age 11 digits", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 00000000001\n", "", nil, 0, "1 to 10 digits"},
		{"max_age negative", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", "", nil, 0, "1 to 10 digits"},
		{"enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 1\n", "", nil, 0, "no mx pattern in enforce mode"},
		{"bad mx", "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n", "", nil, 0, "line 3: mx"},
		{"wildcard in the middle", "version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n", "", nil, 0, "line 3: mx"},
		{"html", "<html><body>not found</body></html>", "", nil, 0, "line 1"},
		{"control character", "version: STSv1\nmode: enforce\x00\nmx: a.example\nmax_age: 1\n", "", nil, 0, "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy(tc.in)
			if tc.err != "" {
				var se *SyntaxError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &se) {
					t.Fatalf("ParsePolicy(%q) = %+v, %v; want a *SyntaxError containing %q", tc.in, p, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePolicy(%q) = %v", tc.in, err)
			}
			if p.Mode != tc.mode || p.MaxAge != tc.maxAge || !slices.Equal(p.MX, tc.mx) {
				t.Errorf("ParsePolicy(%q) = %+v, want mode %s mx %v max_age %d", tc.in, p, tc.mode, tc.mx, tc.maxAge)
			}
		})
	}
}

// TestMatchPattern has the examples of RFC 8461 §4.1 and the policy of
// §3.2.
func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		// §4.1: "*.example.com" matches "mx1.example.com" but not
		// "example.com" and not "a.b.example.com" (only the leftmost label).
		{"*.example.com", "mx1.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.b.example.com", false},
		{"mail.example.com", "mail.example.com", true},
		{"mail.example.com", "MAIL.Example.Com.", true},
		{"mail.example.com.", "mail.example.com", true},
		{"mail.example.com", "mail2.example.com", false},
		{"mail.example.com", "x.mail.example.com", false},
		{"*.example.net", "mx.example.net", true},
		{"*.example.net", "mx.example.com", false},
		{"*.example.com", ".example.com", false},
		{"*.example.com", "mxexample.com", false},
		{"", "example.com", false},
	} {
		if got := MatchPattern(tc.pattern, tc.host); got != tc.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tc.pattern, tc.host, got, tc.want)
		}
	}
	p, err := ParsePolicy(rfcPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if pat, ok := p.Match("mx2.example.net"); !ok || pat != "*.example.net" {
		t.Errorf("Match(mx2.example.net) = %q, %v, want *.example.net, true", pat, ok)
	}
	if pat, ok := p.Match("mail.example.org"); ok {
		t.Errorf("Match(mail.example.org) = %q, true, want no match", pat)
	}
}

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		in, id, err string
	}{
		{"v=STSv1; id=20160831085700Z;", "20160831085700Z", ""}, // RFC 8461 §3.1 example
		{"v=STSv1;id=abc", "abc", ""},
		{"v=STSv1 ;  id=abc  ; ext=val", "abc", ""},
		{"v=STSv1; id=first; id=second", "first", ""},
		{"v=STSv1; id=" + strings.Repeat("a", 32), strings.Repeat("a", 32), ""},
		{"v=STSv1; id=" + strings.Repeat("a", 33), "", "not 1 to 32"},
		{"v=STSv1; id=2016-08-31", "", "not 1 to 32"},
		{"v=STSv1;", "", "no id"},
		{"v=STSv1; ext=1", "", "no id"},
		{"v=STSv2; id=1", "", "does not begin"},
		{" v=STSv1; id=1", "", "does not begin"},
		{"v=STSv1; id", "", "not NAME=VALUE"},
		{"v=STSv1; id=a b", "", "field id has an empty value"},
		{"v=STSv1; _x=1; id=1", "", "field name"},
	} {
		r, err := ParseRecord(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRecord(%q) = %+v, %v; want error containing %q", tc.in, r, err, tc.err)
			}
			continue
		}
		if err != nil || r.ID != tc.id {
			t.Errorf("ParseRecord(%q) = %+v, %v; want id %q", tc.in, r, err, tc.id)
		}
	}
}

func TestSelectRecord(t *testing.T) {
	if _, err := SelectRecord([]string{"v=spf1 -all"}); !errors.Is(err, ErrNoRecord) {
		t.Errorf("SelectRecord(spf only) = %v, want ErrNoRecord", err)
	}
	if _, err := SelectRecord([]string{"v=STSv1; id=1", "v=STSv1; id=2"}); !errors.Is(err, ErrMultipleRecords) {
		t.Errorf("SelectRecord(two records) = %v, want ErrMultipleRecords", err)
	}
	if r, err := SelectRecord([]string{"v=spf1 -all", "v=STSv1; id=2"}); err != nil || r.ID != "2" {
		t.Errorf("SelectRecord(spf, sts) = %+v, %v, want id 2", r, err)
	}
}
