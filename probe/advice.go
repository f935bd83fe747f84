package probe

import (
	"fmt"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// RFCDataBlockTimeout is the least time a server should wait for each
// block of message data: RFC 5321 §4.5.3.2.6, "DATA Block Timeout: 3
// minutes" (the sender's limit for each block, which the receiver must
// not undercut).
const RFCDataBlockTimeout = 3 * time.Minute

// OpenSMTPDTimeout is OpenSMTPD's session timeout, fixed when it is
// compiled (SMTPD_SESSION_TIMEOUT in smtpd.h).
const OpenSMTPDTimeout = 300 * time.Second

// rfcIdleMinimum is what RFC 5321 §4.5.3.2 asks a server to wait at an
// idle phase: 3 minutes for message data (after the 354 and between data
// blocks, §4.5.3.2.6), 5 minutes for the next command (§4.5.3.2.7).
func rfcIdleMinimum(phase string) time.Duration {
	if isDataPhase(phase) {
		return RFCDataBlockTimeout
	}
	return rFCServerTimeout
}

// rfcSection is the section of RFC 5321 behind rfcIdleMinimum(phase).
func rfcSection(phase string) string {
	if isDataPhase(phase) {
		return "RFC 5321 §4.5.3.2.6 (3 minutes per data block)"
	}
	return "RFC 5321 §4.5.3.2.7 (5 minutes for the next command)"
}

// isDataPhase reports whether the server waits for message data at phase
// (after the 354, or between body chunks), not for a command.
func isDataPhase(phase string) bool { return phase == "data" || phase == "body" }

// timerTolerance is how far a measured timeout may fall short of a
// server's configured one: max(100 ms, 1 %). The server starts its timer
// when it has read the last bytes, a little before the probe notes them,
// so OpenSMTPD's fixed 300 s measures 299.997 s.
func timerTolerance(d time.Duration) time.Duration {
	return max(100*time.Millisecond, d/100)
}

// belowRFC reports whether a measured idle timeout at phase is below RFC
// 5321 §4.5.3.2's minimum, beyond the timer's tolerance.
func belowRFC(idle time.Duration, phase string) bool {
	m := rfcIdleMinimum(phase)
	return idle < m-timerTolerance(m)
}

// pausePhase is the idle phase a sender pause falls in.
func pausePhase(p wire.Pause) string {
	switch p {
	case wire.PauseBeforeData:
		return "rcpt"
	case wire.PauseAfterData:
		return "data"
	case wire.ChunkPause:
		return "body"
	}
	return ""
}

// serverLog is the line the server logs when its idle timer fires at
// phase, in its own words; "" where the probe does not know the line
// (an unknown server, or one whose line is not documented), so that no
// log line is ever claimed for a server that does not write it.
func serverLog(sw Software, phase string, lc logContext) string {
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

// logContext is what a server's log line names of the session: the
// client's address (without brackets) and port, its EHLO name, the
// envelope sender and the body bytes sent.
type logContext struct {
	Client, Helo, From string
	Port, Bytes        int
}

// ServerName is how a finding or a report names the software ("Exim",
// "Microsoft 365"; "the server" when unknown).
func ServerName(sw Software) string {
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

// adviceMinimum is the least value to advise for the server's timer at
// phase: RFC 5321 §4.5.3.2's minimum for the phase where the server has a
// timer of its own for message data (sendmail's Timeout.datablock), and
// the 5 minutes for commands otherwise, since one setting (smtpd_timeout,
// smtp_receive_timeout...) then governs commands and data alike and a
// lower value would break §4.5.3.2.7 for commands.
func adviceMinimum(sw Software, phase string) string {
	if sw == SoftwareSendmail {
		return phase
	}
	return "rcpt"
}

// advisedTimeout is the server idle timeout to advise for sw at phase for
// a sender pause: the headroom rule of advisedServerTimeout, but never
// less than RFC 5321 §4.5.3.2's minimum (adviceMinimum). It also says how
// it relates to that minimum.
func advisedTimeout(sw Software, phase string, pause time.Duration) (secs int, why string) {
	phase = adviceMinimum(sw, phase)
	rfc := rfcIdleMinimum(phase)
	need := advisedServerTimeout(pause)
	rfcSecs := int(rfc / time.Second)
	if need <= rfcSecs {
		return rfcSecs, fmt.Sprintf("the minimum of %s, which also covers the %s pause", rfcSection(phase), fmtDur(pause))
	}
	return need, fmt.Sprintf("%ds more than the minimum of %s, for the %s pause with a third of headroom", need-rfcSecs, rfcSection(phase), fmtDur(pause))
}

// raiseAdvice tells how to raise the server's idle timeout at phase to
// secs seconds, in the server's own words (its setting and how to apply
// it), or neutrally for an unknown server.
func raiseAdvice(sw Software, phase string, secs int) string {
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

// pauseAdvice is the part of a pause-exceeds-server-timeout finding that
// says how to fix the server side: the advised timeout (never below RFC
// 5321 §4.5.3.2, and how much above it the pause needs) in the server's
// words. For OpenSMTPD, whose timeout cannot change, it says so.
func pauseAdvice(sw Software, phase string, pause time.Duration) string {
	secs, why := advisedTimeout(sw, phase, pause)
	if sw == SoftwareOpenSMTPD {
		return raiseAdvice(sw, phase, secs) + "; keep the pause below it"
	}
	return fmt.Sprintf("or raise the server's timeout to %ds, %s (%s)", secs, why, raiseAdvice(sw, phase, secs))
}

// belowRFCAdvice is the advice of a server-timeout-below-rfc finding: the
// RFC minimum for phase, in the server's words.
func belowRFCAdvice(sw Software, phase string) string {
	secs := int(rfcIdleMinimum(adviceMinimum(sw, phase)) / time.Second)
	return raiseAdvice(sw, phase, secs)
}
