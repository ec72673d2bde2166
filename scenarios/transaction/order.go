package transaction

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// placeAll runs the order service's Producers goroutines until end and
// returns once they stopped. In native mode each has a transactional
// producer; a failure to open one is noted in res and fewer goroutines
// run. The returned function closes those producers (once the last
// messages arrived).
func (r *run) placeAll(ctx context.Context, res *result.Result, end time.Time) (closeTx func()) {
	c := r.c
	var txps []driver.TxProducer
	closeTx = func() {
		for _, tp := range txps {
			tp.Close()
		}
		txps = nil
	}
	var wg sync.WaitGroup
	for range c.Producers {
		sched := load.NewSchedule(c.Rate/float64(c.Producers), r.start, end, 1)
		if !r.native {
			wg.Go(func() { r.placeOrders(ctx, sched) })
			continue
		}
		tp, err := r.transactor.NewTxProducer(ctx, r.deduct, r.checkBack)
		if err != nil {
			res.Notes = append(res.Notes, "transactional producer: "+err.Error())
			break
		}
		txps = append(txps, tp)
		pr := r.dst.Producer(r.dIDs.Add(1) - 1)
		wg.Go(func() { r.placeOrdersNative(ctx, tp, pr, sched) })
	}
	wg.Wait()
	return closeTx
}

// scheduleEnded counts the orders sched owed but never yielded, unless ctx
// ended it (an interrupted run's accounting is not final anyway).
func (r *run) scheduleEnded(ctx context.Context, sched *load.Schedule) {
	if ctx.Err() == nil {
		r.stats.unsent.Add(sched.Unsent())
	}
}

// placeOrders is one order-service goroutine in outbox mode: each order and
// its message-table row in one local transaction.
func (r *run) placeOrders(ctx context.Context, sched *load.Schedule) {
	var times []time.Time
	for {
		var ok bool
		if times, ok = sched.Next(ctx, times); !ok {
			r.scheduleEnded(ctx, sched)
			return
		}
		for range times {
			id := r.nextOrder.Add(1)
			created := time.Now()
			if err := placeOrder(ctx, r.odb, id, created.UnixNano(), true); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.stats.orderErrs.Add(1)
				r.noteErr(fmt.Sprintf("order %d", id), err)
				continue
			}
			r.stats.orders.Add(1)
			r.ordersPS.Add(created, 1)
		}
	}
}

// placeOrdersNative is one order-service goroutine in native mode: the
// order's local transaction runs inside the broker's transactional send.
func (r *run) placeOrdersNative(ctx context.Context, tp driver.TxProducer, pr *probe.Producer, sched *load.Schedule) {
	body := make([]byte, r.c.Size)
	key := binary.BigEndian.AppendUint32(nil, pr.ID())
	var times []time.Time
	for {
		var ok bool
		if times, ok = sched.Next(ctx, times); !ok {
			r.scheduleEnded(ctx, sched)
			return
		}
		for _, at := range times {
			if !r.placeOrderNative(ctx, tp, pr, at, key, body) {
				return
			}
		}
	}
}

// placeOrderNative places one order intended at at through a transactional
// send. It returns false when ctx ended the send before the order was
// committed.
func (r *run) placeOrderNative(ctx context.Context, tp driver.TxProducer, pr *probe.Producer, at time.Time, key, body []byte) bool {
	id := r.nextOrder.Add(1)
	pr.Stamp(body, at, time.Now())
	binary.BigEndian.PutUint64(body[idOffset:], uint64(id))
	msg := driver.Message{Key: key, Body: body}
	committed := false
	state, err := tp.SendTx(ctx, msg, func(lctx context.Context) driver.TxState {
		defer r.finished.Store(id, true)
		created := time.Now()
		if err := placeOrder(lctx, r.odb, id, created.UnixNano(), false); err != nil {
			if lctx.Err() == nil {
				r.noteErr(fmt.Sprintf("order %d", id), err)
			}
			return driver.TxRollback
		}
		committed = true
		r.stats.orders.Add(1)
		r.ordersPS.Add(created, 1)
		return driver.TxCommit
	})
	serr := err
	if serr == nil && state != driver.TxCommit {
		serr = fmt.Errorf("transactional send of order %d ended %s", id, state)
	}
	n, _ := pr.Sent([]driver.Message{msg}, serr, time.Now())
	r.stats.published.Add(int64(n))
	if serr != nil {
		if ctx.Err() != nil && !committed {
			return false
		}
		r.stats.sendFailures.Add(1)
		r.noteErr("transactional send", serr)
	}
	if !committed && ctx.Err() == nil {
		r.stats.orderErrs.Add(1)
	}
	return true
}

