package mtu

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PTBInterval is how long a router that rate-limits the ICMP errors it
// sends may stay silent after sending one: RFC 1812 §4.3.2.8 and RFC 4443
// §2.4(f) ask routers to limit them, Cisco's default is one unreachable
// per 500 ms, and the lab's ptb-limit switch allows two a second with a
// burst of one. It is 500 ms and a margin.
const PTBInterval = 550 * time.Millisecond

// Pacer remembers, across runs and processes, when a run last drew a
// frag-needed / packet-too-big from the path towards a destination. A
// router's ICMP token bucket is the only state on the path that a run
// cannot read: if the previous run took the last token a moment ago, the
// next run's oversized packets may get no ICMP for up to PTBInterval, and
// that silence would read as a black hole. A run that begins at least
// PTBInterval after the last ICMP any run of ours drew (Recent) meets the
// routers' buckets as full as our own traffic left them, so its first
// oversized packet is answered unless ICMP is really lost: a clean
// search's silence is then evidence, with no patient probe. A run that
// begins sooner keeps the patient confirmation. Tokens taken by other
// hosts' traffic through the same router are not known to the Pacer; a
// path that busy loses ICMP for real senders too.
//
// The state is one file per destination and network namespace (the path
// belongs to the namespace's routes), holding the time as RFC 3339, in
// Dir. Errors reading it mean "unknown", and callers then keep their
// patient confirmation.
type Pacer struct {
	// Dir holds the state; "" means DefaultPaceDir().
	Dir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultPaceDir is systemd's $RUNTIME_DIRECTORY (RuntimeDirectory= in
// the unit), else /run/smtpprobe for root, else
// $XDG_RUNTIME_DIR/smtpprobe, else a per-user directory under
// os.TempDir().
func DefaultPaceDir() string {
	if d, _, _ := strings.Cut(os.Getenv("RUNTIME_DIRECTORY"), ":"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/run/smtpprobe"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "smtpprobe")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("smtpprobe-%d", os.Geteuid()))
}

func (p Pacer) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p Pacer) file(dst netip.Addr) string {
	dir := p.Dir
	if dir == "" {
		dir = DefaultPaceDir()
	}
	ns := "host"
	if l, err := os.Readlink("/proc/self/ns/net"); err == nil {
		ns = strings.Trim(strings.TrimPrefix(l, "net:"), "[]")
	}
	name := "ptb-" + ns + "-" + strings.ReplaceAll(dst.Unmap().WithZone("").String(), ":", "_")
	return filepath.Join(dir, name)
}

// Last is when a run last noted an ICMP drawn towards dst (zero: never,
// or long ago). The error is non-nil only when the state cannot be read.
func (p Pacer) Last(dst netip.Addr) (time.Time, error) {
	b, err := os.ReadFile(p.file(dst))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, nil // a torn or foreign file: as if never
	}
	return t, nil
}

// Recent is how long ago a run last noted ICMP drawn towards dst, when
// that was less than PTBInterval ago (recent true); a clock that stepped
// back counts as just now. known is false when the state cannot be read.
func (p Pacer) Recent(dst netip.Addr) (ago time.Duration, recent, known bool) {
	last, err := p.Last(dst)
	if err != nil {
		return 0, false, false
	}
	if last.IsZero() {
		return 0, false, true
	}
	ago = max(p.now().Sub(last), 0)
	return ago, ago < PTBInterval, true
}

// Note records that a run drew ICMP towards dst now. The file is written
// whole and renamed into place, so a reader never sees half of it.
func (p Pacer) Note(dst netip.Addr) error {
	f := p.file(dst)
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f), ".ptb-*")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString(p.now().UTC().Format(time.RFC3339Nano) + "\n")
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), f); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
