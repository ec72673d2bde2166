package backlog

import (
	"time"

	"github.com/mqbench/mqbench/scenarios"
)

// Config of the backlog scenario.
//
// Common fields, as this scenario reads them: Rate is the total publish
// rate while the backlog accumulates (0 = as fast as confirmed); Duration
// bounds the accumulation (it ends at TargetBytes or Duration, whichever
// comes first); Warmup excludes the first messages from latency figures;
// Drain bounds the drain phase, counted from the moment consumers start;
// Size, Producers, Consumers (one group) and Partitions as usual.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// TargetBytes is the backlog to build: producers stop accumulating once
	// they have sent TargetBytes/Size messages.
	TargetBytes int64 `yaml:"target_bytes" json:"target_bytes"`
	// DrainRate is the total rate producers keep sending at once the
	// consumers start (0: producers stop when consumers start).
	DrainRate float64 `yaml:"drain_rate" json:"drain_rate"`
	// ProduceFor is how long producers go on at DrainRate after the
	// consumers start; they stop then (or at the Drain bound, if earlier),
	// and the drain goes on until nothing remains or Drain passes.
	ProduceFor time.Duration `yaml:"produce_for" json:"produce_for"`
	// Batch is the most messages one Send carries.
	Batch int `yaml:"batch" json:"batch"`
	// StallFactor and StallMin define a stalled send: one that took more
	// than StallFactor × the median send of its phase and more than
	// StallMin. Stalls show a broker slowing producers without saying so.
	StallFactor float64       `yaml:"stall_factor" json:"stall_factor"`
	StallMin    time.Duration `yaml:"stall_min" json:"stall_min"`
}

// Bounds of the scenario's own fields.
const (
	MaxTargetBytes = 64 << 30
	MaxBatch       = 10000
)

// Validate checks every field.
func (c *Config) Validate() error {
	if err := c.ValidateCommon(); err != nil {
		return err
	}
	switch {
	case c.Drain <= 0:
		return &scenarios.FieldError{Field: "drain", Msg: "must be > 0: it bounds the drain phase"}
	case c.TargetBytes < int64(c.Size) || c.TargetBytes > MaxTargetBytes:
		return &scenarios.FieldError{Field: "target_bytes", Msg: "must be between size and 68719476736 (64 GiB)"}
	case c.DrainRate < 0:
		return &scenarios.FieldError{Field: "drain_rate", Msg: "must be ≥ 0 (0 = producers stop when consumers start)"}
	case c.ProduceFor < 0 || c.ProduceFor > c.Drain:
		return &scenarios.FieldError{Field: "produce_for", Msg: "must be between 0 and drain"}
	case c.Batch < 1 || c.Batch > MaxBatch:
		return &scenarios.FieldError{Field: "batch", Msg: "must be between 1 and 10000"}
	case c.StallFactor < 2 || c.StallFactor > 1000:
		return &scenarios.FieldError{Field: "stall_factor", Msg: "must be between 2 and 1000"}
	case c.StallMin < 0:
		return &scenarios.FieldError{Field: "stall_min", Msg: "must be ≥ 0"}
	}
	return nil
}

// targetMessages is the number of messages the accumulation sends.
func (c *Config) targetMessages() int64 { return c.TargetBytes / int64(c.Size) }
