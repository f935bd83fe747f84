package probe

import "testing"

func TestWorst(t *testing.T) {
	tests := []struct {
		in   []Outcome
		want Outcome
	}{
		{nil, OK},
		{[]Outcome{OK, OK}, OK},
		{[]Outcome{OK, Rejected}, Rejected},
		{[]Outcome{Refused, OK, ConnectTimeout}, ConnectTimeout},
		{[]Outcome{Reset, NullMX}, NullMX},
	}
	for _, tc := range tests {
		if got := Worst(tc.in...); got != tc.want {
			t.Errorf("Worst(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
