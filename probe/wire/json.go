package wire

import (
	"encoding/json"

	"github.com/smtpprobe/smtpprobe/probe/units"
)

// Durations are in milliseconds on the wire (units.MS), as in the rest of
// the JSON document.

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
	return json.Marshal(tcpStatsJSON{RTTMS: units.MS(s.RTT), RTOMS: units.MS(s.RTO), tcpStatsPlain: &p})
}

// UnmarshalJSON reads the stats as MarshalJSON writes them.
func (s *TCPStats) UnmarshalJSON(b []byte) error {
	w := tcpStatsJSON{tcpStatsPlain: (*tcpStatsPlain)(s)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	s.RTT, s.RTO = units.FromMS(w.RTTMS), units.FromMS(w.RTOMS)
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
	e.At = units.FromMS(w.TMS)
	if w.LastMS != nil {
		e.Last = units.FromMS(*w.LastMS)
	}
	return nil
}
