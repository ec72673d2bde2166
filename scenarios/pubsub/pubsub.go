// Package pubsub is the raw producer/consumer load, in the manner of the
// OpenMessaging Benchmark: N producers send fixed-size messages at a target
// rate (or as fast as confirmed) to one destination read by M consumers of
// one group. It is the base of every performance comparison.
package pubsub

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Config of the pubsub scenario. It uses every Common field; Rate is the
// total over all producers.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Batch is the most messages one Send carries.
	Batch int `yaml:"batch" json:"batch"`
	// Groups is how many consumer groups each receive every message
	// (fan-out); Consumers consumers run in each.
	Groups int `yaml:"groups" json:"groups"`
}

// Validate checks every field.
func (c *Config) Validate() error {
	if err := scenarios.ValidateShared(c); err != nil {
		return err
	}
	if c.Batch < 1 || c.Batch > 10000 {
		return &scenarios.FieldError{Field: "batch", Msg: "must be between 1 and 10000"}
	}
	if c.Groups < 1 || c.Groups > 64 {
		return &scenarios.FieldError{Field: "groups", Msg: "must be between 1 and 64"}
	}
	return nil
}

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "pubsub" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "raw producer/consumer load: throughput, publish and end-to-end latency, full accounting"
}

// DefaultConfig implements scenarios.Scenario.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 1000, Duration: 60 * time.Second, Warmup: 5 * time.Second, Drain: 30 * time.Second,
			Size: 1024, Producers: 1, Consumers: 1, Partitions: 1,
		},
		Batch: 100, Groups: 1,
	}
	if quick {
		c.Duration, c.Warmup, c.Drain = 10*time.Second, 2*time.Second, 20*time.Second
	}
	return c
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("pubsub: config is %T, want *pubsub.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("pubsub: %w", err)
	}
	groups := make([]string, c.Groups)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%d", i)
	}
	dest := driver.Destination{Name: env.Prefix + "-pubsub", Groups: groups, Partitions: c.Partitions}
	env.Report("provision", 0)
	cleanup, err := env.Driver.Provision(ctx, dest)
	if err != nil {
		return nil, fmt.Errorf("provision %s: %w", dest.Name, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := cleanup(cctx); err != nil {
			env.Log.Warn("cleanup failed", "destination", dest.Name, "err", err)
		}
	}()

	// Consumers first, so none misses the start.
	consumers := make([]driver.Consumer, 0, c.Groups*c.Consumers)
	defer func() {
		for _, cn := range consumers {
			cn.Close()
		}
	}()
	for _, g := range groups {
		for range c.Consumers {
			cn, err := env.Driver.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: g})
			if err != nil {
				return nil, fmt.Errorf("consumer of group %s: %w", g, err)
			}
			consumers = append(consumers, cn)
		}
	}
	producers := make([]driver.Producer, 0, c.Producers)
	defer func() {
		for _, p := range producers {
			p.Close()
		}
	}()
	for range c.Producers {
		p, err := env.Driver.NewProducer(ctx, dest, driver.ProducerOptions{})
		if err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		producers = append(producers, p)
	}

	start := time.Now()
	total := c.Warmup + c.Duration
	st := probe.New(probe.Options{RunID: env.RunID, Groups: groups, Start: start, Warmup: c.Warmup,
		Seconds: int((total+c.Drain)/time.Second) + 60})

	consCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var cwg sync.WaitGroup
	consErrs := make(chan error, len(consumers))
	for i, cn := range consumers {
		pr := st.Consumer(groups[i/c.Consumers])
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			if err := load.Consume(consCtx, cn, pr, c.Batch, nil); err != nil {
				consErrs <- err
			}
		}()
	}

	var pwg sync.WaitGroup
	end := start.Add(total)
	var sendMu sync.Mutex
	var sendFailures int
	var lastSendErr error
	for i, p := range producers {
		pr := st.Producer(uint32(i))
		sched := load.NewSchedule(c.Rate/float64(c.Producers), start, end, c.Batch)
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			n, err := load.Produce(ctx, p, pr, sched, c.Size)
			sendMu.Lock()
			sendFailures += n
			if err != nil {
				lastSendErr = err
			}
			sendMu.Unlock()
		}()
	}
	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	progressWG.Add(1)
	go func() {
		defer progressWG.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
			}
			select {
			case <-progressDone:
				return
			default:
				env.Report("load", min(1, float64(time.Since(start))/float64(total)))
			}
		}
	}()
	pwg.Wait()
	close(progressDone)
	progressWG.Wait()

	env.Report("drain", 1)
	drained := load.Drain(ctx, st, c.Drain, c.Drain)
	stopConsumers()
	cwg.Wait()
	close(consErrs)

	complete := ctx.Err() == nil
	sum := st.Summary(complete && drained)
	res := &result.Result{
		Config:     c,
		Latency:    sum.Latency,
		Throughput: sum.Throughput,
		Accounting: sum.Accounting,
		Timeline:   sum.Timeline,
	}
	res.SetMetric("send_failures", float64(sendFailures), "count")
	res.SetMetric("target_rate", c.Rate, "msg/s")
	if lastSendErr != nil {
		res.Notes = append(res.Notes, "last send error: "+lastSendErr.Error())
	}
	for err := range consErrs {
		res.Notes = append(res.Notes, "consumer stopped: "+err.Error())
	}
	a := sum.Accounting
	res.Verdict = result.Verdict{Pass: true}
	if complete {
		res.Verdict.Check(a.Lost == 0, "%d confirmed messages lost", a.Lost)
		res.Verdict.Check(drained, "drain did not complete within %s: %d messages missing", c.Drain, st.Snapshot().Remaining())
		res.Verdict.Check(a.Confirmed > 0, "no message was confirmed")
	}
	return res, nil
}
