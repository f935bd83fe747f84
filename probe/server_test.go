package probe

import (
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/mta"
)

// The advice never goes below RFC 5321 §4.5.3.2, says how much more a
// long pause needs, and speaks the server's language.
func TestPauseAdvice(t *testing.T) {
	tests := []struct {
		sw    mta.Software
		phase string
		pause time.Duration
		want  []string
		not   []string
	}{
		// The field report's contradiction: an 8 s pause advised
		// smtpd_timeout=20s while the next finding said below 300 s
		// breaks the RFC.
		{mta.SoftwarePostfix, "rcpt", 8 * time.Second, []string{"smtpd_timeout=300s", "minimum of RFC 5321 §4.5.3.2.7"}, []string{"=20s"}},
		// One timer for commands and data: never below the 5 minutes
		// for commands.
		{mta.SoftwarePostfix, "data", 8 * time.Second, []string{"smtpd_timeout=300s", "§4.5.3.2.7"}, []string{"180"}},
		{mta.SoftwarePostfix, "rcpt", 400 * time.Second, []string{"smtpd_timeout=540s", "240s more than the minimum"}, nil},
		{mta.SoftwareExim, "data", 90 * time.Second, []string{"smtp_receive_timeout = 300s"}, []string{"Postfix", "smtpd_timeout", "180"}},
		{mta.SoftwareExim, "data", 250 * time.Second, []string{"smtp_receive_timeout = 340s", "40s more"}, []string{"Postfix"}},
		{mta.SoftwareSendmail, "rcpt", 8 * time.Second, []string{"confTO_COMMAND", "Timeout.command=300s"}, []string{"Postfix"}},
		{mta.SoftwareSendmail, "body", 8 * time.Second, []string{"Timeout.datablock=180s"}, []string{"Postfix"}},
		{mta.SoftwareOpenSMTPD, "rcpt", 400 * time.Second, []string{"fixed at 300s", "keep the pause below it"}, []string{"Postfix", "540"}},
		{mta.SoftwareExchange, "rcpt", 8 * time.Second, []string{"-ConnectionInactivityTimeout 00:05:00"}, []string{"Postfix"}},
		{mta.SoftwarePostscreen, "rcpt", 8 * time.Second, []string{"postscreen_command_time_limit=300s"}, nil},
		{mta.SoftwareUnknown, "rcpt", 8 * time.Second, []string{"to 300s", "depends on its software"}, []string{"Postfix", "smtpd_timeout", "Exim"}},
	}
	for _, tc := range tests {
		got := pauseAdvice(tc.sw, tc.phase, tc.pause)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("pauseAdvice(%s, %s, %s) = %q, want %q in it", tc.sw, tc.phase, tc.pause, got, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("pauseAdvice(%s, %s, %s) = %q, want no %q", tc.sw, tc.phase, tc.pause, got, n)
			}
		}
	}
}

// "Below the RFC" allows for the timer's granularity: OpenSMTPD's fixed
// 300 s measures 299.997 s.
func TestBelowRFC(t *testing.T) {
	tests := []struct {
		idle  time.Duration
		phase string
		want  bool
	}{
		{299997 * time.Millisecond, "banner", false},
		{300 * time.Second, "rcpt", false},
		{297 * time.Second, "rcpt", false},
		{296 * time.Second, "rcpt", true},
		{9 * time.Second, "ehlo", true},
		{179900 * time.Millisecond, "body", false},
		{170 * time.Second, "data", true},
		{200 * time.Second, "data", false},
	}
	for _, tc := range tests {
		if got := belowRFC(tc.idle, tc.phase); got != tc.want {
			t.Errorf("belowRFC(%s, %s) = %v, want %v", tc.idle, tc.phase, got, tc.want)
		}
	}
}
