package units

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0.000ms"},
		{318 * time.Microsecond, "0.318ms"},
		{999600 * time.Nanosecond, "1.00ms"},
		{2200 * time.Microsecond, "2.20ms"},
		{9996 * time.Microsecond, "10.0ms"},
		{12340 * time.Microsecond, "12.3ms"},
		{99960 * time.Microsecond, "100ms"},
		{512 * time.Millisecond, "512ms"},
		{999499 * time.Microsecond, "999ms"},
		{999600 * time.Microsecond, "1.000s"},
		{time.Second, "1.000s"},
		{5002 * time.Millisecond, "5.002s"},
		{8006 * time.Millisecond, "8.006s"},
		{19999999790 * time.Nanosecond, "20.000s"},
		{5 * time.Minute, "300.000s"},
		{-2 * time.Millisecond, "-2.00ms"},
	} {
		got := Duration(tc.d)
		if got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
		// One spelling: what a person reads is what a flag takes.
		if back, err := time.ParseDuration(got); err != nil {
			t.Errorf("Duration(%v) = %q, which time.ParseDuration does not read: %v", tc.d, got, err)
		} else if diff := (back - tc.d).Abs(); diff > max(tc.d.Abs()/200, 500*time.Microsecond) {
			t.Errorf("Duration(%v) = %q reads back as %v, off by %v", tc.d, got, back, diff)
		}
	}
}

func TestSetting(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{250 * time.Millisecond, "250ms"},
		{time.Second, "1s"},
		{1500 * time.Millisecond, "1.5s"},
		{60 * time.Second, "60s"},
		{90 * time.Second, "90s"},
		{5 * time.Minute, "300s"},
		{10 * time.Minute, "10m"},
		{time.Hour, "1h"},
		{1500 * time.Microsecond, "1.5ms"},
	} {
		got := Setting(tc.d)
		if got != tc.want {
			t.Errorf("Setting(%v) = %q, want %q", tc.d, got, tc.want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != tc.d {
			t.Errorf("Setting(%v) = %q does not parse back (%v, %v)", tc.d, got, back, err)
		}
	}
}

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n          int
		noun, want string
		plural     []string
	}{
		{0, "round", "0 rounds", nil},
		{1, "round", "1 round", nil},
		{12, "session", "12 sessions", nil},
		{2, "address", "2 addresses", []string{"addresses"}},
	} {
		if got := Count(tc.n, tc.noun, tc.plural...); got != tc.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
}

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {10 << 20, "10.0 MiB"},
	} {
		if got := Bytes(tc.n); got != tc.want {
			t.Errorf("Bytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
