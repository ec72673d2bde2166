package peakshaving

import (
	"testing"
	"time"

	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

func TestLastSecond(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(s int) time.Time { return start.Add(time.Duration(s)*time.Second + time.Millisecond) }
	for _, tt := range []struct {
		name string
		fill func(a, b *svc.Series)
		want int
	}{
		{"empty", func(a, b *svc.Series) {}, -1},
		{"first slot", func(a, b *svc.Series) { a.Add(at(0), 1) }, 0},
		{"latest of both", func(a, b *svc.Series) { a.Add(at(2), 1); b.Max(at(5), 3) }, 5},
		{"past the end lands in the last slot", func(a, b *svc.Series) { b.Add(at(50), 1) }, 9},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := svc.NewSeries(start, 10), svc.NewSeries(start, 10)
			tt.fill(a, b)
			if got := lastSecond(10, a, b); got != tt.want {
				t.Fatalf("lastSecond = %d, want %d", got, tt.want)
			}
		})
	}
}
