package svc

import (
	"context"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Handler processes one business delivery after the stick recorded it
// (h and kind are what probe.Consumer.Record returned). A nil error acks
// it; an error nacks it. ctx is the consumer's work context.
type Handler func(ctx context.Context, d *driver.Delivery, h envelope.Header, kind probe.Kind) error

// ConsumeOptions tune Consume.
type ConsumeOptions struct {
	Group    string // the group c belongs to (for Ready)
	Batch    int    // most deliveries per Receive
	Parallel int    // handlers run concurrently per batch; 1 = in order
	Ready    *Ready // marked when a ping arrives; may be nil
}

// Consume runs load.Loop on c for a service: pings are acked and marked
// in opts.Ready, never recorded nor handled; every other delivery is
// recorded with pr (in arrival order, on this goroutine) and handed to h
// (foreign bodies are acked without it; with a nil pr, only pings are
// handled and anything else is nacked). Consume acks what h accepted and
// nacks the rest (where the broker cannot nack they come back when c
// closes). A failed Receive, Ack or Nack does not stop it: the adapters
// reconnect, and what was not acked comes again (the ledger counts the
// duplicates), so it backs off (load.Backoff) and goes on. It returns
// nil, or the last Receive error when it stopped while Receive was
// failing; it does not close c.
//
// With opts.Parallel 1 deliveries are handled in order, one batch at a
// time; with opts.Parallel > 1 the loop is pipelined (see
// load.LoopOptions). Cancelling recv stops receiving, lets the handlers in
// progress finish and acks them. Cancelling work abandons the deliveries
// in progress unacked, as if the process died.
func Consume(recv, work context.Context, c driver.Consumer, pr *probe.Consumer, opts ConsumeOptions, h Handler) error {
	lo := load.LoopOptions{
		Batch:     opts.Batch,
		Parallel:  opts.Parallel,
		Probe:     pr,
		Intercept: intercept(opts.Ready, opts.Group, pr == nil),
	}
	var lh load.Handler
	if h != nil && pr != nil {
		lh = func(ctx context.Context, d *driver.Delivery, hd envelope.Header, kind probe.Kind) load.Verdict {
			if h(ctx, d, hd, kind) != nil {
				return load.Nack
			}
			return load.Ack
		}
	}
	return load.Loop(recv, work, c, lo, lh)
}

// intercept returns the load.Loop intercept of a service consumer: pings
// are acked and mark ready (when non-nil) for group; with nackAll, any
// other delivery is nacked (a business message arriving before the stick
// exists).
func intercept(ready *Ready, group string, nackAll bool) func(*driver.Delivery) (load.Verdict, bool) {
	return func(d *driver.Delivery) (load.Verdict, bool) {
		if Kind(d.Body) == KindPing {
			if ready != nil {
				ready.Mark(group)
			}
			return load.Ack, true
		}
		return load.Nack, nackAll
	}
}
