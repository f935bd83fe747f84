package exporter

import (
	"strings"
	"testing"
	"time"
)

func TestProbeTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		offset time.Duration
		want   time.Duration
		err    bool
	}{
		{"", 500 * time.Millisecond, 10 * time.Second, false},
		{"10", 500 * time.Millisecond, 9500 * time.Millisecond, false},
		{"1.5", 500 * time.Millisecond, time.Second, false},
		{"1", 0, time.Second, false},
		{"0.6", 500 * time.Millisecond, 300 * time.Millisecond, false}, // at least half of the scrape timeout
		{"0.5", 500 * time.Millisecond, 250 * time.Millisecond, false},
		{"0.4", 500 * time.Millisecond, 0, true}, // 200ms: below the minimum probe deadline
		{"0.001", 500 * time.Millisecond, 0, true},
		{"1e-300", 0, 0, true},
		{"86400", 500 * time.Millisecond, 10 * time.Minute, false},
		{"1e308", 500 * time.Millisecond, 10 * time.Minute, false},
		{"+Inf", 500 * time.Millisecond, 10 * time.Minute, false},
		{"0", 500 * time.Millisecond, 0, true},
		{"-3", 500 * time.Millisecond, 0, true},
		{"NaN", 500 * time.Millisecond, 0, true},
		{"10s", 500 * time.Millisecond, 0, true},
	}
	for _, tc := range tests {
		got, err := probeTimeout(tc.header, tc.offset)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("probeTimeout(%q, %s) = %s, %v; want %s, error %v", tc.header, tc.offset, got, err, tc.want, tc.err)
		}
	}
}

// FuzzProbeTimeout: any header gives an error or a deadline between the
// minimum and the maximum.
func FuzzProbeTimeout(f *testing.F) {
	for _, s := range []string{"", "10", "0.5", "0", "-1", "NaN", "+Inf", "1e308", "0x1p-2", "1e-300", " 3 ", "10s"} {
		f.Add(s, int64(500*time.Millisecond))
	}
	f.Fuzz(func(t *testing.T, header string, offset int64) {
		off := time.Duration(offset)
		if off < 0 || off >= time.Minute {
			return // smtpprobe serve refuses such offsets
		}
		d, err := probeTimeout(header, off)
		if err != nil {
			if strings.Contains(err.Error(), "\n") || len(err.Error()) > 300 {
				t.Fatalf("probeTimeout(%q) error %q: want one short line", header, err)
			}
			return
		}
		if d < minProbeTimeout || d > maxProbeTimeout {
			t.Fatalf("probeTimeout(%q, %s) = %s, outside [%s, %s]", header, off, d, minProbeTimeout, maxProbeTimeout)
		}
	})
}
