// Package mta knows the receiving mail server's software (issue 18): it
// recognises it from what the server said on the wire (its banner, EHLO
// keywords and reply texts, and how it closed a session: Identify), names
// it, and words a timeout's log line and setting as that software does,
// so that advice is in the administrator's own terms. An unknown server
// stays unknown: nothing here guesses.
//
// It decides nothing about the session; package probe judges what the
// server did and uses these words in its findings.
package mta

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/probe/units"
	"github.com/smtpprobe/smtpprobe/probe/wire"
)

// Software names the receiving server's software, as recognised from what
// it said on the wire (Server).
type Software string

// The software a probe recognises; anything else is SoftwareUnknown.
const (
	SoftwareUnknown    Software = "unknown"
	SoftwarePostfix    Software = "postfix"
	SoftwarePostscreen Software = "postscreen" // Postfix's front door (postscreen(8)), before smtpd
	SoftwareExim       Software = "exim"
	SoftwareSendmail   Software = "sendmail"
	SoftwareOpenSMTPD  Software = "opensmtpd"
	SoftwareExchange   Software = "exchange"      // Microsoft Exchange Server
	SoftwareM365       Software = "microsoft-365" // Exchange Online (Microsoft 365)
)

// Confidence says how sure a recognition is.
type Confidence string

// The confidences of a Server: high when the server names itself (banner)
// or closes with a text only it sends, medium for a keyword or reply text
// only it uses, low for a single weak hint, none for unknown.
const (
	ConfidenceHigh   Confidence = "high"
	ConfidenceMedium Confidence = "medium"
	ConfidenceLow    Confidence = "low"
	ConfidenceNone   Confidence = "none"
)

// Server is the receiving server's software as recognised from evidence
// (JSON "server"). Evidence lists what it was recognised by, in the
// server's own words. An unknown server stays unknown: the probe never
// guesses.
type Server struct {
	Software   Software   `json:"software"`
	Confidence Confidence `json:"confidence"`
	Evidence   []string   `json:"evidence,omitempty"`
}

// Known reports whether the software was recognised.
func (s *Server) Known() bool { return s != nil && s.Software != SoftwareUnknown && s.Software != "" }

// Evidence is what a session saw of a server that can name its
// software.
type Evidence struct {
	Banner     wire.Reply    // the greeting, every line
	BannerWait time.Duration // from connect to the greeting's last line
	EHLO       wire.Reply    // the reply to EHLO, every line
	Replies    []wire.Reply  // the other replies, in order
	Close      *wire.Reply   // the 4yz/5yz the server sent unasked when it ended the session
	// FINAfter is how long an idle session lasted before the server
	// closed it with a bare FIN, without a reply (timeout); 0 for none.
	FINAfter time.Duration
}

// hint is one piece of evidence for a software, with its weight: 3 for
// the server naming itself or a text only it sends on a close, 2 for a
// keyword or reply text only it uses, 1 for a weak hint.
type hint struct {
	sw     Software
	weight int
	what   string
}

// serverText is a reply text (or banner word) that only one software sends,
// with the weight it carries.
type serverText struct {
	sw     Software
	weight int
	text   string
}

// bannerNames are the words a banner names its software by (the default
// banners: Postfix's "$myhostname ESMTP $mail_name", Exim's "ESMTP Exim
// $version_number", sendmail's "ESMTP Sendmail $v/$Z", OpenSMTPD's "ESMTP
// OpenSMTPD", Exchange's "Microsoft ESMTP MAIL Service ready at").
var bannerNames = []serverText{
	{SoftwarePostfix, 3, "Postfix"},
	{SoftwareExim, 3, "Exim"},
	{SoftwareSendmail, 3, "Sendmail"},
	{SoftwareOpenSMTPD, 3, "OpenSMTPD"},
	{SoftwareExchange, 3, "Microsoft ESMTP MAIL Service"},
}

// replyTexts are reply texts only one software sends: the closes of an
// idle session and the replies to MAIL, RCPT, DATA and QUIT, as the
// servers word them by default.
var replyTexts = []serverText{
	{SoftwarePostfix, 3, "Error: timeout exceeded"},                         // smtpd's 421 4.4.2 on smtpd_timeout
	{SoftwarePostfix, 2, "End data with <CR><LF>.<CR><LF>"},                 // 354
	{SoftwareExim, 3, "SMTP command timeout - closing connection"},          // 421 on smtp_receive_timeout
	{SoftwareExim, 3, "SMTP incoming data timeout - closing connection"},    // 421 in DATA
	{SoftwareExim, 2, `Enter message, ending with "." on a line by itself`}, // 354
	{SoftwareSendmail, 2, "... Sender ok"},                                  // 250 2.1.0 <a>... Sender ok
	{SoftwareSendmail, 2, "... Recipient ok"},                               // 250 2.1.5 <a>... Recipient ok
	{SoftwareSendmail, 2, "collect: "},                                      // 421 4.4.1 ... collect: read timeout
	{SoftwareOpenSMTPD, 2, "Destination address valid"},                     // 250 2.1.5 Destination address valid: Recipient ok
	{SoftwareExchange, 3, "Timeout waiting for client input"},               // 451 4.7.0 on ConnectionInactivityTimeout
	{SoftwareExchange, 2, "Start mail input; end with <CRLF>.<CRLF>"},       // 354
	{SoftwarePostscreen, 2, "Service currently unavailable"},                // 450 4.3.2 after the after-220 tests
}

