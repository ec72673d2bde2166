package load

import (
	"context"
	"errors"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Verdict is what a Handler decides for one delivery.
type Verdict uint8

const (
	// Ack acknowledges the delivery; the loop batches acks.
	Ack Verdict = iota
	// Nack hands the delivery back to the broker for redelivery. Where the
	// broker cannot nack, it stays unacked and comes back when the consumer
	// closes.
	Nack
	// Crash simulates a process crash at this delivery: it and the rest of
	// its batch stay unsettled (the broker redelivers them once the
	// consumer is closed), the verdicts given before it are settled, and
	// the consumer is replaced (see LoopOptions.Reopen). Pipelined, the
	// handlers still running are waited for and their verdicts dropped.
	Crash
)

// ErrCrash is the cause LoopOptions.Reopen receives, and what Loop returns
// without Reopen, after a handler returned Crash.
var ErrCrash = errors.New("load: handler crashed the consumer")

// Handler decides what to do with one delivery, after the loop recorded it
// (h and kind are what probe.Consumer.Record returned). ctx is the loop's
// work context. It runs on the loop's goroutine, in arrival order, unless
// LoopOptions.Parallel > 1.
type Handler func(ctx context.Context, d *driver.Delivery, h envelope.Header, kind probe.Kind) Verdict

// LoopOptions tune Loop. The zero value receives one delivery at a time,
// records nothing and hands every delivery to the handler.
type LoopOptions struct {
	// Batch is the most deliveries per Receive (≤ 0: 1).
	Batch int
	// Parallel > 1 pipelines the loop: each delivery is handled in its own
	// goroutine as soon as it arrives (at most Parallel at once), and
	// finished deliveries are settled between Receives (a Receive then
	// waits at most 20 ms while handlers run, so settling is not held
	// back by a quiet queue). Otherwise deliveries are handled in order,
	// one batch at a time, and each batch is settled once handled.
	Parallel int
	// Probe records every delivery Intercept did not take, in arrival
	// order, on the loop's goroutine, stamped with the time its batch was
	// received. A delivery it finds foreign (another run's, or no
	// envelope) is acked without calling the handler. With a nil Probe
	// nothing is recorded and the handler gets every delivery with a zero
	// header and kind probe.Foreign (it may record itself).
	Probe *probe.Consumer
	// Intercept, when non-nil, sees each delivery first; when it returns
	// true the delivery is settled with v (Ack or Nack), neither recorded
	// nor handled (readiness pings). It runs on the loop's goroutine.
	Intercept func(d *driver.Delivery) (v Verdict, taken bool)
	// Reopen, when non-nil, replaces a broken consumer: after a failed
	// Receive, Ack or Nack (ErrClosed included; an unsupported Nack is not
	// a failure) or a Crash verdict, the loop closes the consumer and
	// calls Reopen with the cause (ErrCrash after a Crash); Reopen waits,
	// counts and retries as the caller's policy says and returns the new
	// consumer, or an error to stop the loop (say, once ctx is done). With
	// Reopen the loop owns c and every consumer Reopen returns, and closes
	// the last one when it returns. Without Reopen the caller owns c; a
	// failed Receive backs off (Backoff) and retries on c, a failed Ack or
	// Nack is ignored (what was not settled comes again and the ledger
	// counts it as a duplicate), and a Crash verdict returns ErrCrash.
	Reopen func(ctx context.Context, cause error) (driver.Consumer, error)
}

// Loop is the one consume loop of the scenarios: it receives from c,
// records each delivery with opts.Probe, asks h what to do with it (a nil h
// acks everything) and settles the verdicts, until recv or work is done or,
// without opts.Reopen, c is closed. Only Loop's goroutine touches the
// consumer, as the driver contract requires.
//
// Cancelling recv is a graceful stop: the loop stops receiving, lets the
// handlers in progress finish and settles them. Cancelling work is a crash:
// the deliveries in progress are abandoned unsettled, as if the process
// died, and handlers see work done.
//
// Loop returns nil when it stopped cleanly; without Reopen, the last
// Receive error when it stopped while Receive was failing, or ErrCrash;
// with Reopen, the error Reopen returned.
func Loop(recv, work context.Context, c driver.Consumer, opts LoopOptions, h Handler) error {
	rctx, cancel := context.WithCancel(recv)
	defer cancel()
	stop := context.AfterFunc(work, cancel)
	defer stop()
	l := &loop{rctx: rctx, work: work, c: c, opts: opts, h: h, batch: max(opts.Batch, 1)}
	if opts.Reopen != nil {
		defer func() {
			if l.c != nil {
				l.c.Close()
			}
		}()
	}
	for {
		var cause error
		if opts.Parallel > 1 {
			cause = l.pipelined()
		} else {
			cause = l.sequential()
		}
		if cause == nil || opts.Reopen == nil {
			return cause
		}
		if work.Err() != nil || rctx.Err() != nil {
			return nil
		}
		l.c.Close()
		l.c = nil
		nc, err := opts.Reopen(work, cause)
		if err != nil {
			return err
		}
		l.c = nc
	}
}

// Consume is Loop with one context for both stops, recording with pr and
// acking every delivery: the consumer side of a pure load (pubsub).
func Consume(ctx context.Context, c driver.Consumer, pr *probe.Consumer, maxBatch int) error {
	return Loop(ctx, ctx, c, LoopOptions{Batch: maxBatch, Probe: pr}, nil)
}

// loop is one Loop's state; only its goroutine uses it.
type loop struct {
	rctx, work context.Context
	c          driver.Consumer
	opts       LoopOptions
	h          Handler
	batch      int
	b          Backoff
	ack, nack  []*driver.Delivery
}

// received handles a failed Receive. It returns again to receive again,
// or the cause the inner loop must return.
func (l *loop) received(err error) (again bool, cause error) {
	if l.opts.Reopen != nil {
		if l.rctx.Err() != nil {
			return false, nil
		}
		return false, err
	}
	if l.b.Retry(l.rctx, err) {
		return true, nil
	}
	return false, l.b.Err
}

// pre decides what happens to d before any handler: taken says it is
// settled with v (intercepted, or foreign to the probe); otherwise h and
// kind go to the handler.
func (l *loop) pre(d *driver.Delivery, now time.Time) (h envelope.Header, kind probe.Kind, v Verdict, taken bool) {
	if l.opts.Intercept != nil {
		if v, taken = l.opts.Intercept(d); taken {
			return h, probe.Foreign, v, true
		}
	}
	if l.opts.Probe == nil {
		return h, probe.Foreign, Ack, l.h == nil
	}
	h, kind = l.opts.Probe.Record(d.Body, now)
	return h, kind, Ack, kind == probe.Foreign || l.h == nil
}

func (l *loop) add(d *driver.Delivery, v Verdict) {
	if v == Ack {
		l.ack = append(l.ack, d)
	} else {
		l.nack = append(l.nack, d)
	}
}

// settle acks and nacks what was collected, unless work is done, and
// empties both lists. It returns the first failure (an unsupported Nack
// and failures after work is done do not count).
func (l *loop) settle() error {
	var err error
	if l.work.Err() == nil {
		if len(l.ack) > 0 {
			err = l.c.Ack(l.work, l.ack)
		}
		if len(l.nack) > 0 {
			if nerr := l.c.Nack(l.work, l.nack); nerr != nil && !errors.Is(nerr, errors.ErrUnsupported) && err == nil {
				err = nerr
			}
		}
		if l.work.Err() != nil {
			err = nil
		}
	}
	l.drop()
	return err
}

// drop forgets what was collected, unsettled.
func (l *loop) drop() {
	clear(l.ack)
	clear(l.nack)
	l.ack, l.nack = l.ack[:0], l.nack[:0]
}

// sequential handles each batch in order on this goroutine. It returns
// nil when stopped; a non-nil error is, with Reopen, the cause for which
// the consumer must be replaced and, without, what Loop returns.
func (l *loop) sequential() error {
	for {
		ds, err := l.c.Receive(l.rctx, l.batch)
		if err != nil {
			if again, cause := l.received(err); !again {
				return cause
			}
			continue
		}
		l.b.Reset()
		now := time.Now()
		crashed := false
		for _, d := range ds {
			if l.h != nil && l.work.Err() != nil {
				return nil // died mid-batch: nothing settled
			}
			h, kind, v, taken := l.pre(d, now)
			if !taken {
				if v = l.h(l.work, d, h, kind); v == Crash {
					crashed = true
					break
				}
			}
			l.add(d, v)
		}
		if l.work.Err() != nil {
			return nil
		}
		if err := l.settle(); err != nil && l.opts.Reopen != nil {
			return err
		}
		if crashed {
			return ErrCrash
		}
	}
}

// ackEvery bounds how long finished deliveries wait for their settlement
// in the pipelined loop.
const ackEvery = 20 * time.Millisecond

// outcome is one pipelined handler's verdict.
type outcome struct {
	d *driver.Delivery
	v Verdict
}

// pipe is the state of one pipelined run: the handlers in flight and
// whether one of them crashed.
type pipe struct {
	l        *loop
	results  chan outcome // never blocks a handler: at most Parallel in flight
	inflight int
	crashed  bool
}

// collect takes one handler's verdict; after a crash verdicts are dropped.
func (p *pipe) collect(r outcome) {
	p.inflight--
	switch {
	case p.crashed:
	case r.v == Crash:
		p.crashed = true
	default:
		p.l.add(r.d, r.v)
	}
}

// collectDone takes the verdicts already in, without waiting.
func (p *pipe) collectDone() {
	for {
		select {
		case r := <-p.results:
			p.collect(r)
		default:
			return
		}
	}
}

// wait waits for the handlers in progress, unless work is done.
func (p *pipe) wait() {
	for p.inflight > 0 {
		select {
		case r := <-p.results:
			p.collect(r)
		case <-p.l.work.Done():
			return
		}
	}
}

// finish is the graceful stop: the handlers in progress finish and are
// settled.
func (p *pipe) finish(cause error) error {
	p.wait()
	_ = p.l.settle()
	return cause
}

// pipelined handles each delivery in its own goroutine, at most
// opts.Parallel at once, and settles between Receives. It returns like
// sequential, once no handler it started runs any more (unless work is
// done).
func (l *loop) pipelined() error {
	par := l.opts.Parallel
	p := &pipe{l: l, results: make(chan outcome, par)}
	for {
		p.collectDone()
		if p.crashed {
			_ = l.settle()
			p.wait() // what the others decide now is abandoned with the crash
			return ErrCrash
		}
		if err := l.settle(); err != nil && l.opts.Reopen != nil {
			p.wait()
			l.drop()
			return err
		}
		if l.work.Err() != nil {
			return nil
		}
		if p.inflight >= par {
			select {
			case r := <-p.results:
				p.collect(r)
				continue
			case <-l.rctx.Done():
				return p.finish(l.b.Err)
			}
		}
		rc, cancelRc := l.rctx, context.CancelFunc(func() {})
		if p.inflight > 0 {
			rc, cancelRc = context.WithTimeout(l.rctx, ackEvery)
		}
		ds, err := l.c.Receive(rc, min(l.batch, par-p.inflight))
		timedOut := rc.Err() != nil && l.rctx.Err() == nil
		cancelRc()
		if err != nil {
			if timedOut {
				continue
			}
			if l.rctx.Err() != nil {
				if l.opts.Reopen != nil {
					return p.finish(nil)
				}
				return p.finish(l.b.Err)
			}
			again, cause := l.received(err)
			if again {
				continue
			}
			if cause != nil && l.opts.Reopen != nil {
				p.wait()
				l.drop()
			}
			return cause // closed, without Reopen: nothing can be settled
		}
		l.b.Reset()
		now := time.Now()
		for _, d := range ds {
			h, kind, v, taken := l.pre(d, now)
			if taken {
				l.add(d, v)
				continue
			}
			p.inflight++
			go func() {
				p.results <- outcome{d, l.h(l.work, d, h, kind)}
			}()
		}
	}
}

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
