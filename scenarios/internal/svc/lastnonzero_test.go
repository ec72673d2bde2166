package svc

import (
	"context"
	"testing"
	"time"
)

func TestLastNonZero(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(s int) time.Time { return start.Add(time.Duration(s)*time.Second + time.Millisecond) }
	for _, tt := range []struct {
		name string
		fill func(a, b *Series)
		want int
	}{
		{"empty", func(a, b *Series) {}, -1},
		{"first slot", func(a, b *Series) { a.Add(at(0), 1) }, 0},
		{"latest of both", func(a, b *Series) { a.Add(at(2), 1); b.Max(at(5), 3) }, 5},
		{"past the end lands in the last slot", func(a, b *Series) { b.Add(at(50), 1) }, 9},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := NewSeries(start, 10), NewSeries(start, 10)
			tt.fill(a, b)
			if got := LastNonZero(10, a, b); got != tt.want {
				t.Fatalf("LastNonZero = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	Every(ctx, time.Millisecond, func(time.Time) {
		if n++; n == 3 {
			cancel()
		}
	})
	if n != 3 {
		t.Fatalf("called %d times, want 3 (until ctx is done)", n)
	}
}

func TestWaitUntil(t *testing.T) {
	done := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	for _, tc := range []struct {
		name string
		ctx  context.Context
		cond func() bool
		want bool
	}{
		{"holds at once", done, func() bool { return true }, true},
		{"holds on the third poll", done, func() bool { calls++; return calls >= 3 }, true},
		{"never holds: timeout", done, func() bool { return false }, false},
		{"ctx done", cancelled, func() bool { return false }, false},
	} {
		if got := WaitUntil(tc.ctx, 50*time.Millisecond, time.Millisecond, tc.cond); got != tc.want {
			t.Errorf("%s: WaitUntil = %v, want %v", tc.name, got, tc.want)
		}
	}
}
