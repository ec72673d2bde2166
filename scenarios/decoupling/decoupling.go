// Package decoupling is the application-decoupling scenario (order →
// inventory), scenarios.md §2.
//
// An order service takes orders open loop at Rate per second; the inventory
// service (its own database: stock and a deductions table keyed by order
// id; embedded SQLite, or PostgreSQL with database_url) deducts one unit per
// order, at most Capacity per second. For a window of each mode's measured
// load (default 30% to 60%) the inventory service is down:
//
//   - direct: the order service calls the inventory over HTTP on loopback
//     (a real net/http server inside the process). While it is down its
//     listener is closed, calls are refused and those orders fail.
//   - mq: the order service writes the order to its database, publishes
//     order.placed and answers once the broker confirmed. The inventory
//     consumer is killed at the window's start (its work is abandoned and
//     its subscription closed, so unacked messages go back to the broker)
//     and a new one subscribes at the window's end; the backlog grows, then
//     drains. Deductions are idempotent by order id, so a redelivered order
//     is counted as a duplicate and never deducted twice.
//
// Backlog is the number of accepted (confirmed) orders not yet deducted,
// sampled every 100 ms; the stick's timeline carries the broker-side view
// (confirmed − received) and, when the driver reads queue depth, a depth
// series is added. Drain time runs from the end of the window until the
// backlog is back to its level before the outage, and is compared with
// backlog / (Capacity − Rate).
package decoupling

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

// The modes, in the order they run.
const (
	Direct = "direct"
	MQ     = "mq"
)

// Group is the inventory service's consumer group.
const Group = "inventory"

// kindOrderPlaced marks an order.placed body (the byte after the envelope);
// the order id follows as 8 bytes big endian.
const kindOrderPlaced byte = 2

const minSize = svc.PayloadOffset + 8

// phaseGap separates the modes.
const phaseGap = time.Second

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "decoupling" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "order → inventory with an inventory outage: direct HTTP call fails, message queue backlog grows and drains, stock stays consistent"
}

// DefaultConfig implements scenarios.Scenario.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 100, Duration: 60 * time.Second, Warmup: 3 * time.Second, Drain: 60 * time.Second,
			Size: 128, Producers: 32, Consumers: 1, Partitions: 1,
		},
		Modes:       []string{Direct, MQ},
		OutageStart: 0.3, OutageEnd: 0.6,
		Capacity: 250, InitialStock: 1_000_000,
		HTTPTimeout: 2 * time.Second, MaxInFlight: 2000, Batch: 32, ReadyTimeout: 60 * time.Second,
	}
	if quick {
		c.Duration, c.Warmup, c.Drain = 16*time.Second, time.Second, 30*time.Second
	}
	return c
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("decoupling: config is %T, want *decoupling.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("decoupling: %w", err)
	}
	r := &run{c: c, env: env}
	return r.run(ctx)
}
