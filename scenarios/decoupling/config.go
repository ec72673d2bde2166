package decoupling

import (
	"fmt"
	"math"
	"time"

	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/store"
)

// Config of the decoupling scenario. Common fields used: Rate (orders per
// second, open loop, > 0), Duration (total measured load, split evenly over
// the modes), Warmup (per mode), Drain (bound on the wait for the backlog
// after the mq load), Size (order.placed body), Producers (shared by the
// order service's request goroutines), Consumers (inventory consumers),
// Partitions, Profile.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Modes to run, in this order; default direct, mq.
	Modes []string `yaml:"modes" json:"modes"`
	// OutageStart and OutageEnd delimit the inventory outage as fractions
	// of each mode's measured load window (default 0.3 and 0.6).
	OutageStart float64 `yaml:"outage_start" json:"outage_start"`
	OutageEnd   float64 `yaml:"outage_end" json:"outage_end"`
	// Capacity is how many orders per second the inventory service
	// deducts at most (both modes). It must exceed Rate, or the mq backlog
	// never drains; 0 means unlimited.
	Capacity float64 `yaml:"inventory_capacity" json:"inventory_capacity"`
	// InitialStock is the stock each mode's inventory starts with.
	InitialStock int64 `yaml:"initial_stock" json:"initial_stock"`
	// HTTPTimeout bounds one direct call to the inventory.
	HTTPTimeout time.Duration `yaml:"http_timeout" json:"http_timeout"`
	// MaxInFlight bounds orders being processed at once.
	MaxInFlight int `yaml:"max_in_flight" json:"max_in_flight"`
	// Batch is the most deliveries the inventory consumer takes per
	// Receive (it deducts them in order, then acks them).
	Batch int `yaml:"batch" json:"batch"`
	// DatabaseURL says where the orders database and each mode's
	// inventory database live: empty for embedded SQLite files in the run's
	// work directory, or a postgres:// URL for one schema each, unique to
	// the run, in that PostgreSQL database (see package store).
	DatabaseURL string `yaml:"database_url" json:"database_url"`
	// ReadyTimeout bounds the wait, before the clock starts, until the
	// inventory group actually receives.
	ReadyTimeout time.Duration `yaml:"ready_timeout" json:"ready_timeout"`
}

// Validate checks every field and returns the first invalid one as a
// *scenarios.FieldError.
func (c *Config) Validate() error {
	if err := scenarios.ValidateShared(c); err != nil {
		return err
	}
	fe := func(field, msg string) error { return &scenarios.FieldError{Field: field, Msg: msg} }
	switch {
	case c.Rate <= 0:
		return fe("rate", "must be > 0: orders arrive open loop at this rate")
	case c.Size < minSize:
		return fe("size", fmt.Sprintf("must be at least %d bytes (envelope, kind and order id)", minSize))
	case len(c.Modes) == 0:
		return fe("modes", "must list at least one of direct, mq")
	case math.IsNaN(c.OutageStart) || c.OutageStart < 0 || c.OutageStart >= 1:
		return fe("outage_start", "must be a fraction in [0, 1)")
	case math.IsNaN(c.OutageEnd) || c.OutageEnd <= c.OutageStart || c.OutageEnd > 1:
		return fe("outage_end", "must be a fraction in (outage_start, 1]")
	case math.IsNaN(c.Capacity) || c.Capacity < 0:
		return fe("inventory_capacity", "must be ≥ 0 (0 = unlimited)")
	case c.Capacity > 0 && c.Capacity <= c.Rate:
		return fe("inventory_capacity", fmt.Sprintf("must exceed rate (%g/s), or the backlog never drains", c.Rate))
	case c.InitialStock <= 0:
		return fe("initial_stock", "must be > 0")
	case c.HTTPTimeout <= 0 || c.HTTPTimeout > time.Minute:
		return fe("http_timeout", "must be between 0 (exclusive) and 1m")
	case c.MaxInFlight < 1 || c.MaxInFlight > 100000:
		return fe("max_in_flight", "must be between 1 and 100000")
	case c.Batch < 1 || c.Batch > 10000:
		return fe("batch", "must be between 1 and 10000")
	case c.ReadyTimeout <= 0:
		return fe("ready_timeout", "must be > 0")
	}
	seen := map[string]bool{}
	for _, m := range c.Modes {
		if m != Direct && m != MQ {
			return fe("modes", fmt.Sprintf("unknown mode %q (valid: direct, mq)", m))
		}
		if seen[m] {
			return fe("modes", fmt.Sprintf("mode %q listed twice", m))
		}
		seen[m] = true
	}
	if c.Duration/time.Duration(len(c.Modes)) < 2*time.Second {
		return fe("duration", "must give each mode at least 2s")
	}
	if err := store.CheckURL(c.DatabaseURL); err != nil {
		return fe("database_url", err.Error())
	}
	return nil
}
