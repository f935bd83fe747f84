package mta

import (
	"fmt"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/units"
)

// postfixLog is what Postfix's smtpd logs when its smtpd_timeout fires
// in each phase ("timeout after DATA (0 bytes) from ...").
var postfixLog = map[string]string{
	"banner": "timeout after CONNECT",
	"ehlo":   "timeout after EHLO",
	"mail":   "timeout after MAIL",
	"rcpt":   "timeout after RCPT",
	"data":   "timeout after DATA (0 bytes)",
	"body":   "timeout after DATA (%d bytes)",
}

// OpenSMTPDTimeout is OpenSMTPD's session timeout, fixed when it is
// compiled (SMTPD_SESSION_TIMEOUT in smtpd.h).
const OpenSMTPDTimeout = 300 * time.Second

// TimerTolerance is how far a measured timeout may fall short of a
// server's configured one: max(100 ms, 1 %). The server starts its timer
// when it has read the last bytes, a little before the probe notes them,
// so OpenSMTPD's fixed 300 s measures 299.997 s.
func TimerTolerance(d time.Duration) time.Duration {
	return max(100*time.Millisecond, d/100)
}

// LogLine is the line the server logs when its idle timer fires at
// phase, in its own words; "" where the probe does not know the line
// (an unknown server, or one whose line is not documented), so that no
// log line is ever claimed for a server that does not write it.
func LogLine(sw Software, phase string, lc LogContext) string {
	switch sw {
	case SoftwarePostfix:
		switch phase {
		case "body":
			return fmt.Sprintf(postfixLog[phase], lc.Bytes)
		default:
			return postfixLog[phase]
		}
	case SoftwareExim:
		// Exim names the client "(helo) [ip]" once it said EHLO, and
		// the sender of an abandoned message.
		from := "[" + lc.Client + "]"
		if phase != "banner" {
			from = "(" + lc.Helo + ") " + from
		}
		if isDataPhase(phase) {
			return fmt.Sprintf("SMTP data timeout (message abandoned) on connection from %s F=<%s>", from, lc.From)
		}
		return "SMTP command timeout on connection from " + from
	case SoftwarePostscreen:
		// Its engine's postscreen_command_time_limit, as the lab's
		// postscreen (Postfix 3.7) logs it after EHLO; the other
		// phases' lines are not claimed.
		if phase == "ehlo" {
			return fmt.Sprintf("COMMAND TIME LIMIT from [%s]:%d after EHLO", lc.Client, lc.Port)
		}
	case SoftwareOpenSMTPD:
		return "smtp disconnected reason=timeout"
	}
	return ""
}

// LogContext is what a server's log line names of the session: the
// client's address (without brackets) and port, its EHLO name, the
// envelope sender and the body bytes sent.
type LogContext struct {
	Client, Helo, From string
	Port, Bytes        int
}

// Name is how a finding or a report names the software ("Exim",
// "Microsoft 365"; "the server" when unknown).
func Name(sw Software) string {
	switch sw {
	case SoftwarePostfix:
		return "Postfix"
	case SoftwarePostscreen:
		return "postscreen"
	case SoftwareExim:
		return "Exim"
	case SoftwareSendmail:
		return "sendmail"
	case SoftwareOpenSMTPD:
		return "OpenSMTPD"
	case SoftwareExchange:
		return "Exchange"
	case SoftwareM365:
		return "Microsoft 365"
	}
	return "the server"
}

// RaiseAdvice tells how to raise the server's idle timeout at phase to
// secs seconds, in the server's own words (its setting and how to apply
// it), or neutrally for an unknown server.
func RaiseAdvice(sw Software, phase string, secs int) string {
	switch sw {
	case SoftwarePostfix:
		return fmt.Sprintf("Postfix: postconf -e smtpd_timeout=%ds; postfix reload", secs)
	case SoftwarePostscreen:
		return fmt.Sprintf("postscreen: a new client inside postscreen's tests is limited by postscreen_command_time_limit (postconf -e postscreen_command_time_limit=%ds; postfix reload); a client that passed the deep protocol tests, or is listed in postscreen_access_list, talks to smtpd (smtpd_timeout)", secs)
	case SoftwareExim:
		return fmt.Sprintf("Exim: smtp_receive_timeout = %ds in the main configuration, then restart Exim", secs)
	case SoftwareSendmail:
		if isDataPhase(phase) {
			return fmt.Sprintf("sendmail: define(`confTO_DATABLOCK', `%ds') in sendmail.mc (O Timeout.datablock=%ds in sendmail.cf), then rebuild sendmail.cf and restart sendmail", secs, secs)
		}
		return fmt.Sprintf("sendmail: define(`confTO_COMMAND', `%ds') in sendmail.mc (O Timeout.command=%ds in sendmail.cf), then rebuild sendmail.cf and restart sendmail", secs, secs)
	case SoftwareOpenSMTPD:
		return fmt.Sprintf("OpenSMTPD: its session timeout is fixed at %s when it is compiled (SMTPD_SESSION_TIMEOUT); no setting changes it", units.Setting(OpenSMTPDTimeout))
	case SoftwareExchange:
		return fmt.Sprintf("Exchange: Set-ReceiveConnector -Identity <connector> -ConnectionInactivityTimeout %s (and -ConnectionTimeout above it)", hms(secs))
	case SoftwareM365:
		return "Microsoft 365: Exchange Online sets its own connection timeouts; no tenant setting changes them"
	}
	what := "the next command"
	if isDataPhase(phase) {
		what = "message data"
	}
	return fmt.Sprintf("raise the server's idle timeout for %s to %ds (the setting's name depends on its software)", what, secs)
}

// hms renders seconds as Exchange's hh:mm:ss time span.
func hms(secs int) string {
	return fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
}

// isDataPhase reports whether the server waits for message data at phase
// (after the 354, or between body chunks), not for a command.
func isDataPhase(phase string) bool { return phase == "data" || phase == "body" }
