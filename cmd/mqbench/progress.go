package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows a run's phase and completion on stderr: redrawn in place
// on a terminal, a line per phase change (and every 10 s) otherwise.
type progress struct {
	w       io.Writer
	label   string
	tty     bool
	start   time.Time
	mu      sync.Mutex
	phase   string
	lastOut time.Time
	drawn   bool
}

func newProgress(w io.Writer, label string) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, label: label, tty: tty, start: time.Now()}
}

// update records the phase and fraction done; safe for concurrent use.
func (p *progress) update(phase string, done float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	elapsed := now.Sub(p.start).Truncate(time.Second)
	line := fmt.Sprintf("[%s] %-10s %3.0f%%  elapsed %s", p.label, phase, done*100, elapsed)
	if done > 0.01 && done < 1 {
		remaining := time.Duration(float64(now.Sub(p.start)) * (1 - done) / done).Truncate(time.Second)
		line += fmt.Sprintf("  ~%s left in this phase", remaining)
	}
	switch {
	case p.tty:
		if now.Sub(p.lastOut) < 200*time.Millisecond && phase == p.phase {
			return
		}
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
	case phase != p.phase || now.Sub(p.lastOut) >= 10*time.Second:
		fmt.Fprintln(p.w, line)
	default:
		return
	}
	p.phase, p.lastOut = phase, now
}

// done ends the display.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
