package failover

import (
	"fmt"
	"time"

	"github.com/mqbench/mqbench/scenarios"
)

// Modes of the scenario.
const (
	ModeKill    = "kill"    // kill -9 the leader, restart it after Recovery
	ModeRolling = "rolling" // stop (SIGTERM), start and resync every node in turn
)

// Config of the failover scenario.
//
// Common fields, as this scenario reads them: Rate is the total open-loop
// rate (it must be > 0: the recovery of the received rate is measured
// against it); Duration bounds the whole load after the warm-up (the run
// stops the load there even if a node never came back); Warmup is left out
// of every figure; Drain bounds the wait for the last messages after the
// load; Size, Producers, Consumers (one group) and Partitions as usual
// (one partition by default, so that one node leads the destination).
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Mode is "kill" (default) or "rolling".
	Mode string `yaml:"mode" json:"mode"`
	// KillAt is when the first fault happens, after the warm-up.
	KillAt time.Duration `yaml:"kill_at" json:"kill_at"`
	// Recovery is how long the killed node stays dead before it starts
	// again (kill mode).
	Recovery time.Duration `yaml:"recovery" json:"recovery"`
	// After is how long the load goes on once the last node is in sync.
	After time.Duration `yaml:"after" json:"after"`
	// Gap is the pause between two nodes' restarts (rolling mode).
	Gap time.Duration `yaml:"gap" json:"gap"`
	// SyncTimeout bounds each node's start plus its wait until in sync;
	// each kill or stop is bounded by it too.
	SyncTimeout time.Duration `yaml:"sync_timeout" json:"sync_timeout"`
	// Batch is the most messages one Send carries.
	Batch int `yaml:"batch" json:"batch"`
	// RateTolerance is how far below Rate a second's received count may be
	// and still count as at the target (0.1: at least 90% of Rate).
	RateTolerance float64 `yaml:"rate_tolerance" json:"rate_tolerance"`
	// Unreplicated keeps the destination on one node
	// (driver.Destination.Unreplicated): the negative control, whose run
	// must show loss or producers and consumers waiting for the restart.
	// Brokers that protect every destination alike refuse it.
	Unreplicated bool `yaml:"unreplicated" json:"unreplicated"`
}

// Bounds of the scenario's own fields.
const (
	MaxPhase = time.Hour
	MaxBatch = 10000
)

// Validate checks every field (ValidateShared first: no NaN, infinity or
// overlong duration anywhere).
func (c *Config) Validate() error {
	if err := scenarios.ValidateShared(c); err != nil {
		return err
	}
	phase := func(name string, d time.Duration, min time.Duration) error {
		if d < min || d > MaxPhase {
			return &scenarios.FieldError{Field: name, Msg: "must be between " + min.String() + " and 1h"}
		}
		return nil
	}
	switch {
	case c.Mode != "" && c.Mode != ModeKill && c.Mode != ModeRolling:
		return &scenarios.FieldError{Field: "mode", Msg: fmt.Sprintf("unknown mode %q (valid: kill, rolling)", c.Mode)}
	case c.Rate <= 0:
		return &scenarios.FieldError{Field: "rate", Msg: "must be > 0: failover measures recovery against an open-loop rate"}
	case c.Drain <= 0:
		return &scenarios.FieldError{Field: "drain", Msg: "must be > 0: it bounds the wait for the last messages"}
	case c.Batch < 1 || c.Batch > MaxBatch:
		return &scenarios.FieldError{Field: "batch", Msg: "must be between 1 and 10000"}
	case !(c.RateTolerance > 0 && c.RateTolerance < 1):
		return &scenarios.FieldError{Field: "rate_tolerance", Msg: "must be between 0 and 1, exclusive"}
	}
	for _, p := range []struct {
		name string
		d    time.Duration
		min  time.Duration
	}{{"kill_at", c.KillAt, time.Second}, {"recovery", c.Recovery, 0}, {"after", c.After, time.Second},
		{"gap", c.Gap, 0}, {"sync_timeout", c.SyncTimeout, time.Second}} {
		if err := phase(p.name, p.d, p.min); err != nil {
			return err
		}
	}
	if c.KillAt+c.Recovery+c.After > c.Duration {
		return &scenarios.FieldError{Field: "duration", Msg: "must be at least kill_at + recovery + after (" + (c.KillAt + c.Recovery + c.After).String() + "): it bounds the whole load"}
	}
	return nil
}

// mode is the mode, kill when empty.
func (c *Config) mode() string {
	if c.Mode == "" {
		return ModeKill
	}
	return c.Mode
}
