// Package capacity measures a broker's maximum sustainable throughput under
// a latency objective, with the same load shape (producers, consumers,
// partitions or queues, message size, durability profile) for every broker.
//
// A run has these phases, in order, all through one destination with one
// consumer group whose producers and consumers stay open for the whole run:
//
//  1. ceiling: when Env.Reference is set, the same pipeline (producers,
//     consumers, batch, size) runs closed loop through that in-process
//     reference broker, and the received rate over the measured window is
//     mqbench's own ceiling. A broker figure at 50% of it or more is marked
//     harness-limited: mqbench, not the broker, may be what stopped it.
//  2. prime: a few messages per producer, received before anything is
//     measured, so every consumer has joined its group.
//  3. publish-only: closed loop with no consumer receiving, for Warmup +
//     Duration or PublishOnlyMax messages; the figure is the confirmed
//     rate over the measured window.
//  4. drain-only: the consumers drain what publish-only left, bounded by
//     DrainOnlyTimeout; the figure is the distinct messages received per
//     second from the consumers' start to the last arrival.
//  5. search: open-loop steps (see Search): from Rate (or a quarter of the
//     publish-only rate when Rate is 0) up by Growth until a step is not
//     sustained, then bisection until the highest sustained and the lowest
//     failed rate are within Precision of each other. Each step has its own
//     warm-up (Warmup), measured window (Duration) and drain (at most
//     Drain); Rules.Judge says when it is sustained.
//  6. curve: steps at 10, 50 and 80% of the maximum; with the maximum's own
//     step they are the latency–throughput curve.
//  7. a final drain (at most Drain), then every message is accounted.
//  8. floor: when Env.Reference is set and a maximum was found, one step
//     at the maximum's rate through the reference broker: its latencies
//     are what mqbench itself adds at that rate (the schedule's lateness,
//     stamping, the probe), the floor under the broker's.
//
// Bounds: every step ends by its deadline (start + Warmup + Duration +
// Drain; sends still pending then are unconfirmed); the search runs at most
// MaxSteps steps, never above MaxRate nor below MinRate; a step (search or
// curve) starts only if its measured window ends within Budget of the
// run's start. On ctx cancellation the current phase stops (sends and
// receives are cancelled, acks are bounded by Drain), the remaining phases
// are skipped, and the run returns what it measured with
// Accounting.Complete false and a nil error.
//
// Every message of the broker's phases is accounted in the result's
// Accounting, summed over one probe.Stick per phase and step (each with its
// own run id, so a message arriving late is credited to the step that sent
// it). The reference broker's messages are not: its accounting is a note.
//
// The result holds the figures as Metrics (names in metrics.go), the
// maximum step's latencies and throughput as Latency and Throughput, the
// run's per-second Timeline (every phase, aligned on the run's start), and
// one value per step, in run order, in the step_* Series: those series are
// indexed by step, not by second (step_start_s places each step on the
// timeline, in seconds from the run's start).
//
// The harness's own lateness is measured, not hidden: the floor phase
// gives the latencies mqbench alone shows at the maximum's rate
// (harness_floor_*), and every step records its schedule delay (actual −
// intended send time, probe.ScheduleDelay). Latency is measured from the
// intended send time, so that lateness is part of what the rules judge;
// a floor at half the objective or more marks the latency figures
// harness-limited.
package capacity

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
)

// MinRate is the lowest rate a step runs at (msg/s): a broker that cannot
// sustain it has no maximum.
const MinRate = 10

// CurveFractions returns the fractions of the maximum run as curve steps;
// the maximum's own step is the fourth point (100%).
func CurveFractions() [3]float64 { return [3]float64{0.1, 0.5, 0.8} }

