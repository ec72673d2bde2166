package scale

import (
	"fmt"
	"time"

	"github.com/mqbench/mqbench/scenarios"
)

// Config of the scale scenario.
//
// Common fields, as this scenario reads them: Rate is the total rate of
// every step (must be > 0: open loop), Duration the measured length of
// each step, Warmup the unmeasured start of each step, Drain the bound on
// each step's drain, Size and Partitions (per destination) as usual.
// Producers and Consumers are not used: the steps set them.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Destinations are the destination-count steps: the rate spread over
	// that many destinations, each with one producer and one consumer.
	Destinations []int `yaml:"destinations" json:"destinations"`
	// Connections are the connection-count steps: one destination with
	// that many producers and as many consumers (each producer and
	// consumer is its own connection on RabbitMQ and ActiveMQ), and at
	// least that many partitions (Kafka) or queues (RocketMQ), so that
	// every consumer has a share to read.
	Connections []int `yaml:"connections" json:"connections"`
	// Batch is the most messages one Send carries.
	Batch int `yaml:"batch" json:"batch"`
	// Setup bounds a step's provisioning and client opening; a step that
	// cannot set up in time fails with the broker's error and the run goes
	// on with the next step.
	Setup time.Duration `yaml:"setup" json:"setup"`
	// Parallel bounds how many provisions, opens and closes run at once.
	Parallel int `yaml:"parallel" json:"parallel"`
}

// Bounds of the steps.
const (
	MaxSteps        = 8    // per dimension
	MaxDestinations = 1000 // per step
	MaxConnections  = 1000 // producers (and as many consumers) per step
)

// Validate checks every field.
func (c *Config) Validate() error {
	if err := c.ValidateCommon(); err != nil {
		return err
	}
	switch {
	case c.Rate <= 0:
		return &scenarios.FieldError{Field: "rate", Msg: "must be > 0: the steps compare one open-loop rate"}
	case len(c.Destinations)+len(c.Connections) == 0:
		return &scenarios.FieldError{Field: "destinations", Msg: "destinations and connections are both empty: no step to run"}
	case c.Batch < 1 || c.Batch > 10000:
		return &scenarios.FieldError{Field: "batch", Msg: "must be between 1 and 10000"}
	case c.Setup <= 0:
		return &scenarios.FieldError{Field: "setup", Msg: "must be > 0"}
	case c.Parallel < 1 || c.Parallel > 64:
		return &scenarios.FieldError{Field: "parallel", Msg: "must be between 1 and 64"}
	}
	if err := checkSteps("destinations", c.Destinations, MaxDestinations); err != nil {
		return err
	}
	return checkSteps("connections", c.Connections, MaxConnections)
}

func checkSteps(field string, steps []int, limit int) error {
	if len(steps) > MaxSteps {
		return &scenarios.FieldError{Field: field, Msg: fmt.Sprintf("at most %d steps", MaxSteps)}
	}
	for _, n := range steps {
		if n < 1 || n > limit {
			return &scenarios.FieldError{Field: field, Msg: fmt.Sprintf("each step must be between 1 and %d", limit)}
		}
	}
	return nil
}

// step is one step of a run.
type step struct {
	name         string // metric prefix, e.g. "dest100" or "conn10"
	destinations int
	producers    int // in all
	consumers    int // in all
	partitions   int // per destination
}

// steps lists the run's steps: destinations first, then connections.
func (c *Config) steps() []step {
	var out []step
	for _, n := range c.Destinations {
		out = append(out, step{name: fmt.Sprintf("dest%d", n), destinations: n, producers: n, consumers: n, partitions: c.Partitions})
	}
	for _, n := range c.Connections {
		out = append(out, step{name: fmt.Sprintf("conn%d", n), destinations: 1, producers: n, consumers: n, partitions: max(c.Partitions, n)})
	}
	return out
}
