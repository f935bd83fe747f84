package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress prints elapsed time on stderr during long runs, only when
// stderr is a terminal (DESIGN §3), and never on stdout.
type progressLine struct {
	once sync.Once
	done chan struct{}
	wg   sync.WaitGroup
}

func newProgress(w io.Writer, what string) *progressLine {
	p := &progressLine{done: make(chan struct{})}
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
		for {
			select {
			case <-p.done:
				fmt.Fprint(f, "\r\033[K")
				return
			case now := <-t.C:
				fmt.Fprintf(f, "\r\033[K%s (%s)", what, now.Sub(start).Round(time.Second))
			}
		}
	}()
	return p
}

func (p *progressLine) stop() {
	if p == nil {
		return
	}
	p.once.Do(func() { close(p.done) })
	p.wg.Wait()
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