// ehloKeywords are EHLO keywords (RFC 5321 §4.1.1.1) that only one
// software offers.
var ehloKeywords = []serverText{
	{SoftwareExim, 2, "PIPECONNECT"},        // Exim 4.93+ (early pipelining)
	{SoftwareExim, 2, "X_PIPE_CONNECT"},     // Exim 4.92's experimental name
	{SoftwareSendmail, 2, "DELIVERBY"},      // RFC 2852, sendmail's
	{SoftwareExchange, 2, "X-ANONYMOUSTLS"}, // Exchange's
	{SoftwareExchange, 2, "XEXCH50"},
	{SoftwareExchange, 2, "XRDST"},
	{SoftwareExchange, 2, "XSHADOWREQUEST"},
	{SoftwareExchange, 1, "X-EXPS"},
}

// Identify recognises a server's software from the evidence. The
// weights of each software's hints add up; the heaviest wins, and a tie
// between two softwares, or no hint at all, is unknown. Microsoft 365 is
// Exchange whose greeting comes from an outlook.com host; postscreen is
// Postfix whose greeting has postscreen's "220-" teaser (the same line
// repeated, the last one after postscreen_greet_wait) or that deferred
// with 450 4.3.2.
func Identify(ev Evidence) Server {
	var hints []hint
	add := func(sw Software, w int, format string, a ...any) {
		hints = append(hints, hint{sw, w, fmt.Sprintf(format, a...)})
	}
	if ev.Banner.Code != 0 {
		text := strings.Join(ev.Banner.Lines, " ")
		for _, n := range bannerNames {
			if containsWord(text, n.text) {
				add(n.sw, n.weight, "banner %q names %s", firstLine(ev.Banner), n.text)
			}
		}
		if host := bannerHost(ev.Banner); isOutlookHost(host) {
			add(SoftwareM365, 4, "greeting from %s, an Exchange Online host", host)
		}
		if Teaser(ev.Banner) {
			w := 4
			if ev.BannerWait < time.Second {
				w = 2 // the teaser without postscreen_greet_wait's pause
			}
			add(SoftwarePostscreen, w, "%q teaser before the final 220 (after %s): postscreen's pre-greet test", "220-"+ev.Banner.Lines[0], units.Duration(ev.BannerWait))
		}
	}
	if len(ev.EHLO.Lines) > 1 {
		for _, kw := range ehloKeywords {
			if hasKeyword(ev.EHLO, kw.text) {
				add(kw.sw, kw.weight, "EHLO keyword %s", kw.text)
			}
		}
	}
	replies := slices.Clone(ev.Replies)
	if ev.Close != nil {
		replies = append(replies, *ev.Close)
	}
	seen := map[string]bool{}
	for _, rp := range replies {
		for _, rt := range replyTexts {
			if seen[rt.text] || !strings.Contains(rp.Text, rt.text) {
				continue
			}
			if rt.sw == SoftwarePostscreen && !(rp.Code == 450 && rp.Enhanced == "4.3.2") {
				continue
			}
			seen[rt.text] = true
			add(rt.sw, rt.weight, "reply %q", rp.String())
		}
	}
	// postscreen's engine hides PIPELINING for its pipelining test
	// (postscreen_pipelining_enable); a Postfix without it is most
	// likely postscreen, once its pre-greet test passed and it sends no
	// teaser any more. Only a Postfix hint makes it one.
	if len(ev.EHLO.Lines) > 1 && !hasKeyword(ev.EHLO, "PIPELINING") && slices.ContainsFunc(hints, func(h hint) bool { return h.sw == SoftwarePostfix }) {
		add(SoftwarePostscreen, 1, "a Postfix whose EHLO offers no PIPELINING, as postscreen's deep protocol tests do")
	}
	// A bare FIN after 300 s idle is OpenSMTPD's compiled-in session
	// timeout (SMTPD_SESSION_TIMEOUT); alone, a weak hint.
	if d := ev.FINAfter - OpenSMTPDTimeout; ev.FINAfter > 0 && max(d, -d) <= TimerTolerance(OpenSMTPDTimeout) {
		add(SoftwareOpenSMTPD, 1, "a bare FIN after %s idle, OpenSMTPD's fixed session timeout", units.Duration(ev.FINAfter))
	}
	return weigh(hints)
}

