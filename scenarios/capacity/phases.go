package capacity

import (
	"context"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// primePerProducer is how many messages each producer sends to prime the
// pipeline.
const primePerProducer = 10

// phaseNotes collects what a phase has to say about itself.
type phaseNotes []string

// step runs one open-loop step at target msg/s: its own stick, consumers
// receiving, the producers on a schedule from now for Warmup + Duration,
// readings at the window's start and end, then a drain. Everything is
// bounded by the step's deadline (start + Warmup + Duration + Drain): a
// Send pending then is cancelled and its messages unconfirmed. The step
// is returned measured, not judged.
func (r *rig) step(ctx context.Context, target float64, kind string) (Step, phaseNotes) {
	c := r.c
	start := time.Now()
	warmEnd := start.Add(c.Warmup)
	end := warmEnd.Add(c.Duration)
	deadline := end.Add(c.Drain)
	st := r.newStick(warmEnd)
	s := Step{Kind: kind, Target: target, Start: start.Sub(r.start), Window: c.Duration,
		Slack: int64(c.Batch * (c.Producers + c.Consumers))}
	stop := r.consume(ctx, st)
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	sent := make(chan sendStats, 1)
	go func() { sent <- r.produce(pctx, st, target, start, end, 0) }()

	okStart := sleepUntil(pctx, warmEnd)
	m0 := r.read(st)
	okEnd := sleepUntil(pctx, end)
	m1 := r.read(st)
	ss := <-sent
	r.drain(pctx, deadline, min(c.Drain, 2*time.Second))
	var notes phaseNotes
	for _, err := range stop() {
		notes = append(notes, "consumer stopped while failing: "+err.Error())
	}
	if ss.last != nil {
		notes = append(notes, "last send error: "+ss.last.Error())
	}

	s.Interrupted = ctx.Err() != nil || !okStart || !okEnd
	s.Received = rate(m1.received-m0.received, m0.at, m1.at)
	s.BacklogStart, s.BacklogEnd = m0.remaining, m1.remaining
	if m0.cpuOK && m1.cpuOK {
		s.CPUSeconds, s.CPUKnown = m1.cpu-m0.cpu, true
	}
	sum := st.Summary(st.Drained())
	a := sum.Accounting
	s.Sent, s.Confirmed, s.Unconfirmed, s.Missing, s.Duplicated = a.Sent, a.Confirmed, a.Unconfirmed, a.Lost, a.Duplicated
	s.Latency, s.Throughput = sum.Latency, sum.Throughput
	s.PublishP99 = p99(sum.Latency, probe.Publish)
	s.EndToEndP99 = p99(sum.Latency, probe.EndToEnd)
	s.ScheduleP99 = p99(sum.Latency, probe.ScheduleDelay)
	if l := sum.Latency[probe.EndToEnd]; l != nil {
		s.EndToEndCount = l.Count
	}
	return s, notes
}

func p99(ls result.Latencies, name string) float64 {
	if l := ls[name]; l != nil {
		return l.P99
	}
	return 0
}

// prime sends a few messages per producer and waits (at most Drain) until
// they are received, so that every consumer has joined before anything is
// measured. It reports whether they all arrived.
func (r *rig) prime(ctx context.Context) bool {
	start := time.Now()
	deadline := start.Add(r.c.Drain)
	st := r.newStick(start)
	stop := r.consume(ctx, st)
	defer stop()
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	r.produce(pctx, st, 0, start, deadline, int64(primePerProducer*len(r.producers)))
	return r.drain(pctx, deadline, r.c.Drain)
}

// closedLoop is what a closed-loop phase measured.
type closedLoop struct {
	st *probe.Stick
	// rate is the confirmed (publish-only) or received (ceiling) rate
	// over the measured window.
	rate float64
	// whole: the phase ended during its warm-up (message cap), so rate is
	// over the whole phase.
	whole bool
	sends sendStats
}

// publishOnly sends closed loop with no consumer receiving, for Warmup +
// Duration or PublishOnlyMax messages, and returns the confirmed rate over
// the measured window (from the warm-up's end to the last producer's
// return). Pending sends are cancelled Drain after the phase's end.
func (r *rig) publishOnly(ctx context.Context) closedLoop {
	c := r.c
	start := time.Now()
	warmEnd := start.Add(c.Warmup)
	end := warmEnd.Add(c.Duration)
	st := r.newStick(warmEnd)
	pctx, cancel := context.WithDeadline(ctx, end.Add(c.Drain))
	defer cancel()
	done := make(chan sendStats, 1)
	go func() { done <- r.produce(pctx, st, 0, start, end, c.PublishOnlyMax) }()
	out := closedLoop{st: st}
	m0 := mark{at: start}
	warm := time.NewTimer(time.Until(warmEnd))
	defer warm.Stop()
	select {
	case out.sends = <-done:
		out.whole = true
	case <-warm.C:
		m0 = r.read(st)
		out.sends = <-done
	case <-pctx.Done():
		out.sends = <-done
	}
	m1 := r.read(st)
	out.rate = rate(m1.confirmed-m0.confirmed, m0.at, m1.at)
	return out
}

// drainOnly starts the consumers on the backlog publish-only left in st
// and returns the distinct messages received per second from their start
// to the last arrival, bounded by DrainOnlyTimeout (and an idle Drain),
// and whether everything was drained.
func (r *rig) drainOnly(ctx context.Context, st *probe.Stick) (float64, bool) {
	start := time.Now()
	first := st.Snapshot().Received
	stop := r.consume(ctx, st)
	defer stop()
	deadline := start.Add(r.c.DrainOnlyTimeout)
	last, lastAt := first, start
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		p := st.Snapshot()
		if p.Received != last {
			last, lastAt = p.Received, time.Now()
		}
		if p.Remaining() <= 0 && st.Missing() == 0 {
			return rate(last-first, start, lastAt), true
		}
		if now := time.Now(); !now.Before(deadline) || now.Sub(lastAt) > r.c.Drain {
			return rate(last-first, start, lastAt), false
		}
		select {
		case <-ctx.Done():
			return rate(last-first, start, lastAt), false
		case <-t.C:
		}
	}
}

// ceiling runs the pipeline closed loop with the consumers receiving for
// Warmup + Duration and returns the received rate over the measured
// window; then it drains (at most Drain).
func (r *rig) ceiling(ctx context.Context) closedLoop {
	c := r.c
	start := time.Now()
	warmEnd := start.Add(c.Warmup)
	end := warmEnd.Add(c.Duration)
	st := r.newStick(warmEnd)
	stop := r.consume(ctx, st)
	defer stop()
	pctx, cancel := context.WithDeadline(ctx, end.Add(c.Drain))
	defer cancel()
	done := make(chan sendStats, 1)
	go func() { done <- r.produce(pctx, st, 0, start, end, 0) }()
	out := closedLoop{st: st}
	sleepUntil(pctx, warmEnd)
	m0 := r.read(st)
	sleepUntil(pctx, end)
	m1 := r.read(st)
	out.sends = <-done
	out.rate = rate(m1.received-m0.received, m0.at, m1.at)
	r.drain(pctx, end.Add(c.Drain), c.Drain)
	return out
}
