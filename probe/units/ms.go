package units

import (
	"math"
	"time"
)

// The JSON document (README, "JSON") gives every duration in milliseconds,
// under a name ending in _ms: fractional milliseconds rounded to the
// microsecond. The engine's model keeps time.Duration; its JSON methods
// convert with these.

// MS converts a duration to milliseconds rounded to the microsecond.
func MS(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}

// FromMS converts milliseconds, as MS writes them, back to a duration, to
// the nanosecond.
func FromMS(m float64) time.Duration {
	return time.Duration(math.Round(m * float64(time.Millisecond)))
}

// MSPtr is MS of *d; nil stays nil.
func MSPtr(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	m := MS(*d)
	return &m
}

// FromMSPtr is FromMS of *m; nil stays nil.
func FromMSPtr(m *float64) *time.Duration {
	if m == nil {
		return nil
	}
	d := FromMS(*m)
	return &d
}

// MSMap is MS of every value of m; nil stays nil.
func MSMap(m map[string]time.Duration) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, d := range m {
		out[k] = MS(d)
	}
	return out
}

// FromMSMap is FromMS of every value of m; nil stays nil.
func FromMSMap(m map[string]float64) map[string]time.Duration {
	if m == nil {
		return nil
	}
	out := make(map[string]time.Duration, len(m))
	for k, v := range m {
		out[k] = FromMS(v)
	}
	return out
}
