package svc

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Hist is a latency histogram (the stick's range) safe for concurrent use,
// for scenario-specific latencies recorded at service rates.
type Hist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// NewHist returns an empty histogram.
func NewHist() *Hist { return &Hist{h: probe.NewHistogram()} }

// Record adds one duration.
func (h *Hist) Record(d time.Duration) {
	h.mu.Lock()
	probe.RecordNs(h.h, int64(d))
	h.mu.Unlock()
}

// Count returns how many durations were recorded.
func (h *Hist) Count() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.h.TotalCount()
}

// Summary summarises the histogram in ms.
func (h *Hist) Summary() *result.Latency {
	h.mu.Lock()
	defer h.mu.Unlock()
	return probe.Summarize(h.h)
}

// Merge returns a new histogram holding every value of hs.
func Merge(hs ...*Hist) *Hist {
	out := NewHist()
	for _, h := range hs {
		h.mu.Lock()
		out.h.Merge(h.h)
		h.mu.Unlock()
	}
	return out
}
