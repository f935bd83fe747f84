package wire

import (
	"encoding/json"
	"math"
	"time"
)

// The JSON document (README, "JSON") gives durations in milliseconds,
// under names ending in _ms, rounded to the microsecond; package probe
// writes the rest of the document the same way.

// ms converts a duration to milliseconds rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}

// fromMS converts milliseconds, as ms writes them, back to a duration,
// to the nanosecond.
func fromMS(m float64) time.Duration {
	return time.Duration(math.Round(m * float64(time.Millisecond)))
}

func ptr[T any](v T) *T { return &v }

// tcpStatsJSON is TCPStats on the wire: the RTT and RTO in milliseconds
// first, then the plain fields.
type tcpStatsJSON struct {
	RTTMS float64 `json:"rtt_ms"`
	RTOMS float64 `json:"rto_ms"`
	*tcpStatsPlain
}

type tcpStatsPlain TCPStats

// MarshalJSON writes the stats with the RTT and RTO in milliseconds.
func (s TCPStats) MarshalJSON() ([]byte, error) {
	p := tcpStatsPlain(s)
	return json.Marshal(tcpStatsJSON{RTTMS: ms(s.RTT), RTOMS: ms(s.RTO), tcpStatsPlain: &p})
}

// UnmarshalJSON reads the stats as MarshalJSON writes them.
func (s *TCPStats) UnmarshalJSON(b []byte) error {
	w := tcpStatsJSON{tcpStatsPlain: (*tcpStatsPlain)(s)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	s.RTT, s.RTO = fromMS(w.RTTMS), fromMS(w.RTOMS)
	return nil
}

// UnmarshalJSON reads an event as MarshalJSON writes it, with its offsets
// from milliseconds.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	w := struct {
		TMS float64 `json:"t_ms"`
		*plain
		LastMS *float64 `json:"last_ms,omitempty"`
	}{plain: (*plain)(e)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	e.At = fromMS(w.TMS)
	if w.LastMS != nil {
		e.Last = fromMS(*w.LastMS)
	}
	return nil
}
