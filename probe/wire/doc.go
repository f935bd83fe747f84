// Package wire is the connection under every SMTP probe: a TCP connection
// that timestamps everything on it and reads the peer's replies as they
// arrive.
//
// Conn is deliberately not go-smtp's Client: that client clears its
// deadlines around every command, takes no context and chooses its own
// EHLO name. Conn reads replies (RFC 5321 §4.2) in a background goroutine,
// judging the bytes one at a time, so that an unsolicited "421 4.4.2"
// during a pause is seen at the millisecond it arrives and the verdict on
// a stream never depends on how TCP cut it into segments. A FIN or RST is
// an event of the timeline when it happens, and an error (ErrClosed,
// ErrReset, *ProtocolViolation) to the next read.
//
// Dialer opens the connection and names a failed connect (*DialError), or
// a failure of this host's own socket layer (*LocalError); DialHost is the
// same allowlisted dial for an HTTP client (an MTA-STS policy fetch).
// HostLimiter bounds the sessions open at once per address. The TCP
// evidence of a stall (evidence.go) samples TCP_INFO through package mtu
// while a STARTTLS handshake or a write blocks, and ends it early with a
// *StallError when our segments or the server's vanish; WaitAcked waits
// until every byte written is acknowledged (*LostError when they vanish).
// HelloConn (hello.go) records the ClientHello a STARTTLS writes, and can
// write it in two segments; ParseHello reads the key shares it offers.
//
// Package probe drives a Conn through the dialogue of each probe kind and
// judges what it saw; this package decides nothing about the server.
package wire