// checkBack answers the broker's check for a half message whose outcome it
// did not hear: commit iff the order row exists; unknown while the local
// transaction may still be running.
func (r *run) checkBack(ctx context.Context, m driver.Message) driver.TxState {
	if len(m.Body) < bodyMin {
		return driver.TxRollback
	}
	id := int64(binary.BigEndian.Uint64(m.Body[idOffset:]))
	ok, err := orderExists(ctx, r.odb, id)
	switch {
	case err != nil:
		return driver.TxUnknown
	case ok:
		return driver.TxCommit
	}
	if _, done := r.finished.Load(id); done {
		return driver.TxRollback
	}
	return driver.TxUnknown
}

// orderResults is the order service's consumer of stock.result, on the
// shared consume loop. It owns cn and replaces it after an error.
func (r *run) orderResults(ctx context.Context, cn driver.Consumer) {
	pr := r.rst.Consumer(orderGroup)
	opts := load.LoopOptions{
		Batch: 50,
		Reopen: func(ctx context.Context, cause error) (driver.Consumer, error) {
			r.noteErr("order result receive", cause)
			r.stats.restarts.Add(1)
			if err := svc.Sleep(ctx, 200*time.Millisecond); err != nil {
				return nil, err
			}
			return r.reopen(ctx, r.result, orderGroup, "order result consumer")
		},
	}
	_ = load.Loop(ctx, ctx, r.nackable(cn), opts, func(ctx context.Context, d *driver.Delivery, _ envelope.Header, _ probe.Kind) load.Verdict {
		return r.orderResult(ctx, d, pr)
	})
}

// orderResult records one stock.result delivery and applies it: a success
// moves the order from the message table to the history.
func (r *run) orderResult(ctx context.Context, d *driver.Delivery, pr *probe.Consumer) load.Verdict {
	now := time.Now()
	_, kind := pr.Record(d.Body, now)
	if kind == probe.Foreign || len(d.Body) < bodyMin {
		return load.Ack
	}
	id := int64(binary.BigEndian.Uint64(d.Body[idOffset:]))
	switch d.Body[outcomeOffset] {
	case outcomeSuccess:
		moved, created, err := confirmOrder(ctx, r.odb, id, now.UnixNano())
		if errors.Is(err, sql.ErrNoRows) {
			r.stats.unknownOrders.Add(1)
			break
		}
		if err != nil {
			if ctx.Err() == nil {
				r.noteErr(fmt.Sprintf("order %d confirmation", id), err)
			}
			return load.Nack
		}
		if !moved {
			r.stats.dupResults.Add(1)
			break
		}
		r.stats.consistent.Add(1)
		r.consistentPS.Add(now, 1)
		if created >= r.warmEnd.UnixNano() {
			ns := now.UnixNano() - created
			probe.RecordNs(r.ttc, ns)
			r.ttcMaxPS.Max(now, ns)
		}
	case outcomeFailed:
		r.stats.failedResults.Add(1)
	case outcomeInsufficient:
		r.stats.insufficient.Add(1)
	}
	return load.Ack
}

// reopen opens a new consumer of dest for group, retrying every 500 ms
// until it succeeds or ctx is done; what notes its failures. The consumer
// hides Nack where the driver cannot nack.
func (r *run) reopen(ctx context.Context, dest driver.Destination, group, what string) (driver.Consumer, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cn, err := r.env.Driver.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: group})
		if err == nil {
			return r.nackable(cn), nil
		}
		if ctx.Err() == nil {
			r.noteErr(what, err)
			_ = svc.Sleep(ctx, 500*time.Millisecond)
		}
	}
}

// nackable returns cn, or where the driver cannot nack (Capabilities.Nack
// false) cn with a Nack that settles nothing and returns
// errors.ErrUnsupported: a nacked delivery then stays unacked and comes
// back once the consumer is closed.
func (r *run) nackable(cn driver.Consumer) driver.Consumer {
	if r.canNack {
		return cn
	}
	return ackOnly{cn}
}

// ackOnly is a consumer whose Nack does nothing.
type ackOnly struct{ driver.Consumer }

// Nack implements driver.Consumer: it settles nothing.
func (ackOnly) Nack(context.Context, []*driver.Delivery) error { return errors.ErrUnsupported }
