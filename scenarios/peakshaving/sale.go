package peakshaving

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// saleInstance runs one sale service instance until ctx is done, opening a
// new consumer after an error (the old one's unacked deliveries go back to
// the queue). It closes its consumer.
func (r *run) saleInstance(ctx context.Context, cn driver.Consumer, pr *probe.Consumer) {
	for {
		err := r.sell(ctx, cn, pr)
		cn.Close()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = driver.ErrClosed
		}
		r.stats.noteErr(fmt.Errorf("sale service consumer: %w", err))
		r.stats.restarts.Add(1)
		for {
			if svc.Sleep(ctx, 500*time.Millisecond) != nil {
				return
			}
			if cn, err = r.env.Driver.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: r.dest.Groups[0], Prefetch: r.c.Prefetch}); err == nil {
				break
			}
			r.stats.noteErr(fmt.Errorf("sale service consumer: %w", err))
		}
	}
}

// sell processes deliveries from cn at the instance's share of the
// capacity and acks each batch after the database committed. It returns nil
// when ctx is done or cn is closed, or the error that stopped it.
func (r *run) sell(ctx context.Context, cn driver.Consumer, pr *probe.Consumer) error {
	interval := time.Duration(float64(r.c.Consumers) / r.c.Capacity * 1e9)
	var next time.Time
	var ack, nack []*driver.Delivery
	for {
		ds, err := cn.Receive(ctx, r.c.Prefetch)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, driver.ErrClosed) {
				return nil
			}
			return err
		}
		ack, nack = ack[:0], nack[:0]
		for _, d := range ds {
			now := time.Now()
			if next.Before(now.Add(-interval)) {
				next = now
			}
			if svc.Sleep(ctx, next.Sub(now)) != nil {
				break // unprocessed deliveries return to the queue on Close
			}
			next = next.Add(interval)
			if err := r.process(ctx, d, pr); err != nil {
				r.stats.dbErrs.Add(1)
				r.stats.noteErr(err)
				nack = append(nack, d)
				continue
			}
			ack = append(ack, d)
		}
		if len(ack) > 0 {
			if err := cn.Ack(ctx, ack); err != nil && ctx.Err() == nil && !errors.Is(err, driver.ErrClosed) {
				return fmt.Errorf("ack: %w", err)
			}
		}
		if len(nack) > 0 {
			if err := cn.Nack(ctx, nack); err != nil && ctx.Err() == nil && !errors.Is(err, driver.ErrClosed) && !errors.Is(err, errors.ErrUnsupported) {
				return fmt.Errorf("nack: %w", err)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
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
	r.processed[r.sec(now)].Add(1)
	r.observeDepth(now)
	return nil
}
