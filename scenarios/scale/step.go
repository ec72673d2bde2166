package scale

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// group is the one consumer group of every destination.
const group = "g"

// outcome is what one step measured.
type outcome struct {
	s          step
	err        error // why the step could not run (setup), or nil
	setup      time.Duration
	start, end time.Time // the measured part: clock start to drain end
	sum        probe.Summary
	drained    bool
	complete   bool // not interrupted
	failed     int  // failed Sends
	lastErr    error
	consErrs   []error
}

// clients are one step's destinations, producers and consumers.
type clients struct {
	dests     []driver.Destination
	cleanups  []func(context.Context) error
	producers []driver.Producer // producer i sends to dests[i%len(dests)]
	consumers []driver.Consumer // consumer i reads dests[i%len(dests)]
}

// forEach runs fn(i) for i in [0, n), at most par at once, and returns the
// first error; after an error or once ctx is done no new call starts.
func forEach(ctx context.Context, n, par int, fn func(i int) error) error {
	sem := make(chan struct{}, max(par, 1))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return first != nil }
	for i := range n {
		if ctx.Err() != nil || failed() {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// open provisions the step's destinations and opens its clients within
// c.Setup. What was opened is in cl even on error.
func (r *run) open(ctx context.Context, s step, idx int, cl *clients) error {
	c, env := r.c, r.env
	sctx, cancel := context.WithTimeout(ctx, c.Setup)
	defer cancel()
	cl.dests = make([]driver.Destination, s.destinations)
	for i := range cl.dests {
		cl.dests[i] = driver.Destination{Name: fmt.Sprintf("%s-scale-%d-%d", env.Prefix, idx, i), Groups: []string{group}, Partitions: s.partitions}
	}
	cl.cleanups = make([]func(context.Context) error, s.destinations)
	cl.producers = make([]driver.Producer, s.producers)
	cl.consumers = make([]driver.Consumer, s.consumers)
	wrap := func(what string, err error) error {
		if sctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: setup did not finish within %s: %w", what, c.Setup, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	err := forEach(sctx, s.destinations, c.Parallel, func(i int) error {
		cu, err := env.Driver.Provision(sctx, cl.dests[i])
		if err != nil {
			return wrap("provision "+cl.dests[i].Name, err)
		}
		cl.cleanups[i] = cu
		return nil
	})
	if err != nil {
		return err
	}
	err = forEach(sctx, s.consumers, c.Parallel, func(i int) error {
		cn, err := env.Driver.NewConsumer(sctx, cl.dests[i%len(cl.dests)], driver.ConsumerOptions{Group: group})
		if err != nil {
			return wrap(fmt.Sprintf("consumer %d of %d", i+1, s.consumers), err)
		}
		cl.consumers[i] = cn
		return nil
	})
	if err != nil {
		return err
	}
	return forEach(sctx, s.producers, c.Parallel, func(i int) error {
		p, err := env.Driver.NewProducer(sctx, cl.dests[i%len(cl.dests)], driver.ProducerOptions{})
		if err != nil {
			return wrap(fmt.Sprintf("producer %d of %d", i+1, s.producers), err)
		}
		cl.producers[i] = p
		return nil
	})
}

// close closes what open opened and deletes the destinations, each bounded.
func (r *run) close(ctx context.Context, cl *clients) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.c.Setup)
	defer cancel()
	_ = forEach(cctx, len(cl.producers)+len(cl.consumers), r.c.Parallel, func(i int) error {
		var x interface{ Close() error } // nil when it was never opened
		if i < len(cl.producers) {
			if cl.producers[i] != nil {
				x = cl.producers[i]
			}
		} else if cn := cl.consumers[i-len(cl.producers)]; cn != nil {
			x = cn
		}
		if x != nil {
			x.Close()
		}
		return nil
	})
	_ = forEach(cctx, len(cl.cleanups), r.c.Parallel, func(i int) error {
		if cu := cl.cleanups[i]; cu != nil {
			if err := cu(cctx); err != nil {
				r.env.Log.Warn("scale: cleanup failed", "destination", cl.dests[i].Name, "err", err)
			}
		}
		return nil
	})
}

// runStep sets up, measures, drains and tears down one step.
func (r *run) runStep(ctx context.Context, s step, idx int) outcome {
	c := r.c
	o := outcome{s: s}
	setupStart := time.Now()
	var cl clients
	defer r.close(ctx, &cl)
	if err := r.open(ctx, s, idx, &cl); err != nil {
		o.err = err
		o.setup = time.Since(setupStart)
		return o
	}
	o.setup = time.Since(setupStart)
	o.start = time.Now()
	st := probe.New(probe.Options{RunID: r.env.RunID, Groups: []string{group}, Start: o.start, Warmup: c.Warmup,
		Seconds: int((c.Warmup+c.Duration+c.Drain)/time.Second) + 30})
	consCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var mu sync.Mutex
	var cwg sync.WaitGroup
	for _, cn := range cl.consumers {
		pr := st.Consumer(group)
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			if err := load.Consume(consCtx, cn, pr, c.Batch); err != nil {
				mu.Lock()
				o.consErrs = append(o.consErrs, err)
				mu.Unlock()
			}
		}()
	}
	end := o.start.Add(c.Warmup + c.Duration)
	var pwg sync.WaitGroup
	for i, p := range cl.producers {
		pr := st.Producer(uint32(i))
		sched := load.NewSchedule(c.Rate/float64(len(cl.producers)), o.start, end, c.Batch)
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			failed, last := load.Produce(ctx, p, pr, sched, c.Size)
			mu.Lock()
			o.failed += failed
			if last != nil {
				o.lastErr = last
			}
			mu.Unlock()
		}()
	}
	pwg.Wait()
	o.drained = load.Drain(ctx, st, c.Drain, c.Drain)
	r.sampler.Sample() // at least one reading within the step
	o.end = time.Now()
	stopConsumers()
	if !svc.StopConsumers(&cwg, func() {
		for _, cn := range cl.consumers {
			cn.Close()
		}
	}) {
		r.env.Log.Warn("scale: consume loops did not stop", "step", s.name)
	}
	o.complete = ctx.Err() == nil
	o.sum = st.Summary(o.complete && o.drained)
	if o.sum.Accounting.Confirmed == 0 && o.complete {
		o.err = errors.New("no message was confirmed")
		if o.lastErr != nil {
			o.err = fmt.Errorf("no message was confirmed: %w", o.lastErr)
		}
	}
	return o
}
