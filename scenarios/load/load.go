// Package load generates message load through the driver contract and
// records it with the probe: an open-loop schedule at a uniform rate (or a
// closed loop as fast as the broker confirms), producer and consumer loops,
// and a bounded drain.
package load

import (
	"context"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Schedule yields intended send times. With a positive rate it is open
// loop: message i is intended at start + i/rate whatever the broker does, so
// a stall shows up as latency. With rate 0 it is closed loop: each batch is
// intended "now". Not safe for concurrent use: one per producer goroutine.
type Schedule struct {
	rate     float64
	start    time.Time
	end      time.Time
	maxBatch int
	i        int64
	limit    int64
}

// WithLimit caps the schedule at n messages in all (n ≤ 0: no cap) and
// returns s. With a cap an open-loop schedule yields exactly
// min(n, rate × duration) messages.
func (s *Schedule) WithLimit(n int64) *Schedule {
	s.limit = n
	return s
}

func (s *Schedule) capped() bool { return s.limit > 0 && s.i >= s.limit }

// NewSchedule returns a schedule of rate messages per second (0 = closed
// loop) from start until end, yielding at most maxBatch (≥ 1) at a time.
func NewSchedule(rate float64, start, end time.Time, maxBatch int) *Schedule {
	return &Schedule{rate: rate, start: start, end: end, maxBatch: max(maxBatch, 1)}
}

func (s *Schedule) at(i int64) time.Time {
	return s.start.Add(time.Duration(float64(i) / s.rate * 1e9))
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
		for len(buf) < s.maxBatch && !s.capped() {
			buf = append(buf, now)
			s.i++
		}
		return buf, true
	}
	next := s.at(s.i)
	if !next.Before(s.end) {
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
		if last.Remaining() <= 0 {
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
			return last.Remaining() <= 0
		}
	}
}