// weigh turns hints into a Server: the heaviest software wins.
// postscreen and Microsoft 365 are refinements of Postfix and Exchange,
// so their hints add to theirs and not the other way round.
func weigh(hints []hint) Server {
	score := map[Software]int{}
	for _, h := range hints {
		score[h.sw] += h.weight
	}
	own := maps.Clone(score) // a refinement's confidence rests on its own evidence
	// A refinement wins over its base when it has its own evidence, and
	// takes the base's evidence along.
	for _, ref := range []struct{ sub, base Software }{{SoftwarePostscreen, SoftwarePostfix}, {SoftwareM365, SoftwareExchange}} {
		if score[ref.sub] > 0 {
			score[ref.sub] += score[ref.base]
			delete(score, ref.base)
		}
	}
	best, top, tie := SoftwareUnknown, 0, false
	for sw, s := range score {
		switch {
		case s > top:
			best, top, tie = sw, s, false
		case s == top:
			tie = true
		}
	}
	if top == 0 || tie {
		return Server{Software: SoftwareUnknown, Confidence: ConfidenceNone}
	}
	srv := Server{Software: best}
	for _, h := range hints {
		if h.sw == best || (best == SoftwarePostscreen && h.sw == SoftwarePostfix) || (best == SoftwareM365 && h.sw == SoftwareExchange) {
			srv.Evidence = append(srv.Evidence, h.what)
		}
	}
	if best == SoftwarePostscreen || best == SoftwareM365 {
		top = own[best]
	}
	switch {
	case top >= 3:
		srv.Confidence = ConfidenceHigh
	case top == 2:
		srv.Confidence = ConfidenceMedium
	default:
		srv.Confidence = ConfidenceLow
	}
	return srv
}

// Teaser reports whether a greeting is postscreen's: a multi-line 220
// whose first line (sent as "220-" at once) is repeated as its last.
func Teaser(banner wire.Reply) bool {
	n := len(banner.Lines)
	return banner.Code == 220 && n >= 2 && strings.TrimSpace(banner.Lines[0]) == strings.TrimSpace(banner.Lines[n-1])
}

// bannerHost is the first word of the greeting: the server's name (RFC
// 5321 §4.3.1, "220 <domain> ...").
func bannerHost(banner wire.Reply) string {
	if len(banner.Lines) == 0 {
		return ""
	}
	f := strings.Fields(banner.Lines[len(banner.Lines)-1])
	if len(f) == 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(f[0], "."))
}

// isOutlookHost reports whether host is one of Exchange Online's
// (*.outlook.com, as in "mail.protection.outlook.com").
func isOutlookHost(host string) bool {
	return strings.HasSuffix(host, ".outlook.com")
}

func firstLine(rp wire.Reply) string {
	if len(rp.Lines) == 0 {
		return rp.String()
	}
	return fmt.Sprintf("%d %s", rp.Code, rp.Lines[len(rp.Lines)-1])
}

// containsWord reports whether word occurs in s on word boundaries
// ("Exim" in "ESMTP Exim 4.96", not in "Eximious").
func containsWord(s, word string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], word)
		if j < 0 {
			return false
		}
		j += i
		before := j == 0 || !isWordByte(s[j-1])
		end := j + len(word)
		after := end == len(s) || !isWordByte(s[end])
		if before && after {
			return true
		}
		i = j + 1
	}
}

func isWordByte(b byte) bool {
	return b == '_' || b == '-' || ('0' <= b && b <= '9') || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z')
}

// EvidenceOf gathers what the dialogue's timeline shows of the server.
func EvidenceOf(events []wire.Event) Evidence {
	var ev Evidence
	lastSent := ""
	for _, e := range events {
		switch e.Kind {
		case wire.EvSend:
			lastSent = e.Text
		case wire.EvReply:
			if e.Reply == nil {
				continue
			}
			switch {
			case ev.Banner.Code == 0 && lastSent == "":
				ev.Banner, ev.BannerWait = *e.Reply, e.At
			case strings.HasPrefix(strings.ToUpper(lastSent), "EHLO") && ev.EHLO.Code == 0:
				ev.EHLO = *e.Reply
			default:
				ev.Replies = append(ev.Replies, *e.Reply)
			}
		case wire.EvUnsolicited:
			if e.Reply != nil && !e.Reply.OK() && ev.Close == nil {
				rc := *e.Reply
				ev.Close = &rc
			}
		}
	}
	return ev
}

// hasKeyword reports whether an EHLO reply lists keyword (RFC 5321
// §4.1.1.1), which is given upper-case.
func hasKeyword(ehlo wire.Reply, keyword string) bool {
	for _, l := range ehlo.Lines[1:] {
		if kw, _, _ := strings.Cut(strings.TrimSpace(l), " "); strings.ToUpper(kw) == keyword {
			return true
		}
	}
	return false
}
