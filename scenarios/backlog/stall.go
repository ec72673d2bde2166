package backlog

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Phases of a run.
const (
	phaseAccumulate = iota
	phaseDrain
	nPhases
)

// maxSpans bounds the Sends a producer remembers per phase (16 bytes each).
const maxSpans = 1 << 21

// span is one time interval.
type span struct{ from, to time.Time }

func (s span) dur() time.Duration { return s.to.Sub(s.from) }

// timedProducer wraps a producer and remembers, per phase, when each Send
// ran and the publish latency of every confirmed message. Only the
// goroutine that sends uses it; phase changes while no Send runs.
type timedProducer struct {
	driver.Producer
	phase int
	rec   [nPhases]phaseRec
}

// phaseRec is what one producer did in one phase.
type phaseRec struct {
	sends     []span
	publish   *hdrhistogram.Histogram // confirm − intended, ns
	handed    int64                   // messages handed to Send
	confirmed int64
}

func newTimedProducer(p driver.Producer) *timedProducer {
	t := &timedProducer{Producer: p}
	for i := range t.rec {
		t.rec[i].publish = probe.NewHistogram()
	}
	return t
}

// Send implements driver.Producer.
func (t *timedProducer) Send(ctx context.Context, msgs []driver.Message) error {
	start := time.Now()
	err := t.Producer.Send(ctx, msgs)
	end := time.Now()
	rec := &t.rec[t.phase]
	rec.handed += int64(len(msgs))
	if len(rec.sends) < maxSpans {
		rec.sends = append(rec.sends, span{start, end})
	}
	for i := range msgs {
		if !driver.Confirmed(err, len(msgs), i) {
			continue
		}
		rec.confirmed++
		if h, perr := envelope.Parse(msgs[i].Body); perr == nil {
			probe.RecordNs(rec.publish, end.UnixNano()-h.IntendNs)
		}
	}
	return err
}

// stalls is the stall analysis of one phase's Sends.
type stalls struct {
	median  time.Duration
	longest time.Duration
	count   int
	spans   []span // the stalled Sends
}

// findStalls finds the Sends longer than factor × their median and longer
// than floor.
func findStalls(sends []span, factor float64, floor time.Duration) stalls {
	var st stalls
	if len(sends) == 0 {
		return st
	}
	durs := make([]time.Duration, len(sends))
	for i, s := range sends {
		durs[i] = s.dur()
	}
	slices.Sort(durs)
	st.median = durs[len(durs)/2]
	st.longest = durs[len(durs)-1]
	limit := max(time.Duration(float64(st.median)*factor), floor)
	for _, s := range sends {
		if s.dur() > limit {
			st.spans = append(st.spans, s)
		}
	}
	st.count = len(st.spans)
	return st
}

// union merges overlapping spans, clipped to [from, to), sorted.
func union(spans []span, from, to time.Time) []span {
	var in []span
	for _, s := range spans {
		if s.from.Before(from) {
			s.from = from
		}
		if s.to.After(to) {
			s.to = to
		}
		if s.to.After(s.from) {
			in = append(in, s)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].from.Before(in[j].from) })
	var out []span
	for _, s := range in {
		if n := len(out); n > 0 && !s.from.After(out[n-1].to) {
			if s.to.After(out[n-1].to) {
				out[n-1].to = s.to
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// total is the summed length of spans (already merged).
func total(spans []span) time.Duration {
	var d time.Duration
	for _, s := range spans {
		d += s.dur()
	}
	return d
}

// perSecond spreads merged spans over n one-second slots from start, in ms.
func perSecond(spans []span, start time.Time, n int) []float64 {
	out := make([]float64, n)
	for _, s := range spans {
		for t := s.from; t.Before(s.to); {
			i := int(t.Sub(start) / time.Second)
			next := start.Add(time.Duration(i+1) * time.Second)
			end := next
			if s.to.Before(end) {
				end = s.to
			}
			if i >= 0 && i < n {
				out[i] += float64(end.Sub(t)) / 1e6
			}
			t = end
		}
	}
	return out
}

// blockSpans turns broker block events into spans (an open one lasts until
// now); instant refusals become no span but are counted by the caller.
func blockSpans(evs []driver.BlockEvent, now time.Time) []span {
	var out []span
	for _, e := range evs {
		end := e.End
		if e.Open() {
			end = now
		}
		if end.After(e.Start) {
			out = append(out, span{e.Start, end})
		}
	}
	return out
}
