package wire

import "testing"

func TestParseHelloNotHello(t *testing.T) {
	for _, b := range [][]byte{nil, {22, 3, 1}, {23, 3, 3, 0, 5, 1, 0, 0, 0}, RecordStart(64), {22, 3, 1, 0, 4, 1, 0, 0, 0}} {
		if _, err := ParseHello(b); err == nil {
			t.Errorf("ParseHello(% x) = nil error, want ErrNotHello", b)
		}
	}
	if isHelloStart(RecordStart(2000)) {
		t.Errorf("RecordStart begins a ClientHello; the full-size check must not")
	}
}

func TestValidTLSGroups(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{{"", true}, {"pq", true}, {"classical", true}, {"default", true}, {"PQ", false}, {"x25519", false}} {
		if got := ValidTLSGroups(tc.in); got != tc.want {
			t.Errorf("ValidTLSGroups(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
