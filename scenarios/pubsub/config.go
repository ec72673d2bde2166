package pubsub

import "github.com/mqbench/mqbench/scenarios"

// Config of the pubsub scenario. It uses every Common field; Rate is the
// total over all producers.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Batch is the most messages one Send carries.
	Batch int `yaml:"batch" json:"batch"`
	// Groups is how many consumer groups each receive every message
	// (fan-out); Consumers consumers run in each.
	Groups int `yaml:"groups" json:"groups"`
	// ClosedLoop keeps one message in flight: the producer sends the next
	// only once every group received the last (or after Drain, leaving a
	// missing one to the accounting), as Kafka's EndToEndLatency does.
	// It needs rate 0 (the loop sets the pace), one producer and batch 1.
	ClosedLoop bool `yaml:"closed_loop,omitempty" json:"closed_loop,omitempty"`
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
	if c.ClosedLoop {
		switch {
		case c.Rate != 0:
			return &scenarios.FieldError{Field: "closed_loop", Msg: "needs rate 0: the loop, not a schedule, sets the pace"}
		case c.Producers != 1:
			return &scenarios.FieldError{Field: "closed_loop", Msg: "needs exactly 1 producer"}
		case c.Batch != 1:
			return &scenarios.FieldError{Field: "closed_loop", Msg: "needs batch 1"}
		}
	}
	return nil
}
