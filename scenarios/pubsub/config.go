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
