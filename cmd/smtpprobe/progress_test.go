package main

import (
	"bytes"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	p := startProgress(&bytes.Buffer{}, "timeout: waiting", "phase", 0, 10*time.Minute)
	defer p.stop()
	if got, want := p.line(65*time.Second), "timeout: waiting: 65s of 10m"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	p.set(2, 6)
	if got, want := p.line(3*time.Second), "timeout: waiting: 2/6 phases done, 3s of 10m"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	c := startProgress(&bytes.Buffer{}, "check", "check", 1, 0)
	c.add()
	if got, want := c.line(time.Second), "check: 1/1 check done, 1s"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	c.stop()
	m := startProgress(&bytes.Buffer{}, "mx: probing example.com", "address", 0, 0)
	defer m.stop()
	if got, want := m.line(time.Second), "mx: probing example.com: 1s"; got != want {
		t.Errorf("line = %q, want %q (no count before DNS answers)", got, want)
	}
	m.set(2, 4)
	if got, want := m.line(2*time.Second), "mx: probing example.com: 2/4 addresses done, 2s"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
}
