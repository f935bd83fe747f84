package mtu

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPacer: a destination never noted is not recent; a note is recent
// for PTBInterval, per destination, and a clock that stepped back counts
// as just now; an unreadable state says so (known false) instead of "not
// recent"; a torn file reads as never.
func TestPacer(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	p := Pacer{Dir: dir, Now: func() time.Time { return now }}
	a, b := netip.MustParseAddr("198.18.3.10"), netip.MustParseAddr("2001:db8:3::10")
	if _, recent, known := p.Recent(a); recent || !known {
		t.Fatalf("never noted: recent %v, known %v; want false, true", recent, known)
	}
	if err := p.Note(a); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after      time.Duration
		dst        netip.Addr
		wantAgo    time.Duration
		wantRecent bool
	}{
		{0, a, 0, true},
		{200 * time.Millisecond, a, 200 * time.Millisecond, true},
		{PTBInterval - time.Millisecond, a, PTBInterval - time.Millisecond, true},
		{PTBInterval, a, PTBInterval, false},
		{time.Hour, a, time.Hour, false},
		{-time.Hour, a, 0, true}, // the clock stepped back
		{0, b, 0, false},         // another destination
	} {
		p.Now = func() time.Time { return now.Add(tc.after) }
		if ago, recent, known := p.Recent(tc.dst); !known || ago != tc.wantAgo || recent != tc.wantRecent {
			t.Errorf("%v after the note, %s: Recent = %v, %v, %v; want %v, %v, true", tc.after, tc.dst, ago, recent, known, tc.wantAgo, tc.wantRecent)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("state dir holds %d entries; want the one file (no temporaries left)", len(ents))
	}
	if err := os.WriteFile(p.file(b), []byte("2026-12-07T12:0"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, recent, known := p.Recent(b); recent || !known {
		t.Errorf("torn file: recent %v, known %v; want false, true", recent, known)
	}
	if os.Geteuid() != 0 { // root reads anything
		bad := Pacer{Dir: filepath.Join(dir, "locked")}
		if err := os.Mkdir(bad.Dir, 0o000); err != nil {
			t.Fatal(err)
		}
		if _, _, known := bad.Recent(a); known {
			t.Errorf("unreadable state dir: known = true; want false")
		}
	}
	file := Pacer{Dir: filepath.Join(dir, "f")}
	if err := os.WriteFile(file.Dir, nil, 0o600); err != nil { // a file where the dir should be
		t.Fatal(err)
	}
	if _, _, known := file.Recent(a); known {
		t.Errorf("state dir is a file: known = true; want false")
	}
	if err := file.Note(a); err == nil {
		t.Errorf("state dir is a file: Note = nil; want an error")
	}
}

// TestDrewICMPAndClean: what a run notes for the next (DrewICMP) and
// whether its search may be believed without a patient probe (Clean).
func TestDrewICMPAndClean(t *testing.T) {
	zero, some := 0.0, 3.4
	for _, tc := range []struct {
		name  string
		r     Result
		b     Bracket
		drew  bool
		clean bool
	}{
		{"silent, clean", Result{}, Bracket{}, false, true},
		{"a probe's ICMP", Result{ICMPSeen: true}, Bracket{}, true, true},
		{"a datagram's too-big", Result{UDP: &DFCheck{Replies: []DFReply{{Answer: DFArrived}, {Answer: DFTooBig}}}}, Bracket{}, true, true},
		{"datagrams without too-big", Result{UDP: &DFCheck{Replies: []DFReply{{Answer: DFArrived}, {Answer: DFSilent}}}}, Bracket{}, false, true},
		{"no loss measured", Result{LossPct: &zero}, Bracket{}, false, true},
		{"loss on passing probes", Result{LossPct: &some}, Bracket{}, false, false},
		{"noise", Result{}, Bracket{Noise: 1}, false, false},
		{"a blind probe", Result{}, Bracket{Blind: 1}, false, false},
	} {
		if got := tc.r.DrewICMP(); got != tc.drew {
			t.Errorf("%s: DrewICMP = %v, want %v", tc.name, got, tc.drew)
		}
		if got := tc.r.Clean(tc.b); got != tc.clean {
			t.Errorf("%s: Clean = %v, want %v", tc.name, got, tc.clean)
		}
	}
}
