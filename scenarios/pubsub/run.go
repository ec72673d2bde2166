package pubsub

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// run is one run of the scenario.
type run struct {
	c         *Config
	env       scenarios.Env
	groups    []string
	dest      driver.Destination
	consumers []driver.Consumer // Consumers per group, group by group
	producers []driver.Producer
	st        *probe.Stick
	stats     stats
}

func (r *run) run(ctx context.Context) (*result.Result, error) {
	c, env := r.c, r.env
	r.groups = make([]string, c.Groups)
	for i := range r.groups {
		r.groups[i] = fmt.Sprintf("g%d", i)
	}
	r.dest = driver.Destination{Name: env.Prefix + "-pubsub", Groups: r.groups, Partitions: c.Partitions}
	env.Report("provision", 0)
	cleanup, err := env.Driver.Provision(ctx, r.dest)
	if err != nil {
		return nil, fmt.Errorf("provision %s: %w", r.dest.Name, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := cleanup(cctx); err != nil {
			env.Log.Warn("cleanup failed", "destination", r.dest.Name, "err", err)
		}
	}()
	defer r.closeClients()
	if err := r.openClients(ctx); err != nil {
		return nil, err
	}

	start := time.Now()
	total := c.Warmup + c.Duration
	r.st = probe.New(probe.Options{RunID: env.RunID, Groups: r.groups, Start: start, Warmup: c.Warmup,
		Seconds: int((total+c.Drain)/time.Second) + 60})
	consCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var cwg sync.WaitGroup
	r.startConsumers(consCtx, &cwg)
	stop := svc.ReportProgress(env.Report, start, total, []svc.Phase{{Name: "load"}})
	r.produce(ctx, start, start.Add(total))
	stop()

	env.Report("drain", 1)
	drained := load.Drain(ctx, r.st, c.Drain, c.Drain)
	stopConsumers()
	cwg.Wait()
	return r.result(ctx.Err() == nil, drained), nil
}

// openClients opens the consumers first, so none misses the start, then
// the producers.
func (r *run) openClients(ctx context.Context) error {
	for _, g := range r.groups {
		for range r.c.Consumers {
			cn, err := r.env.Driver.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: g})
			if err != nil {
				return fmt.Errorf("consumer of group %s: %w", g, err)
			}
			r.consumers = append(r.consumers, cn)
		}
	}
	for range r.c.Producers {
		p, err := r.env.Driver.NewProducer(ctx, r.dest, driver.ProducerOptions{})
		if err != nil {
			return fmt.Errorf("producer: %w", err)
		}
		r.producers = append(r.producers, p)
	}
	return nil
}

func (r *run) closeClients() {
	for _, p := range r.producers {
		p.Close()
	}
	for _, cn := range r.consumers {
		cn.Close()
	}
}

// startConsumers runs one consume loop per consumer (counted by wg) until
// ctx is done.
func (r *run) startConsumers(ctx context.Context, wg *sync.WaitGroup) {
	for i, cn := range r.consumers {
		pr := r.st.Consumer(r.groups[i/r.c.Consumers])
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := load.Consume(ctx, cn, pr, r.c.Batch); err != nil {
				r.stats.consumerStopped(err)
			}
		}()
	}
}

// produce runs every producer on its share of the rate from start until
// end, and returns once they all stopped.
func (r *run) produce(ctx context.Context, start, end time.Time) {
	var wg sync.WaitGroup
	for i, p := range r.producers {
		pr := r.st.Producer(uint32(i))
		sched := load.NewSchedule(r.c.Rate/float64(r.c.Producers), start, end, r.c.Batch)
		if r.c.ClosedLoop {
			sched.WithGate(load.ReceiptGate(r.st, len(r.groups), r.c.Drain))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.stats.sent(load.Produce(ctx, p, pr, sched, r.c.Size))
		}()
	}
	wg.Wait()
}
