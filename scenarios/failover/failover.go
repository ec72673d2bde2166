// Package failover measures what a broker cluster's high availability
// gives under load: a steady open-loop durable load runs while the node
// leading the destination is killed with kill -9 (mode "kill") or while
// every node is restarted gracefully in turn, as an upgrade would (mode
// "rolling"). It needs a cluster (scenarios.Env.Cluster, the contract of
// package scenarios/cluster) and refuses to run on a single node.
//
// Mode kill:
//
//  1. Load at Rate from the start; after Warmup + KillAt the node leading
//     the destination (cluster.Cluster.Leader) is killed.
//  2. It stays dead for Recovery, then starts again; the run waits (at
//     most SyncTimeout) until it is back in sync.
//  3. The load goes on for After, then stops; the run drains.
//
// Mode rolling stops (SIGTERM), starts and waits in sync for each node of
// cluster.Cluster.Nodes in turn, Gap apart, then loads for After.
//
// Measured, from each fault (the moment the node's processes are gone):
// producer unavailability (from the fault to the first confirmed
// send carrying a message intended at or after it), consumer
// unavailability (from a fault to the first delivery of a message intended
// at or after it), publish and end-to-end p99 before the first fault,
// during (until the last node is back in sync) and after, lost, duplicated
// and reordered (the probe's ledger), the time until the received rate is
// back at the target, and how long the node took to start and be in sync.
// In rolling mode the unavailability figures are the longest over the
// nodes. Metric names are the constants in metrics.go.
package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
)

// ErrNoCluster is what Run returns on a single-node topology
// (scenarios.Env.Cluster nil).
var ErrNoCluster = errors.New("failover needs --topology cluster: a single node has no failover to measure")

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "failover" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "kill -9 the node leading the destination under load (or restart every node in turn): unavailability, loss, duplicates, recovery (cluster topology only)"
}

// DefaultConfig implements scenarios.Scenario. The full run loads 1,000
// msg/s of 1 KiB for 5 s of warm-up and 20 s before the kill, leaves the
// node dead 60 s and loads 30 s after it is back in sync (about 2 min plus
// the restart). The quick run: 1 s warm-up, kill after 5 s, 60 s dead as
// in the full run, 10 s after (about 75 s plus the restart). The node
// stays dead that long in both because a shorter outage cannot tell a
// failover that takes longer from none, and the brokers' own mechanisms
// with their default clients take up to about a minute: Kafka fences a
// dead broker after broker.session.timeout.ms (9 s) and kafka-go rejoins
// its group under a new member id, which waits for the old one's session
// (10 s) to expire; RocketMQ's controller elects a new master and its
// clients learn it from the name server every 30 s.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 1000, Duration: 10 * time.Minute, Warmup: 5 * time.Second, Drain: time.Minute,
			Size: 1024, Producers: 2, Consumers: 1, Partitions: 1,
		},
		Mode: ModeKill, KillAt: 20 * time.Second, Recovery: time.Minute, After: 30 * time.Second,
		Gap: 10 * time.Second, SyncTimeout: 3 * time.Minute, Batch: 100, RateTolerance: 0.1,
	}
	if quick {
		c.Duration, c.Warmup, c.Drain = 5*time.Minute, time.Second, 30*time.Second
		c.KillAt, c.Recovery, c.After, c.Gap, c.SyncTimeout = 5*time.Second, time.Minute, 10*time.Second, 3*time.Second, 2*time.Minute
	}
	return c
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("failover: config is %T, want *failover.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("failover: %w", err)
	}
	if env.Cluster == nil {
		return nil, ErrNoCluster
	}
	r := &run{c: c, env: env}
	return r.run(ctx)
}
