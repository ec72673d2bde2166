package transaction

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// errInjected is the failure FailureRate injects into processing.
var errInjected = errors.New("injected processing failure")

// inventory is one inventory-service instance, on the shared consume loop.
// It owns cn; it replaces its consumer (and result producer) after an
// injected crash or an error.
func (r *run) inventory(ctx context.Context, cn driver.Consumer, rng *rand.Rand) {
	in := &inventoryInstance{r: r, rng: rng, pr: r.dst.Consumer(inventoryGroup), body: make([]byte, max(r.c.Size, bodyMin))}
	defer in.closeProducer()
	if !in.openProducer(ctx) {
		cn.Close()
		return
	}
	opts := load.LoopOptions{Batch: 10, Reopen: in.reopen}
	_ = load.Loop(ctx, ctx, r.nackable(cn), opts, in.handle)
}

// inventoryInstance is the state of one inventory instance; only its
// consume loop's goroutine uses it.
type inventoryInstance struct {
	r         *run
	rng       *rand.Rand
	pr        *probe.Consumer // records stock.deduct deliveries
	p         driver.Producer // publishes to stock.result; nil after a crash
	rp        *probe.Producer // p's probe producer
	body      []byte
	committed int // deductions committed by this instance
}

// openProducer opens the result producer when there is none, retrying
// every 500 ms; false means ctx is done. A new producer is a new probe
// producer: new id, sequences from 0.
func (in *inventoryInstance) openProducer(ctx context.Context) bool {
	for in.p == nil {
		if ctx.Err() != nil {
			return false
		}
		p, err := in.r.env.Driver.NewProducer(ctx, in.r.result, driver.ProducerOptions{})
		if err != nil {
			if ctx.Err() == nil {
				in.r.noteErr("inventory result producer", err)
				_ = svc.Sleep(ctx, 500*time.Millisecond)
			}
			continue
		}
		in.p, in.rp = p, in.r.rst.Producer(in.r.rIDs.Add(1)-1)
	}
	return true
}

func (in *inventoryInstance) closeProducer() {
	if in.p != nil {
		in.p.Close()
		in.p = nil
	}
}

// reopen is the loop's Reopen: after a crash (counted by the handler) or
// an error (counted here as a restart) the instance starts again with a
// new consumer and a new result producer.
func (in *inventoryInstance) reopen(ctx context.Context, cause error) (driver.Consumer, error) {
	r := in.r
	in.closeProducer()
	if !errors.Is(cause, load.ErrCrash) {
		r.noteErr("inventory receive", cause)
		r.stats.restarts.Add(1)
		if err := svc.Sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
	cn, err := r.reopen(ctx, r.deduct, inventoryGroup, "inventory consumer")
	if err != nil {
		return nil, err
	}
	if !in.openProducer(ctx) {
		cn.Close()
		return nil, ctx.Err()
	}
	return cn, nil
}

// handle processes one stock.deduct delivery: in one transaction of the
// inventory database it deducts stock unless the order was applied before,
// then answers on stock.result. Faults: an injected processing failure
// (nack; without nack a "failed" answer in outbox mode, a crash in native
// mode) and a crash after every CrashEvery-th commit, before answering.
func (in *inventoryInstance) handle(ctx context.Context, d *driver.Delivery, _ envelope.Header, _ probe.Kind) load.Verdict {
	r := in.r
	now := time.Now()
	_, kind := in.pr.Record(d.Body, now)
	if kind == probe.Foreign || len(d.Body) < bodyMin {
		return load.Ack
	}
	id := int64(binary.BigEndian.Uint64(d.Body[idOffset:]))
	fail := r.c.FailureRate > 0 && in.rng.Float64() < r.c.FailureRate
	first, outcome, err := deduct(ctx, r.idb, id, 1, now.UnixNano(), fail)
	switch {
	case errors.Is(err, errInjected):
		r.stats.failures.Add(1)
		return in.failed(ctx, id)
	case err != nil:
		if ctx.Err() == nil {
			r.noteErr(fmt.Sprintf("inventory order %d", id), err)
		}
		return load.Nack
	}
	if !first {
		r.stats.dupDelivered.Add(1)
	} else {
		in.committed++
		if r.c.CrashEvery > 0 && in.committed%r.c.CrashEvery == 0 {
			// Crash after commit, before answering and acking.
			r.stats.crashes.Add(1)
			return load.Crash
		}
	}
	if err := in.answer(ctx, id, outcome); err != nil {
		if ctx.Err() != nil {
			return load.Nack
		}
		// The result producer may be broken: restart without acking; the
		// broker redelivers and the answer is retried.
		r.stats.restarts.Add(1)
		return load.Crash
	}
	return load.Ack
}

// failed handles an injected processing failure of order id.
func (in *inventoryInstance) failed(ctx context.Context, id int64) load.Verdict {
	r := in.r
	switch {
	case r.canNack:
		return load.Nack
	case !r.native:
		// No nack: answer "failed"; the relay resends later.
		if in.answer(ctx, id, outcomeFailed) == nil {
			return load.Ack // a lost ack only means a redelivery
		}
		return load.Nack // stays unacked: the driver cannot nack
	default:
		// Native mode without nack: restart without acking, so the broker
		// redelivers.
		r.stats.crashes.Add(1)
		return load.Crash
	}
}

// answer publishes outcome for order id to stock.result.
func (in *inventoryInstance) answer(ctx context.Context, id int64, outcome byte) error {
	now := time.Now()
	body, rp := in.body, in.rp
	rp.Stamp(body, now, now)
	binary.BigEndian.PutUint64(body[idOffset:], uint64(id))
	body[outcomeOffset] = outcome
	msgs := []driver.Message{{Key: binary.BigEndian.AppendUint32(nil, rp.ID()), Body: body}}
	err := in.p.Send(ctx, msgs)
	rp.Sent(msgs, err, time.Now())
	if err != nil && ctx.Err() == nil {
		in.r.noteErr("inventory result publish", err)
	}
	return err
}
