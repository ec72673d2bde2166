package peakshaving

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// saleInstance runs one sale service instance on the shared consume loop
// until ctx is done, opening a new consumer after an error (the old one's
// unacked deliveries go back to the queue). It owns cn.
func (r *run) saleInstance(ctx context.Context, cn driver.Consumer, pr *probe.Consumer) {
	s := &seller{r: r, pr: pr, interval: time.Duration(float64(r.c.Consumers) / r.c.Capacity * 1e9)}
	opts := load.LoopOptions{Batch: r.c.Prefetch, Reopen: s.reopen}
	_ = load.Loop(ctx, ctx, cn, opts, s.handle)
}

// seller is one sale instance's state; only its consume loop's goroutine
// uses it.
type seller struct {
	r        *run
	pr       *probe.Consumer
	interval time.Duration // between two requests: the instance's share of the capacity
	next     time.Time     // when the next request may be processed
}

// handle processes one delivery at the instance's pace; it is acked once
// the database committed, nacked when the database failed.
func (s *seller) handle(ctx context.Context, d *driver.Delivery, _ envelope.Header, _ probe.Kind) load.Verdict {
	now := time.Now()
	if s.next.Before(now.Add(-s.interval)) {
		s.next = now
	}
	if svc.Sleep(ctx, s.next.Sub(now)) != nil {
		return load.Nack // abandoned: unprocessed deliveries return to the queue on Close
	}
	s.next = s.next.Add(s.interval)
	if err := s.r.process(ctx, d, s.pr); err != nil {
		s.r.stats.dbErrs.Add(1)
		s.r.stats.noteErr(err)
		return load.Nack
	}
	return load.Ack
}

// reopen is the loop's Reopen: it notes the cause, counts a restart and
// opens a new consumer every 500 ms until one opens or ctx is done.
func (s *seller) reopen(ctx context.Context, cause error) (driver.Consumer, error) {
	r := s.r
	r.stats.noteErr(fmt.Errorf("sale service consumer: %w", cause))
	r.stats.restarts.Add(1)
	s.next = time.Time{}
	for {
		if err := svc.Sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
		cn, err := r.env.Driver.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: r.dest.Groups[0], Prefetch: r.c.Prefetch})
		if err == nil {
			return cn, nil
		}
		r.stats.noteErr(fmt.Errorf("sale service consumer: %w", err))
	}
}

// process handles one request in one database transaction: it records the
// request id (a second delivery of it changes nothing) and deducts one item
// with the conditional update.
func (r *run) process(ctx context.Context, d *driver.Delivery, pr *probe.Consumer) error {
	now := time.Now()
	_, kind := pr.Record(d.Body, now)
	if kind == probe.Foreign || len(d.Body) < bodyMin {
		return nil
	}
	id := binary.BigEndian.Uint64(d.Body[envelope.Size:])
	if id >= uint64(len(r.states)) {
		return nil
	}
	first, sold, err := sellTx(ctx, r.db, int64(id), now.Sub(r.start).Nanoseconds())
	if err != nil {
		return fmt.Errorf("sale of request %d: %w", id, err)
	}
	if !first {
		r.stats.dupes.Add(1)
		return nil
	}
	if sold && r.stats.sold.Add(1) == int64(r.c.Stock) {
		r.stats.sellout.Store(max(1, now.Sub(r.start).Nanoseconds()))
	}
	prev := r.states[id].Swap(stDone)
	if r.gate.app && (prev == stReserved || prev == stAdmitted) {
		r.gate.release()
	}
	if prev == stAdmitted {
		r.stats.done.Add(1)
	}
	r.processed.Add(now, 1)
	r.observeDepth(now)
	return nil
}
