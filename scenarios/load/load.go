// Package load generates message load through the driver contract and
// records it with the probe: an open-loop schedule at a uniform rate (or a
// closed loop as fast as the broker confirms), producer and consumer loops,
// and a bounded drain.
package load

import (
	"context"
	"math"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Schedule yields intended send times. With a positive rate it is open
// loop: message i is intended at start + i/rate whatever the broker does, so
// a stall shows up as latency. With rate 0 it is closed loop: each batch is
// intended "now". Not safe for concurrent use: one per producer goroutine.
//
// An open-loop schedule waits for the next intended time on a plain Go
// timer and does not spin: on a shared 2-core machine a timer wakes late
// (0.69 ms at p50 and 44 ms at p99 at 500 wakes/s under load), and
// sleeping to 1 ms before the intended time and spinning from there took
// the p50 to zero but left the p99 (CPU starvation, which spinning cannot
// fix) and cost about a quarter of a core per producer at that rate, CPU
// taken from the brokers being measured. The lateness is measured instead:
// every message keeps its intended and actual send times (the probe's
// schedule delay), and capacity reports it with the harness's own
// latency at the maximum's rate as the floor under the broker's figures.
//
// A schedule never outlives its window: it yields no intended time at or
// after end, and once the wall clock passes end + Overrun it ends even if
// a producer that fell behind still owes messages (an unreachable rate
// would otherwise keep it sending rate × duration messages long after the
// run should have ended).
type Schedule struct {
	rate     float64
	start    time.Time
	end      time.Time
	maxBatch int
	i        int64
	limit    int64
	gate     func(context.Context) bool
}

// Overrun is how long past its end a schedule still yields messages that
// were due before the end, to a producer running behind.
const Overrun = time.Second

// WithLimit caps the schedule at n messages in all (n ≤ 0: no cap) and
// returns s. With a cap an open-loop schedule yields exactly
// min(n, rate × duration) messages to a producer that keeps up (one still
// behind at end + Overrun is cut short there).
func (s *Schedule) WithLimit(n int64) *Schedule {
	s.limit = n
	return s
}

// WithGate makes a closed-loop schedule (rate 0) wait for gate before it
// yields each message, one at a time, and returns s; a gate that returns
// false ends the schedule. An open-loop schedule ignores the gate: its
// intended times, not a gate, set its pace.
func (s *Schedule) WithGate(gate func(context.Context) bool) *Schedule {
	s.gate = gate
	return s
}

func (s *Schedule) capped() bool { return s.limit > 0 && s.i >= s.limit }

// NewSchedule returns a schedule of rate messages per second (0 = closed
// loop) from start until end, yielding at most maxBatch (≥ 1) at a time.
// A negative, NaN or infinite rate is treated as 0.
func NewSchedule(rate float64, start, end time.Time, maxBatch int) *Schedule {
	if !(rate > 0) || math.IsInf(rate, 0) {
		rate = 0
	}
	return &Schedule{rate: rate, start: start, end: end, maxBatch: max(maxBatch, 1)}
}

// at is message i's intended time, computed in float seconds and clamped
// to end, so no rate (however small) overflows the time.Duration.
func (s *Schedule) at(i int64) time.Time {
	off := float64(i) / s.rate
	if window := s.end.Sub(s.start).Seconds(); !(off < window) {
		return s.end
	}
	return s.start.Add(time.Duration(off * 1e9))
}

// over reports whether the wall clock has passed the schedule's end plus
// Overrun.
func (s *Schedule) over(now time.Time) bool { return !now.Before(s.end.Add(Overrun)) }

// Unsent returns how many messages due before the end the schedule has not
// yielded: after it ended early because the producer fell behind (see
// Overrun), the messages it owed and never sent. Zero for a closed loop.
func (s *Schedule) Unsent() int64 {
	if s.rate <= 0 {
		return 0
	}
	due := math.Ceil(s.end.Sub(s.start).Seconds() * s.rate)
	if s.limit > 0 {
		due = min(due, float64(s.limit))
	}
	if n := due - float64(s.i); n > 0 {
		return int64(n)
	}
	return 0
}

// Next waits until at least one message is due and appends the intended
// send times of the due messages (at most maxBatch) to buf[:0]. It returns
// false once the schedule has ended or ctx is done.
func (s *Schedule) Next(ctx context.Context, buf []time.Time) ([]time.Time, bool) {
	buf = buf[:0]
	now := time.Now()
	if s.capped() {
		return buf, false
	}
	if s.rate <= 0 {
		if !now.Before(s.end) || ctx.Err() != nil {
			return buf, false
		}
		if s.gate != nil {
			if !s.gate(ctx) || !time.Now().Before(s.end) {
				return buf, false
			}
			s.i++
			return append(buf, time.Now()), true
		}
		for len(buf) < s.maxBatch && !s.capped() {
			buf = append(buf, now)
			s.i++
		}
		return buf, true
	}
	next := s.at(s.i)
	if !next.Before(s.end) || s.over(now) {
		return buf, false
	}
	if wait := next.Sub(now); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return buf, false
		case <-t.C:
		}
		now = time.Now()
	} else if ctx.Err() != nil {
		return buf, false
	}
	for len(buf) < s.maxBatch && !s.capped() {
		at := s.at(s.i)
		if at.After(now) || !at.Before(s.end) {
			break
		}
		buf = append(buf, at)
		s.i++
	}
	return buf, true
}

