// Package load generates message load through the driver contract and
// records it with the probe: an open-loop schedule at a uniform rate (or a
// closed loop as fast as the broker confirms), producer and consumer loops,
// and a bounded drain.
package load

import (
	"context"
	"errors"
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

// Handler processes one delivery after the probe recorded it. Returning an
// error nacks the delivery (or leaves it unacked where nack is unsupported).
type Handler func(ctx context.Context, d *driver.Delivery, kind probe.Kind) error

// Backoff paces a consume loop's retries after broker errors: it waits
// 50 ms after the first failure, doubling up to 2 s, until a success resets
// it. The zero value is ready; it is not safe for concurrent use.
type Backoff struct {
	wait time.Duration
	// Err is the last error passed to Retry since the last Reset.
	Err error
}

// Retry records err and waits before the next attempt. It returns false at
// once, without waiting, when ctx is done or err wraps driver.ErrClosed:
// then the loop should stop.
func (b *Backoff) Retry(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, driver.ErrClosed) {
		return false
	}
	b.Err = err
	if b.wait == 0 {
		b.wait = 50 * time.Millisecond
	}
	t := time.NewTimer(b.wait)
	defer t.Stop()
	b.wait = min(2*b.wait, 2*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Reset records a success: the next failure waits the shortest time again,
// and Err is cleared.
func (b *Backoff) Reset() { b.wait, b.Err = 0, nil }

// Consume receives from c until ctx is done or c is closed, records every
// delivery with pr, calls h (when non-nil) and acks. A failed Receive, Ack
// or Nack does not stop it: brokers recover (a restarted broker redelivers
// what was not acked, and the ledger counts those duplicates), so it backs
// off and goes on. It returns nil when it stopped cleanly, or the last
// Receive error when it stopped while Receive was failing.
func Consume(ctx context.Context, c driver.Consumer, pr *probe.Consumer, maxBatch int, h Handler) error {
	var ack, nack []*driver.Delivery
	var b Backoff
	for {
		ds, err := c.Receive(ctx, maxBatch)
		if err != nil {
			if b.Retry(ctx, err) {
				continue
			}
			return b.Err
		}
		b.Reset()
		now := time.Now()
		ack, nack = ack[:0], nack[:0]
		for _, d := range ds {
			_, kind := pr.Record(d.Body, now)
			if h != nil {
				if herr := h(ctx, d, kind); herr != nil {
					nack = append(nack, d)
					continue
				}
			}
			ack = append(ack, d)
		}
		Settle(ctx, c, ack, nack)
	}
}

// Settle acks ack and nacks nack (either may be empty). A failure is not
// reported: what was not settled comes again, and the ledger counts it as a
// duplicate, so there is nothing to stop for.
func Settle(ctx context.Context, c driver.Consumer, ack, nack []*driver.Delivery) {
	if len(ack) > 0 {
		_ = c.Ack(ctx, ack)
	}
	if len(nack) > 0 {
		_ = c.Nack(ctx, nack)
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
