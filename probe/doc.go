// Package probe runs SMTP sessions that see the wire: every command and
// reply is timestamped from connect, a reply, FIN or RST that arrives while
// the probe is idle is noticed when it happens, and every outcome falls into
// one fixed taxonomy (see Outcome).
//
// The dialogue layer (Conn) is deliberately not go-smtp's Client: that client
// clears its deadlines around every command, takes no context and chooses its
// own EHLO name. Conn reads replies in a background goroutine so that an
// unsolicited "421 4.4.2" during a pause is seen at the millisecond it
// arrives, and the higher layers (mx checks, scripted transactions, timeout
// discovery, MTU bracketing) drive it step by step.
//
// Failed probes are fields of a Result, not errors; errors returned by this
// package are for misuse and cancellation.
package probe
