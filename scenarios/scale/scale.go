// Package scale measures how a broker's throughput, latency and memory
// change as the same total rate is spread over more destinations (1, 10,
// 100, 1000: each with one producer and one consumer) and then over more
// producer and consumer connections on one destination (1, 10, 100 of
// each). Every step is provisioned, measured, drained and torn down before
// the next; every message of every step is accounted.
//
// A step the broker cannot do on this machine (a queue limit, file
// handles, memory, a setup that does not finish within Setup) is reported
// with the broker's own error in the notes and as <step>_ok 0, and the run
// goes on with the next step: a finding, not a failure. A lost message or
// an incomplete drain in a step that ran fails the verdict, and so does a
// run in which no step ran. Metric names are in metrics.go.
package scale

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
)

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "scale" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "one rate over 1..1000 destinations, then 1..100 producer and consumer connections: throughput, p99, broker RSS per step"
}

// DefaultConfig implements scenarios.Scenario. The full run has seven
// steps of 25 s (5 s warm-up) at 2,000 msg/s; the quick run five steps of
// 6 s (1 s warm-up) at 1,000 msg/s, about a minute per broker.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 2000, Duration: 20 * time.Second, Warmup: 5 * time.Second, Drain: 30 * time.Second,
			Size: 1024, Producers: 1, Consumers: 1, Partitions: 1,
		},
		Destinations: []int{1, 10, 100, 1000}, Connections: []int{1, 10, 100},
		Batch: 100, Setup: 2 * time.Minute, Parallel: 32,
	}
	if quick {
		c.Rate, c.Duration, c.Warmup, c.Drain = 1000, 5*time.Second, time.Second, 10*time.Second
		c.Destinations, c.Connections, c.Setup = []int{1, 10, 100}, []int{1, 10}, time.Minute
	}
	return c
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("scale: config is %T, want *scale.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("scale: %w", err)
	}
	r := &run{c: c, env: env}
	return r.run(ctx), nil
}
