package assess

import "testing"

// FuzzParseThresholds: ParseThresholds never panics, and what it accepts
// prints (String) as text it reads back to the same thresholds.
func FuzzParseThresholds(f *testing.F) {
	for _, s := range []string{
		"", " ", "time=2s", "time=2s,timeout=300s,mtu=1400,cert=14", "timeout=1h30m", "mtu=65535", "cert=0",
		"time=-1s", "time=1.5us", "time=9223372036854775807ns", "speed=1", "time", "time=", "=1", ",", "mtu=1400,,cert=1",
		" time = 2s ", "time=2s,time=3s", "cert=65536", "mtu=0x10", "time=1e3s", "timeout=\xff", "time=2s\n,cert=7",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThresholds(s)
		if err != nil {
			if err.Error() == "" {
				t.Errorf("ParseThresholds(%q) error is empty", s)
			}
			return
		}
		out := th.String()
		again, err := ParseThresholds(out)
		if err != nil || again != th {
			t.Errorf("ParseThresholds(%q) = %+v; ParseThresholds(String() = %q) = %+v, %v; want the same", s, th, out, again, err)
		}
		if again.String() != out {
			t.Errorf("Thresholds.String() of %q = %q, then %q; want it stable", s, out, again.String())
		}
	})
}
