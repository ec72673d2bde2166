package failover

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Phases of a message, by its intended send time.
const (
	phaseBefore = iota // before the first fault
	phaseDuring        // from the first fault until the last node was back in sync
	phaseAfter         // afterwards
	phases
)

// window is one fault: the nodes, when they were killed or stopped, and
// the first moments producers and consumers were served again. The
// producer and consumer goroutines fill prod and cons (UnixNano, 0 until
// then).
type window struct {
	nodes         []string  // one node, or (the control) the leader's standbys then the leader
	asked         time.Time // the kill or stop was asked
	at            int64     // the node's processes were gone (Kill or Stop returned), UnixNano: the fault
	prod, cons    atomic.Int64
	restart       time.Time     // start asked
	started       time.Time     // start returned
	synced        time.Time     // back in sync; zero when never
	err           error         // why the node did not rejoin
	startDuration time.Duration // the first start asked → the last start returned
}

// first lowers a to v if a is 0 or later than v.
func first(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if (cur != 0 && cur <= v) || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// marks are the moments the traffic goroutines read: the first fault, the
// end of the last node's resync, and the current fault window.
type marks struct {
	faultNs, recoveredNs atomic.Int64
	cur                  atomic.Pointer[window]
}

// phase classifies a message intended at intendedNs.
func (m *marks) phase(intendedNs int64) int {
	f := m.faultNs.Load()
	if f == 0 || intendedNs < f {
		return phaseBefore
	}
	if r := m.recoveredNs.Load(); r == 0 || intendedNs < r {
		return phaseDuring
	}
	return phaseAfter
}

// hists are one goroutine's latencies per phase.
type hists [phases]*hdrhistogram.Histogram

func newHists() hists {
	var h hists
	for i := range h {
		h[i] = probe.NewHistogram()
	}
	return h
}

// traffic is the load's shared state.
type traffic struct {
	m     *marks
	st    *probe.Stick
	warm  int64 // UnixNano of the warm-up's end: earlier messages are not in the phase figures
	mu    sync.Mutex
	pub   []hists
	e2e   []hists
	fails int
	last  error
}

// produce sends sched's messages of size bytes through p until the
// schedule ends or stop is done; each Send is bounded by send. It records
// each outcome with pr, the publish latency per phase, and the first
// confirmation after the current fault.
func (t *traffic) produce(stop, send context.Context, p driver.Producer, pr *probe.Producer, sched *load.Schedule, size int) {
	h := newHists()
	key := []byte{byte(pr.ID() >> 24), byte(pr.ID() >> 16), byte(pr.ID() >> 8), byte(pr.ID())}
	var times []time.Time
	var msgs []driver.Message
	var bufs [][]byte
	fails := 0
	var last error
	defer func() {
		t.mu.Lock()
		t.pub = append(t.pub, h)
		t.fails += fails
		if last != nil {
			t.last = last
		}
		t.mu.Unlock()
	}()
	for {
		var ok bool
		if times, ok = sched.Next(stop, times); !ok {
			return
		}
		for len(bufs) < len(times) {
			bufs = append(bufs, make([]byte, max(size, envelope.Size)))
		}
		msgs = msgs[:0]
		now := time.Now()
		for i, at := range times {
			pr.Stamp(bufs[i], at, now)
			msgs = append(msgs, driver.Message{Key: key, Body: bufs[i]})
		}
		err := p.Send(send, msgs)
		done := time.Now()
		pr.Sent(msgs, err, done)
		if err != nil {
			fails++
			last = err
		}
		t.published(h, msgs, err, done.UnixNano())
		if send.Err() != nil {
			return
		}
	}
}

// published records the publish latencies of one Send by phase and the
// first confirmation of a message intended after the current fault.
func (t *traffic) published(h hists, msgs []driver.Message, err error, doneNs int64) {
	w := t.m.cur.Load()
	for i := range msgs {
		if !driver.Confirmed(err, len(msgs), i) {
			continue
		}
		e, perr := envelope.Parse(msgs[i].Body)
		if perr != nil {
			continue
		}
		if e.IntendNs >= t.warm {
			probe.RecordNs(h[t.m.phase(e.IntendNs)], doneNs-e.IntendNs)
		}
		if w != nil && e.IntendNs >= w.at {
			first(&w.prod, doneNs)
		}
	}
}

// consumer returns the handler of one consume loop and the histograms it
// fills: the end-to-end latency per phase and the first delivery of a
// message intended after the current fault.
func (t *traffic) consumer() load.Handler {
	h := newHists()
	t.mu.Lock()
	t.e2e = append(t.e2e, h)
	t.mu.Unlock()
	return func(_ context.Context, _ *driver.Delivery, e envelope.Header, kind probe.Kind) load.Verdict {
		if kind != probe.First {
			return load.Ack
		}
		now := time.Now().UnixNano()
		if e.IntendNs >= t.warm {
			probe.RecordNs(h[t.m.phase(e.IntendNs)], now-e.IntendNs)
		}
		if w := t.m.cur.Load(); w != nil && e.IntendNs >= w.at {
			first(&w.cons, now)
		}
		return load.Ack
	}
}

// merged merges the histograms of phase ph over every goroutine of hs.
func merged(hs []hists, ph int) *hdrhistogram.Histogram {
	out := probe.NewHistogram()
	for _, h := range hs {
		out.Merge(h[ph])
	}
	return out
}
