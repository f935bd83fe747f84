package probe

import (
	"fmt"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/mta"
)

// rfcDataBlockTimeout is the least time a server should wait for each
// block of message data: RFC 5321 §4.5.3.2.6, "DATA Block Timeout: 3
// minutes" (the sender's limit for each block, which the receiver must
// not undercut).
const rfcDataBlockTimeout = 3 * time.Minute

// rfcIdleMinimum is what RFC 5321 §4.5.3.2 asks a server to wait at an
// idle phase: 3 minutes for message data (after the 354 and between data
// blocks, §4.5.3.2.6), 5 minutes for the next command (§4.5.3.2.7).
func rfcIdleMinimum(phase string) time.Duration {
	if isDataPhase(phase) {
		return rfcDataBlockTimeout
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

// belowRFC reports whether a measured idle timeout at phase is below RFC
// 5321 §4.5.3.2's minimum, beyond the timer's tolerance.
func belowRFC(idle time.Duration, phase string) bool {
	m := rfcIdleMinimum(phase)
	return idle < m-mta.TimerTolerance(m)
}

// adviceMinimum is the least value to advise for the server's timer at
// phase: RFC 5321 §4.5.3.2's minimum for the phase where the server has a
// timer of its own for message data (sendmail's Timeout.datablock), and
// the 5 minutes for commands otherwise, since one setting (smtpd_timeout,
// smtp_receive_timeout...) then governs commands and data alike and a
// lower value would break §4.5.3.2.7 for commands.
func adviceMinimum(sw mta.Software, phase string) string {
	if sw == mta.SoftwareSendmail {
		return phase
	}
	return "rcpt"
}

// advisedTimeout is the server idle timeout to advise for sw at phase for
// a sender pause: the headroom rule of advisedServerTimeout, but never
// less than RFC 5321 §4.5.3.2's minimum (adviceMinimum). It also says how
// it relates to that minimum.
func advisedTimeout(sw mta.Software, phase string, pause time.Duration) (secs int, why string) {
	phase = adviceMinimum(sw, phase)
	rfc := rfcIdleMinimum(phase)
	need := advisedServerTimeout(pause)
	rfcSecs := int(rfc / time.Second)
	if need <= rfcSecs {
		return rfcSecs, fmt.Sprintf("the minimum of %s, which also covers the %s pause", rfcSection(phase), fmtDur(pause))
	}
	return need, fmt.Sprintf("%ds more than the minimum of %s, for the %s pause with a third of headroom", need-rfcSecs, rfcSection(phase), fmtDur(pause))
}

// pauseAdvice is the part of a pause-exceeds-server-timeout finding that
// says how to fix the server side: the advised timeout (never below RFC
// 5321 §4.5.3.2, and how much above it the pause needs) in the server's
// words. For OpenSMTPD, whose timeout cannot change, it says so.
func pauseAdvice(sw mta.Software, phase string, pause time.Duration) string {
	secs, why := advisedTimeout(sw, phase, pause)
	if sw == mta.SoftwareOpenSMTPD {
		return mta.RaiseAdvice(sw, phase, secs) + "; keep the pause below it"
	}
	return fmt.Sprintf("or raise the server's timeout to %ds, %s (%s)", secs, why, mta.RaiseAdvice(sw, phase, secs))
}

// belowRFCAdvice is the advice of a server-timeout-below-rfc finding: the
// RFC minimum for phase, in the server's words.
func belowRFCAdvice(sw mta.Software, phase string) string {
	secs := int(rfcIdleMinimum(adviceMinimum(sw, phase)) / time.Second)
	return mta.RaiseAdvice(sw, phase, secs)
}
