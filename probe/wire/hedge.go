package wire

import (
	"sync"
	"time"
)

// Hedge times the hedged connects of a run's sessions (Dialer.Hedge): when
// a connect's handshake has not completed after Delay, a second connect to
// the same address starts beside it and the first to complete wins.
//
// A lost SYN or SYN-ACK costs the connect Linux's initial retransmission
// timeout of 1 s (RFC 6298 §2.1, TCP_TIMEOUT_INIT), and a run of the mtu
// kind opens dozens of short sessions in rounds that wait for their
// slowest session: under a few per cent of random loss nearly every run
// meets several such seconds. The second connect's SYN costs a few RTTs
// instead. Delay is measured, not fixed: a few times the smallest
// handshake seen in the run (Observe), never below a floor that covers a
// busy host's scheduling, and before any measurement a value well below
// the 1 s timeout. The connect's own timeout (RFC 5321 §4.5.3.2's minimum
// or the run's setting) still bounds the whole Dial, so a slow server gets
// all the time it got without a hedge: the first connect is never
// abandoned for the second, both run until one completes.
//
// The zero value is usable; a Hedge is shared by the sessions of one run
// and safe for concurrent use.
type Hedge struct {
	// Floor is the smallest delay; 0 means HedgeFloor.
	Floor time.Duration
	// Factor times the smallest handshake seen is the delay; 0 means
	// HedgeFactor.
	Factor int
	// Unmeasured is the delay before any handshake was seen; 0 means
	// HedgeUnmeasured.
	Unmeasured time.Duration

	mu     sync.Mutex
	minRTT time.Duration // the smallest handshake seen; 0 while none
	fired  int           // second connects started
	won    int           // of which completed first
}

// The defaults of Hedge's fields.
const (
	HedgeFloor      = 40 * time.Millisecond
	HedgeFactor     = 4
	HedgeUnmeasured = 200 * time.Millisecond
	// hedgeMax: from the initial retransmission timeout on, the kernel
	// sends its own second SYN (RFC 6298 §2.1: 1 s); a hedge that late
	// adds nothing, and none starts.
	hedgeMax = time.Second
)

// Delay is how long a connect waits for its handshake before the second
// connect starts, and false when no second connect is worth starting.
func (h *Hedge) Delay() (time.Duration, bool) {
	h.mu.Lock()
	rtt := h.minRTT
	h.mu.Unlock()
	var d time.Duration
	if rtt == 0 {
		d = orDefault(h.Unmeasured, HedgeUnmeasured)
	} else {
		d = max(orDefault(h.Floor, HedgeFloor), time.Duration(orDefault(h.Factor, HedgeFactor))*rtt)
	}
	return d, d < hedgeMax
}

// orDefault is v, or def when v is zero.
func orDefault[T time.Duration | int](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Observe records a completed handshake that took rtt, from its SYN to the
// connect's return: with no loss on the way, the path's RTT and the
// server's SYN-ACK turnaround.
func (h *Hedge) Observe(rtt time.Duration) {
	if h == nil || rtt <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.minRTT == 0 || rtt < h.minRTT {
		h.minRTT = rtt
	}
}

// started records a second connect; won, that it completed first.
func (h *Hedge) started() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.fired++
	h.mu.Unlock()
}

func (h *Hedge) wonBySecond() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.won++
	h.mu.Unlock()
}

// Stats is how many second connects started, and how many of them
// completed before the connect they hedged.
func (h *Hedge) Stats() (started, won int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fired, h.won
}
