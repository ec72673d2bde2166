package backlog

import (
	"strings"
	"testing"
	"time"
)

// TestDrainRates asserts the drain rates on constructed runs: the headline
// counts what was received until the consumers caught up, over that time;
// the rate until empty counts everything received until drained (or the
// bound); without a usable catch-up the headline is the rate until empty.
func TestDrainRates(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tests := []struct {
		name          string
		catchUp       time.Time
		recvAtCatch   int64
		until         time.Time
		recvUntil     int64
		wantHeadline  float64
		wantToEmpty   float64
		wantHeadOK    bool
		wantToEmptyOK bool
		wantNote      string
	}{
		// Producers go on for 10 s: every broker that catches up within
		// them empties at about 10 s, whatever its speed.
		{"fast broker", at(2), 120000, at(10.2), 122000, 60000, 122000 / 10.2, true, true, "120000 messages received in the 2.00 s"},
		{"slow broker, same end", at(8), 120000, at(10.3), 122000, 15000, 122000 / 10.3, true, true, "until they caught up"},
		{"caught up late", at(23.9), 143000, at(25), 144000, 143000 / 23.9, 144000 / 25.0, true, true, "23.90 s"},
		{"never caught up", time.Time{}, 0, at(60), 90000, 1500, 1500, true, true, "(they never caught up)"},
		{"caught up before receiving", at(0.02), 0, at(1), 800, 800, 800, true, true, "(they caught up before receiving anything)"},
		{"caught up at the start instant", t0, 10, at(2), 20, 10, 10, true, true, "caught up before receiving anything"},
		{"nothing to measure", time.Time{}, 0, t0, 0, 0, 0, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := drainRates(t0, tt.catchUp, tt.recvAtCatch, tt.until, tt.recvUntil)
			if r.headlineOK != tt.wantHeadOK || r.toEmptyOK != tt.wantToEmptyOK {
				t.Fatalf("ok headline %v to empty %v, want %v %v", r.headlineOK, r.toEmptyOK, tt.wantHeadOK, tt.wantToEmptyOK)
			}
			if !near(r.headline, tt.wantHeadline) || !near(r.toEmpty, tt.wantToEmpty) {
				t.Errorf("headline %g, to empty %g; want %g, %g", r.headline, r.toEmpty, tt.wantHeadline, tt.wantToEmpty)
			}
			if !strings.Contains(r.note, tt.wantNote) || (tt.wantNote == "") != (r.note == "") {
				t.Errorf("note %q, want it to contain %q", r.note, tt.wantNote)
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
