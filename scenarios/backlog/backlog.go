// Package backlog measures how a broker copes with a large backlog, the
// folklore's "delay, accumulation and blocking under high concurrency and
// large data". In the manner of OpenMessaging Benchmark's backlog mode, but
// with explicit ends:
//
//  1. Accumulate: producers send at Rate with no consumer until TargetBytes
//     were sent or Duration passed (the result says which). Measured:
//     publish rate and latency, whether and for how long the broker blocked
//     producers (driver.BlockReporter: RabbitMQ's connection.blocked with
//     the alarm) or slowed them without saying so (stalled sends: longer
//     than StallFactor × the median), broker RSS and disk use.
//  2. Drain: consumers open and start; producers go on at DrainRate for
//     ProduceFor, then stop; the run ends once every confirmed message was
//     received or Drain (counted from the consumers' start) passed.
//     Measured: the drain rate (received from the consumers' start until
//     they caught up, i.e. the backlog first fell to one second of
//     DrainRate), the rate until empty, the receive rate while producers
//     send, the time to catch up and to drain, the age of the oldest
//     message at delivery (maximum end-to-end latency), lost, duplicated,
//     reordered.
//
// Blocking and stalls are findings (metrics and notes), not failures; a
// lost message or an incomplete drain fails the verdict. Metric names are
// the constants in metrics.go.
package backlog

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
func (Scenario) Name() string { return "backlog" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "accumulate a 1 GiB backlog with no consumer, then drain it while producing: blocking, stalls, drain rate, oldest message age"
}

// DefaultConfig implements scenarios.Scenario. The full run builds 1 GiB
// of 1 KiB messages at 10,000 msg/s (about 105 s; at most 5 min), then
// produces 30 s at 2,000 msg/s while draining (at most 5 min). The quick
// run builds 100 MiB at 5,000 msg/s (about 20 s; at most 30 s), then
// produces 10 s at 1,000 msg/s while draining (at most 40 s): about a
// minute on a broker that sustains the rate.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 10000, Duration: 5 * time.Minute, Drain: 5 * time.Minute,
			Size: 1024, Producers: 2, Consumers: 2, Partitions: 2,
		},
		TargetBytes: 1 << 30, DrainRate: 2000, ProduceFor: 30 * time.Second,
		Batch: 100, StallFactor: 10, StallMin: 200 * time.Millisecond,
	}
	if quick {
		c.Rate, c.Duration, c.Drain = 5000, 30*time.Second, 40*time.Second
		c.TargetBytes, c.DrainRate, c.ProduceFor = 100<<20, 1000, 10*time.Second
	}
	return c
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("backlog: config is %T, want *backlog.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("backlog: %w", err)
	}
	r := &run{c: c, env: env}
	return r.run(ctx)
}
