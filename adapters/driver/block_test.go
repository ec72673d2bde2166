package driver

import (
	"testing"
	"time"
)

func TestBlockEventOverlap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name     string
		e        BlockEvent
		from, to time.Time
		want     time.Duration
	}{
		{"inside", BlockEvent{Start: at(2), End: at(4)}, at(0), at(10), 2 * time.Second},
		{"clipped both sides", BlockEvent{Start: at(-5), End: at(15)}, at(0), at(10), 10 * time.Second},
		{"open lasts until to", BlockEvent{Start: at(7)}, at(0), at(10), 3 * time.Second},
		{"before the window", BlockEvent{Start: at(-5), End: at(-1)}, at(0), at(10), 0},
		{"after the window", BlockEvent{Start: at(11), End: at(12)}, at(0), at(10), 0},
		{"instant refusal", BlockEvent{Start: at(3), End: at(3)}, at(0), at(10), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Overlap(tt.from, tt.to); got != tt.want {
				t.Fatalf("overlap %v, want %v", got, tt.want)
			}
			if tt.e.Open() != tt.e.End.IsZero() {
				t.Fatal("Open disagrees with End")
			}
		})
	}
}
