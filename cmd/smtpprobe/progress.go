package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/smtpprobe/smtpprobe/probe/units"
)

// progress is the one progress line: on stderr, only when stderr is a
// terminal, never on stdout, and only after the first second, so that
// short runs print nothing. It shows what runs, the parts done out of
// total (when total > 0) and the time elapsed out of bound (when bound >
// 0): "timeout: 2/6 phases done, 65s of 10m".
type progress struct {
	what, unit string
	total      atomic.Int64
	bound      time.Duration
	done       atomic.Int64
	stopc      chan struct{}
	once       sync.Once
	wg         sync.WaitGroup
}

func startProgress(w io.Writer, what, unit string, total int, bound time.Duration) *progress {
	p := &progress{what: what, unit: unit, bound: bound, stopc: make(chan struct{})}
	p.total.Store(int64(total))
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return p
	}
	start := time.Now()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		shown := false
		for {
			select {
			case <-p.stopc:
				if shown {
					fmt.Fprint(f, "\r\033[K")
				}
				return
			case now := <-t.C:
				shown = true
				fmt.Fprintf(f, "\r\033[K%s", p.line(now.Sub(start)))
			}
		}
	}()
	return p
}

// line is the progress text after elapsed.
func (p *progress) line(elapsed time.Duration) string {
	s := p.what + ":"
	if total := int(p.total.Load()); total > 0 {
		plural := p.unit + "s"
		if strings.HasSuffix(p.unit, "s") {
			plural = p.unit + "es" // addresses
		}
		s += fmt.Sprintf(" %d/%s done,", p.done.Load(), units.Count(total, p.unit, plural))
	}
	s += " " + units.Setting(elapsed.Round(time.Second))
	if p.bound > 0 {
		s += " of " + units.Setting(p.bound)
	}
	return s
}

// add counts one part done; it may be called from any goroutine.
func (p *progress) add() { p.done.Add(1) }

// set sets the parts done and the total (job.Job.Progress).
func (p *progress) set(done, total int) {
	p.done.Store(int64(done))
	p.total.Store(int64(total))
}

func (p *progress) stop() {
	p.once.Do(func() { close(p.stopc) })
	p.wg.Wait()
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
