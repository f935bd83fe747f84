package mta

import (
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// rl makes a reply from its wire lines ("250-a", "250 b").
func rl(lines ...string) wire.Reply {
	code := 0
	var texts []string
	for _, l := range lines {
		if code == 0 {
			code = int(l[0]-'0')*100 + int(l[1]-'0')*10 + int(l[2]-'0')
		}
		texts = append(texts, l[4:])
	}
	return wire.NewReply(code, texts, 0)
}

// The banners, EHLO replies and closes below are the real ones of the lab's
// servers (Debian 12 packages: Postfix 3.7, Exim 4.96, sendmail 8.17,
// OpenSMTPD 6.8), and for Exchange and Microsoft 365 the documented ones.
func TestIdentifyServer(t *testing.T) {
	postfixEHLO := rl("250-mx1.lab.example", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN", "250-STARTTLS",
		"250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING")
	eximEHLO := rl("250-exim.lab.example Hello client.example [198.18.1.2]", "250-SIZE 52428800", "250-8BITMIME",
		"250-PIPELINING", "250-PIPECONNECT", "250-CHUNKING", "250-SMTPUTF8", "250 HELP")
	sendmailEHLO := rl("250-sendmail.lab.example Hello [198.18.1.2], pleased to meet you", "250-ENHANCEDSTATUSCODES",
		"250-PIPELINING", "250-8BITMIME", "250-SIZE", "250-DSN", "250-ETRN", "250-AUTH DIGEST-MD5 CRAM-MD5", "250-DELIVERBY", "250 HELP")
	opensmtpdEHLO := rl("250-opensmtpd.lab.example Hello client.example [198.18.1.2], pleased to meet you", "250-8BITMIME",
		"250-ENHANCEDSTATUSCODES", "250-SIZE 36700160", "250-DSN", "250 HELP")
	exchangeEHLO := rl("250-mail.contoso.com Hello [192.0.2.1]", "250-SIZE 37748736", "250-PIPELINING", "250-DSN",
		"250-ENHANCEDSTATUSCODES", "250-STARTTLS", "250-X-ANONYMOUSTLS", "250-AUTH NTLM", "250-X-EXPS GSSAPI NTLM",
		"250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250-XEXCH50", "250-XRDST", "250 XSHADOWREQUEST")
	tests := []struct {
		name string
		ev   Evidence
		want Software
		conf Confidence
	}{
		{"postfix banner", Evidence{Banner: rl("220 mx1.lab.example ESMTP Postfix (smtpprobe lab)"), EHLO: postfixEHLO}, SoftwarePostfix, ConfidenceHigh},
		{"postfix hidden banner, 421 on idle", Evidence{Banner: rl("220 mail.example.com ESMTP"),
			Close: ptr(rl("421 4.4.2 mail.example.com Error: timeout exceeded"))}, SoftwarePostfix, ConfidenceHigh},
		{"postfix hidden banner, 354 text", Evidence{Banner: rl("220 mail.example.com ESMTP"),
			Replies: []wire.Reply{rl("250 2.1.0 Ok"), rl("354 End data with <CR><LF>.<CR><LF>")}}, SoftwarePostfix, ConfidenceMedium},
		{"postscreen teaser", Evidence{Banner: rl("220-mx1.lab.example ESMTP Postfix (smtpprobe lab)", "220 mx1.lab.example ESMTP Postfix (smtpprobe lab)"),
			BannerWait: 3 * time.Second}, SoftwarePostscreen, ConfidenceHigh},
		{"postscreen after its pre-greet test passed", Evidence{Banner: rl("220 mx1.lab.example ESMTP Postfix (smtpprobe lab)"),
			EHLO:  rl("250-mx1.lab.example", "250-SIZE 10240000", "250-VRFY", "250-ETRN", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"),
			Close: ptr(rl("421 4.4.2 mx1.lab.example Error: timeout exceeded"))}, SoftwarePostscreen, ConfidenceLow},
		{"no PIPELINING alone names nothing", Evidence{Banner: rl("220 mx.example.com ESMTP"),
			EHLO: rl("250-mx.example.com", "250-SIZE 10240000", "250 8BITMIME")}, SoftwareUnknown, ConfidenceNone},
		{"postscreen deferral", Evidence{Banner: rl("220 mx.example.net ESMTP"),
			Replies: []wire.Reply{rl("250 2.1.0 Ok"), rl("450 4.3.2 Service currently unavailable")}}, SoftwarePostscreen, ConfidenceMedium},
		{"exim", Evidence{Banner: rl("220 exim.lab.example ESMTP Exim 4.96 Mon, 07 Dec 2026 16:01:26 +0000"), EHLO: eximEHLO}, SoftwareExim, ConfidenceHigh},
		{"exim hidden banner, command timeout", Evidence{Banner: rl("220 mx.example.org ESMTP"),
			Close: ptr(rl("421 mx.example.org: SMTP command timeout - closing connection"))}, SoftwareExim, ConfidenceHigh},
		{"exim hidden banner, data timeout", Evidence{Banner: rl("220 mx.example.org ESMTP"),
			Replies: []wire.Reply{rl(`354 Enter message, ending with "." on a line by itself`)},
			Close:   ptr(rl("421 mx.example.org SMTP incoming data timeout - closing connection."))}, SoftwareExim, ConfidenceHigh},
		{"exim hidden banner, EHLO keyword", Evidence{Banner: rl("220 mx.example.org ESMTP"), EHLO: eximEHLO}, SoftwareExim, ConfidenceMedium},
		{"sendmail", Evidence{Banner: rl("220 sendmail.lab.example ESMTP Sendmail 8.17.1.9/8.17.1.9; Mon, 7 Dec 2026 16:01:29 GMT"), EHLO: sendmailEHLO}, SoftwareSendmail, ConfidenceHigh},
		{"sendmail hidden banner", Evidence{Banner: rl("220 mx.example.org ESMTP ready"), EHLO: sendmailEHLO,
			Replies: []wire.Reply{rl("250 2.1.0 <>... Sender ok")}}, SoftwareSendmail, ConfidenceHigh},
		{"opensmtpd", Evidence{Banner: rl("220 opensmtpd.lab.example ESMTP OpenSMTPD"), EHLO: opensmtpdEHLO}, SoftwareOpenSMTPD, ConfidenceHigh},
		{"exchange", Evidence{Banner: rl("220 mail.contoso.com Microsoft ESMTP MAIL Service ready at Mon, 7 Dec 2026 16:00:00 +0000"), EHLO: exchangeEHLO}, SoftwareExchange, ConfidenceHigh},
		{"exchange hidden banner", Evidence{Banner: rl("220 mail.contoso.com"), EHLO: exchangeEHLO}, SoftwareExchange, ConfidenceHigh},
		{"exchange idle close", Evidence{Banner: rl("220 mail.contoso.com"),
			Close: ptr(rl("451 4.7.0 Timeout waiting for client input"))}, SoftwareExchange, ConfidenceHigh},
		{"microsoft 365", Evidence{Banner: rl("220 AM4PEPF00027A5F.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Mon, 7 Dec 2026 16:00:00 +0000")}, SoftwareM365, ConfidenceHigh},
		{"bare FIN after 300 s, hidden banner", Evidence{Banner: rl("220 mx.example.org ESMTP"), FINAfter: 299997 * time.Millisecond}, SoftwareOpenSMTPD, ConfidenceLow},
		{"bare FIN after 6 s", Evidence{Banner: rl("220 mx.example.org ESMTP"), FINAfter: 6 * time.Second}, SoftwareUnknown, ConfidenceNone},
		{"go-smtp", Evidence{Banner: rl("220 localhost ESMTP Service Ready"), Close: ptr(rl("421 4.4.2 Idle timeout"))}, SoftwareUnknown, ConfidenceNone},
		{"hidden banner only", Evidence{Banner: rl("220 mx.example.com ESMTP")}, SoftwareUnknown, ConfidenceNone},
		{"nothing", Evidence{}, SoftwareUnknown, ConfidenceNone},
		{"postfix in another word", Evidence{Banner: rl("220 mx.example.com ESMTP NotPostfixAtAll")}, SoftwareUnknown, ConfidenceNone},
		{"two names tie", Evidence{Banner: rl("220 mx.example.com ESMTP Exim behind Postfix")}, SoftwareUnknown, ConfidenceNone},
		{"multi-line banner, not postscreen", Evidence{Banner: rl("220-mx.example.com ESMTP", "220-No UCE", "220 mx.example.com ready"), BannerWait: 3 * time.Second}, SoftwareUnknown, ConfidenceNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Identify(tc.ev)
			if got.Software != tc.want || got.Confidence != tc.conf {
				t.Errorf("Identify() = %s (%s, %q), want %s (%s)", got.Software, got.Confidence, got.Evidence, tc.want, tc.conf)
			}
			if got.Known() && len(got.Evidence) == 0 {
				t.Errorf("Identify() = %s with no evidence", got.Software)
			}
		})
	}
}

func TestServerLog(t *testing.T) {
	lc := LogContext{Client: "198.18.1.2", Port: 40596, Helo: "[198.18.1.2]"}
	tests := []struct {
		sw    Software
		phase string
		want  string
	}{
		{SoftwarePostfix, "data", "timeout after DATA (0 bytes)"},
		{SoftwarePostfix, "ehlo", "timeout after EHLO"},
		// As the lab's Exim 4.96 logs them.
		{SoftwareExim, "banner", "SMTP command timeout on connection from [198.18.1.2]"},
		{SoftwareExim, "rcpt", "SMTP command timeout on connection from ([198.18.1.2]) [198.18.1.2]"},
		{SoftwareExim, "data", "SMTP data timeout (message abandoned) on connection from ([198.18.1.2]) [198.18.1.2] F=<>"},
		{SoftwareOpenSMTPD, "banner", "smtp disconnected reason=timeout"},
		{SoftwareSendmail, "rcpt", ""},
		{SoftwarePostscreen, "rcpt", ""},
		{SoftwarePostscreen, "ehlo", "COMMAND TIME LIMIT from [198.18.1.2]:40596 after EHLO"}, // as the lab's postscreen logs it
		{SoftwareExchange, "rcpt", ""},
		{SoftwareUnknown, "data", ""},
	}
	for _, tc := range tests {
		if got := LogLine(tc.sw, tc.phase, lc); got != tc.want {
			t.Errorf("LogLine(%s, %s) = %q, want %q", tc.sw, tc.phase, got, tc.want)
		}
	}
	lc.Bytes = 812
	if got := LogLine(SoftwarePostfix, "body", lc); got != "timeout after DATA (812 bytes)" {
		t.Errorf("LogLine(postfix, body, 812) = %q", got)
	}
}

func ptr[T any](v T) *T { return &v }
