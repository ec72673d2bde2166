// Package pubsub is the raw producer/consumer load, in the manner of the
// OpenMessaging Benchmark: N producers send fixed-size messages at a target
// rate (or as fast as confirmed) to one destination read by M consumers of
// one group. It is the base of every performance comparison.
package pubsub

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
	r := &run{c: c, env: env}
	return r.run(ctx)
}