// Produce sends the schedule's messages of size bytes through p, stamping
// and recording each with pr, until the schedule ends or ctx is done. A
// failed Send is recorded (its messages unconfirmed) and the loop goes on;
// Produce returns the number of failed Sends and the last error.
func Produce(ctx context.Context, p driver.Producer, pr *probe.Producer, s *Schedule, size int) (failed int, last error) {
	key := []byte{byte(pr.ID() >> 24), byte(pr.ID() >> 16), byte(pr.ID() >> 8), byte(pr.ID())}
	var times []time.Time
	var msgs []driver.Message
	var bufs [][]byte
	for {
		var ok bool
		times, ok = s.Next(ctx, times)
		if !ok {
			if ctx.Err() == nil {
				pr.Unsent(s.Unsent())
			}
			return failed, last
		}
		for len(bufs) < len(times) {
			bufs = append(bufs, make([]byte, max(size, 40)))
		}
		msgs = msgs[:0]
		now := time.Now()
		for i, at := range times {
			pr.Stamp(bufs[i], at, now)
			msgs = append(msgs, driver.Message{Key: key, Body: bufs[i]})
		}
		err := p.Send(ctx, msgs)
		pr.Sent(msgs, err, time.Now())
		if err != nil {
			failed++
			last = err
			if ctx.Err() != nil {
				return failed, last
			}
		}
	}
}

// ReceiptGate returns a gate (see Schedule.WithGate) that keeps one message
// in flight: it opens at once the first time, and then once every one of
// groups groups of st has received as many messages as the gate opened
// before, or after timeout, leaving the missing message to the accounting.
// That is the loop of Kafka's EndToEndLatency: send one, wait until it
// arrives, send the next. Waiting adds nothing to the measured latency,
// which runs from the send to the receipt; it only sets the pace, and the
// gate wakes on the consumer's record (Stick.Receipts), not on a timer.
func ReceiptGate(st *probe.Stick, groups int, timeout time.Duration) func(context.Context) bool {
	var opened int64
	receipts := st.Receipts()
	return func(ctx context.Context) bool {
		want := opened * int64(groups)
		timer := time.NewTimer(timeout)
		defer timer.Stop()
	wait:
		for st.Snapshot().Received < want {
			select {
			case <-receipts:
			case <-ctx.Done():
				return false
			case <-timer.C:
				break wait
			}
		}
		opened++
		return ctx.Err() == nil
	}
}

// Drain waits until every group has received every confirmed message, or no
// message arrived for idle, or timeout passed, or ctx is done. It reports
// whether the drain completed (nothing missing).
func Drain(ctx context.Context, st *probe.Stick, timeout, idle time.Duration) bool {
	deadline := time.Now().Add(timeout)
	last := st.Snapshot()
	lastChange := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if last.Remaining() <= 0 && st.Missing() == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
		cur := st.Snapshot()
		if cur.Received != last.Received {
			lastChange = time.Now()
		}
		last = cur
		if time.Now().After(deadline) || time.Since(lastChange) > idle {
			return st.Drained()
		}
	}
}