// Config of the capacity scenario. Of Common it uses Profile, Size,
// Producers, Consumers and Partitions as the load shape; Rate is the first
// step's rate (0 = a quarter of the publish-only rate); Warmup and Duration
// are each step's warm-up and measured window (and those of the ceiling
// and publish-only phases); Drain bounds each step's drain, the prime and
// the final drain.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Batch is the most messages one Send or Receive carries.
	Batch int `yaml:"batch" json:"batch"`
	// Objective is the latency objective: a step is sustained only when
	// both its publish and its end-to-end p99 stay at or under it.
	Objective time.Duration `yaml:"latency_objective" json:"latency_objective"`
	// Growth multiplies the rate from one step to the next until a step
	// fails.
	Growth float64 `yaml:"growth" json:"growth"`
	// Precision ends the bisection: the search stops once the lowest
	// failed rate is within Precision (a fraction) of the highest
	// sustained one.
	Precision float64 `yaml:"precision" json:"precision"`
	// MaxRate bounds the search (msg/s); a broker sustaining it is
	// reported at MaxRate, with a note.
	MaxRate float64 `yaml:"max_rate" json:"max_rate"`
	// MaxSteps bounds the number of search steps (curve steps come on
	// top).
	MaxSteps int `yaml:"max_steps" json:"max_steps"`
	// Budget: a step starts only if its measured window ends within this
	// long of the run's start; the run then ends within the last step's
	// drain, the final drain and the floor step.
	Budget time.Duration `yaml:"budget" json:"budget"`
	// PublishOnlyMax caps the messages of the publish-only phase (so the
	// backlog drain-only must drain is bounded).
	PublishOnlyMax int64 `yaml:"publish_only_max" json:"publish_only_max"`
	// DrainOnlyTimeout bounds the drain-only phase.
	DrainOnlyTimeout time.Duration `yaml:"drain_only_timeout" json:"drain_only_timeout"`
}

// Validate checks every field.
func (c *Config) Validate() error {
	if err := c.ValidateCommon(); err != nil {
		return err
	}
	switch {
	case c.Batch < 1 || c.Batch > 10000:
		return &scenarios.FieldError{Field: "batch", Msg: "must be between 1 and 10000"}
	case c.Objective <= 0 || c.Objective > time.Minute:
		return &scenarios.FieldError{Field: "latency_objective", Msg: "must be > 0 and at most 1m"}
	case !(c.Growth >= 1.05 && c.Growth <= 10):
		return &scenarios.FieldError{Field: "growth", Msg: "must be between 1.05 and 10"}
	case !(c.Precision >= 0.001 && c.Precision <= 0.5):
		return &scenarios.FieldError{Field: "precision", Msg: "must be between 0.001 and 0.5"}
	case !(c.MaxRate >= MinRate && c.MaxRate <= 1e8):
		return &scenarios.FieldError{Field: "max_rate", Msg: fmt.Sprintf("must be between %d and 100000000 msg/s", MinRate)}
	case c.Rate > c.MaxRate:
		return &scenarios.FieldError{Field: "rate", Msg: "the first step's rate must not exceed max_rate"}
	case c.MaxSteps < 1 || c.MaxSteps > 200:
		return &scenarios.FieldError{Field: "max_steps", Msg: "must be between 1 and 200"}
	case c.Budget <= 0 || c.Budget > 24*time.Hour:
		return &scenarios.FieldError{Field: "budget", Msg: "must be > 0 and at most 24h"}
	case c.PublishOnlyMax < 1:
		return &scenarios.FieldError{Field: "publish_only_max", Msg: "must be ≥ 1"}
	case c.DrainOnlyTimeout <= 0:
		return &scenarios.FieldError{Field: "drain_only_timeout", Msg: "must be > 0"}
	case c.Drain <= 0:
		return &scenarios.FieldError{Field: "drain", Msg: "must be > 0 (each step drains)"}
	}
	return nil
}

// Rules returns the sustained-step rules of c.
func (c *Config) Rules() Rules {
	return Rules{Objective: c.Objective, RateTolerance: RateTolerance}
}

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "capacity" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "maximum sustainable throughput under a latency objective, latency–throughput curve, publish-only and drain-only rates"
}

// DefaultConfig implements scenarios.Scenario. Both variants send 1 KiB
// durable messages from 2 producers to 2 consumers over 2 partitions with a
// 50 ms p99 objective. The quick one (1 s warm-up, 2 s windows, 80 s
// budget) takes about 90 s per broker; the full one (5 s warm-up, 20 s
// windows) up to its 30 min budget plus the last step.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Warmup: 5 * time.Second, Duration: 20 * time.Second, Drain: 30 * time.Second,
			Size: 1024, Producers: 2, Consumers: 2, Partitions: 2,
		},
		Batch: 100, Objective: 50 * time.Millisecond, Growth: 1.5, Precision: 0.05,
		MaxRate: 500000, MaxSteps: 30, Budget: 30 * time.Minute,
		PublishOnlyMax: 1000000, DrainOnlyTimeout: 5 * time.Minute,
	}
	if quick {
		c.Warmup, c.Duration, c.Drain = time.Second, 2*time.Second, 5*time.Second
		c.MaxSteps, c.Budget = 16, 80*time.Second
		c.PublishOnlyMax, c.DrainOnlyTimeout = 150000, 15*time.Second
	}
	return c
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("capacity: config is %T, want *capacity.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("capacity: %w", err)
	}
	return run(ctx, env, c)
}
