package wire

import "testing"

func TestParseLine(t *testing.T) {
	tests := []struct {
		in       string
		code     int
		more     bool
		text     string
		wantFail bool
	}{
		{"220 mx.example.com ESMTP", 220, false, "mx.example.com ESMTP", false},
		{"250-PIPELINING", 250, true, "PIPELINING", false},
		{"250", 250, false, "", false},
		{"421 4.4.2 mx Error: timeout exceeded", 421, false, "4.4.2 mx Error: timeout exceeded", false},
		{"22", 0, false, "", true},
		{"2x0 hello", 0, false, "", true},
		{"250_x", 0, false, "", true},
		{"199 too low", 0, false, "", true},
		{"600 too high", 0, false, "", true},
		{"HTTP/1.1 400 Bad Request", 0, false, "", true},
	}
	for _, tc := range tests {
		code, more, text, err := parseLine(tc.in)
		if (err != nil) != tc.wantFail {
			t.Errorf("parseLine(%q) error = %v, want failure %v", tc.in, err, tc.wantFail)
			continue
		}
		if code != tc.code || more != tc.more || text != tc.text {
			t.Errorf("parseLine(%q) = %d, %v, %q; want %d, %v, %q", tc.in, code, more, text, tc.code, tc.more, tc.text)
		}
	}
}

func TestNewReplyEnhanced(t *testing.T) {
	tests := []struct {
		code     int
		lines    []string
		enhanced string
		text     string
		str      string
	}{
		{421, []string{"4.4.2 mx.example.com Error: timeout exceeded"}, "4.4.2", "mx.example.com Error: timeout exceeded", "421 4.4.2 mx.example.com Error: timeout exceeded"},
		{250, []string{"2.1.5 Ok"}, "2.1.5", "Ok", "250 2.1.5 Ok"},
		// Class mismatch: not an enhanced code for this reply (RFC 2034 §4).
		{250, []string{"5.1.1 odd"}, "", "5.1.1 odd", "250 5.1.1 odd"},
		{220, []string{"mx.example.com ESMTP"}, "", "mx.example.com ESMTP", "220 mx.example.com ESMTP"},
		{250, []string{"mx.example.com", "PIPELINING", "SIZE 10240000"}, "", "mx.example.com\nPIPELINING\nSIZE 10240000", "250 mx.example.com"},
		{554, []string{"5.7.1234 too long detail"}, "", "5.7.1234 too long detail", "554 5.7.1234 too long detail"},
		{550, []string{"5.1.1"}, "5.1.1", "", "550 5.1.1"},
	}
	for _, tc := range tests {
		r := NewReply(tc.code, tc.lines, 0)
		if r.Enhanced != tc.enhanced || r.Text != tc.text || r.String() != tc.str {
			t.Errorf("NewReply(%d, %q) = {%q, %q, %q}, want {%q, %q, %q}", tc.code, tc.lines, r.Enhanced, r.Text, r.String(), tc.enhanced, tc.text, tc.str)
		}
	}
}

func TestReplyErr(t *testing.T) {
	r := NewReply(421, []string{"4.4.2 bye"}, 0)
	e := r.Err()
	if e == nil || e.Code != 421 || e.EnhancedCode != [3]int{4, 4, 2} || e.Message != "bye" {
		t.Errorf("Reply(421 4.4.2 bye).Err() = %+v, want code 421, 4.4.2, bye", e)
	}
	if e := NewReply(250, []string{"ok"}, 0).Err(); e != nil {
		t.Errorf("Reply(250).Err() = %v, want nil", e)
	}
}
