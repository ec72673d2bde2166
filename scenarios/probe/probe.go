// Package probe is mqbench's single measuring stick. Every scenario and the
// conformance suite measure through it, so every broker is judged the same
// way.
//
// A Stick belongs to one run. Each producer goroutine takes its own
// *Producer and each consumer goroutine its own *Consumer: their histograms
// are private (no locks on the hot path) and merged by Summary at the end.
// The ledger that detects loss and duplicates is shared per consumer group
// and lock-free (atomic bitsets of sequence numbers per producer).
//
// Definitions, per consumer group and producer:
//   - lost: confirmed by the broker but never received after the drain;
//   - duplicated: a delivery of a sequence the group had already received;
//   - reordered: a delivery below the highest sequence the receiving consumer
//     had already seen from that producer;
//   - unconfirmed: Send failed or was indeterminate; never counted as lost
//     (if it arrives anyway it counts as received);
//   - foreign: a body of another run, or not an envelope; ignored.
//
// Latency is measured from the intended send time (open-loop schedule), so a
// stalled broker cannot hide behind a stalled producer (coordinated
// omission). The uncorrected figure (from the actual send time) and the
// schedule delay (actual − intended) are kept too. Messages intended before
// the warm-up end are accounted but left out of latency and throughput.
package probe

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs to 10 minutes, 3 significant digits, in ns.
const (
	histMin = int64(time.Microsecond)
	histMax = int64(10 * time.Minute)
	histSig = 3
)

// Latency names used in results.
const (
	Publish            = "publish"             // confirm − intended send time
	PublishUncorrected = "publish_uncorrected" // confirm − actual send time
	EndToEnd           = "end_to_end"          // receive − intended send time
	EndToEndUncorr     = "end_to_end_uncorrected"
	ScheduleDelay      = "schedule_delay" // actual − intended send time
)

// Options configure a Stick.
type Options struct {
	// RunID marks this run's messages; others are foreign.
	RunID uint64
	// Groups are the consumer groups that must each receive every message.
	Groups []string
	// Start is the origin of the timeline. Zero means now.
	Start time.Time
	// Warmup: messages intended before Start+Warmup are accounted but not
	// part of latency or throughput figures.
	Warmup time.Duration
	// Seconds sizes the timeline; later events land in the last second.
	// Zero means 3600. The timeline's memory is allocated as seconds are
	// used, not up front, so a large value costs nothing until reached.
	Seconds int
}

// Stick measures one run. Create it with New.
type Stick struct {
	opts      Options
	start     time.Time
	warmEndNs int64
	groups    map[string]*group
	order     []*group
	timeline  table[secondsChunk] // allocated as used; opts.Seconds long

	mu        sync.Mutex
	producers []*Producer
	consumers []*Consumer
	pledger   ledger // confirmed sequences per producer
	sentSeqs  ledger // sent sequences per producer

	foreign   atomic.Int64
	confirmed atomic.Int64 // running total, for Snapshot
	// receipts, once Receipts was called, is signalled after each
	// distinct message recorded.
	receipts atomic.Pointer[chan struct{}]
}

type second struct {
	sent, confirmed, received, errors atomic.Int64
}

// secondsChunk is the unit the timeline grows by.
type secondsChunk [secondsPerChunk]second

const secondsPerChunk = 64

type group struct {
	name       string
	ledger     ledger
	received   atomic.Int64
	deliveries atomic.Int64
	duplicated atomic.Int64
}

// ledger holds one bitset per producer id.
type ledger struct{ sets table[bitset] }

func (l *ledger) get(p uint32) *bitset { return l.sets.get(uint64(p), true) }

func (l *ledger) all() []*bitset { return l.sets.all() }

// New returns a Stick for one run.
func New(opts Options) *Stick {
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	if opts.Seconds <= 0 {
		opts.Seconds = 3600
	}
	s := &Stick{
		opts:      opts,
		start:     opts.Start,
		warmEndNs: opts.Start.Add(opts.Warmup).UnixNano(),
		groups:    map[string]*group{},
	}
	for _, g := range opts.Groups {
		gr := &group{name: g}
		s.groups[g] = gr
		s.order = append(s.order, gr)
	}
	return s
}

// RunID returns the run id messages of this run carry.
func (s *Stick) RunID() uint64 { return s.opts.RunID }

// Start returns the timeline origin.
func (s *Stick) Start() time.Time { return s.start }

func (s *Stick) slot(ns int64) *second {
	i := (ns - s.start.UnixNano()) / int64(time.Second)
	if i < 0 {
		i = 0
	}
	if i >= int64(s.opts.Seconds) {
		i = int64(s.opts.Seconds) - 1
	}
	return &s.timeline.get(uint64(i/secondsPerChunk), true)[i%secondsPerChunk]
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSig) }

func record(h *hdrhistogram.Histogram, ns int64) {
	if ns < histMin {
		ns = histMin
	}
	if ns > histMax {
		ns = histMax
	}
	_ = h.RecordValue(ns) // in range by construction
}
