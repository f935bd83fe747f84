package mtu

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPacer: a destination never noted needs no wait; a note makes the
// next run wait the rest of PTBInterval, and not beyond it, per
// destination; an unreadable state says so (ok false) instead of "no
// wait"; a torn file reads as never.
func TestPacer(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	p := Pacer{Dir: dir, Now: func() time.Time { return now }}
	a, b := netip.MustParseAddr("198.18.3.10"), netip.MustParseAddr("2001:db8:3::10")
	if w, ok := p.Wait(a); !ok || w != 0 {
		t.Fatalf("never noted: Wait = %v, %v; want 0, true", w, ok)
	}
	if err := p.Note(a); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after time.Duration
		dst   netip.Addr
		want  time.Duration
	}{
		{0, a, PTBInterval},
		{200 * time.Millisecond, a, PTBInterval - 200*time.Millisecond},
		{PTBInterval, a, 0},
		{time.Hour, a, 0},
		{-time.Hour, a, PTBInterval}, // the clock stepped back: bounded
		{0, b, 0},                    // another destination
	} {
		p.Now = func() time.Time { return now.Add(tc.after) }
		if w, ok := p.Wait(tc.dst); !ok || w != tc.want {
			t.Errorf("%v after the note, %s: Wait = %v, %v; want %v, true", tc.after, tc.dst, w, ok, tc.want)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("state dir holds %d entries; want the one file (no temporaries left)", len(ents))
	}
	if err := os.WriteFile(p.file(b), []byte("2026-12-07T12:0"), 0o600); err != nil {
		t.Fatal(err)
	}
	if w, ok := p.Wait(b); !ok || w != 0 {
		t.Errorf("torn file: Wait = %v, %v; want 0, true", w, ok)
	}
	if os.Geteuid() != 0 { // root reads anything
		bad := Pacer{Dir: filepath.Join(dir, "locked")}
		if err := os.Mkdir(bad.Dir, 0o000); err != nil {
			t.Fatal(err)
		}
		if _, ok := bad.Wait(a); ok {
			t.Errorf("unreadable state dir: Wait ok = true; want false (unknown)")
		}
	}
	file := Pacer{Dir: filepath.Join(dir, "f")}
	if err := os.WriteFile(file.Dir, nil, 0o600); err != nil { // a file where the dir should be
		t.Fatal(err)
	}
	if _, ok := file.Wait(a); ok {
		t.Errorf("state dir is a file: Wait ok = true; want false (unknown)")
	}
	if err := file.Note(a); err == nil {
		t.Errorf("state dir is a file: Note = nil; want an error")
	}
}
