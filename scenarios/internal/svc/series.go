package svc

import (
	"sync/atomic"
	"time"
)

// Series counts events per second since a start time. Safe for concurrent
// use; events outside [start, start+seconds) land in the first or last slot.
type Series struct {
	start time.Time
	v     []atomic.Int64
}

// NewSeries returns a series of seconds slots from start.
func NewSeries(start time.Time, seconds int) *Series {
	return &Series{start: start, v: make([]atomic.Int64, max(seconds, 1))}
}

func (s *Series) slot(at time.Time) *atomic.Int64 {
	i := int(at.Sub(s.start) / time.Second)
	i = min(max(i, 0), len(s.v)-1)
	return &s.v[i]
}

// Add adds n at time at.
func (s *Series) Add(at time.Time, n int64) { s.slot(at).Add(n) }

// Max raises the slot of at to v if v is larger.
func (s *Series) Max(at time.Time, v int64) {
	AtomicMax(s.slot(at), v)
}

// AtomicMax raises a to v if v is larger; safe for concurrent use.
func AtomicMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Values returns the first n slots as float64 (zeros past the end).
func (s *Series) Values(n int) []float64 {
	out := make([]float64, n)
	for i := range min(n, len(s.v)) {
		out[i] = float64(s.v[i].Load())
	}
	return out
}

// LastNonZero is the last of the first n slots where any of ss is not
// zero, or -1.
func LastNonZero(n int, ss ...*Series) int {
	last := -1
	for _, s := range ss {
		for i, v := range s.Values(n) {
			if v != 0 && i > last {
				last = i
			}
		}
	}
	return last
}
