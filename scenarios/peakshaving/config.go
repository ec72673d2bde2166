package peakshaving

import (
	"fmt"
	"time"

	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/store"
)

// Admission mechanisms.
const (
	AdmissionAuto        = "auto"        // broker when the driver can, else application
	AdmissionBroker      = "broker"      // Destination.MaxLength with ErrRejected
	AdmissionApplication = "application" // in-process counter of waiting requests
)

// bodyMin is the envelope plus the 8-byte request id that follows it.
const bodyMin = envelope.Size + 8

// Config of the peakshaving scenario.
//
// Common fields used: Duration is the burst window over which the Requests
// arrive evenly, unless Rate > 0, in which case they arrive at Rate per
// second (and the window is Requests/Rate). Producers is the number of
// concurrent clients, each sending one request at a time; Consumers the
// number of sale service instances sharing the Capacity. Drain bounds the
// wait for the admitted requests to be processed after the burst. Size is
// the request body size. Partitions is passed to the destination. Warmup is
// not used: every request of the burst counts.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Requests is N, the number of requests in the burst.
	Requests int `yaml:"requests" json:"requests"`
	// Stock is K, the items on sale.
	Stock int `yaml:"stock" json:"stock"`
	// Threshold is T, the most requests admitted and waiting.
	Threshold int `yaml:"threshold" json:"threshold"`
	// Capacity is C, the requests per second the sale service processes,
	// over all its instances.
	Capacity float64 `yaml:"capacity" json:"capacity"`
	// Admission is auto, broker or application.
	Admission string `yaml:"admission" json:"admission"`
	// Prefetch bounds the requests each sale instance holds delivered but
	// not yet processed; with the broker gate it is the overshoot per
	// instance above Threshold.
	Prefetch int `yaml:"prefetch" json:"prefetch"`
	// DatabaseURL says where the sale service's database lives: empty for
	// embedded SQLite (peakshaving.db in the run's work directory), or a
	// postgres:// URL for a schema unique to the run in that PostgreSQL
	// database (see package store).
	DatabaseURL string `yaml:"database_url" json:"database_url"`
}

// Validate checks every field and returns the first problem as a
// *scenarios.FieldError.
func (c *Config) Validate() error {
	if err := scenarios.ValidateShared(c); err != nil {
		return err
	}
	fe := func(field, msg string) error { return &scenarios.FieldError{Field: field, Msg: msg} }
	switch {
	case c.Size < bodyMin:
		return fe("size", fmt.Sprintf("must be at least %d bytes (envelope + request id)", bodyMin))
	case c.Requests < 1 || c.Requests > 10_000_000:
		return fe("requests", "must be between 1 and 10000000")
	case c.Rate > 0 && float64(c.Requests)/c.Rate > scenarios.MaxDuration.Seconds():
		return fe("rate", "too low: the burst (requests / rate) must last at most 24h")
	case c.Stock < 1 || c.Stock > 1_000_000_000:
		return fe("stock", "must be between 1 and 1000000000")
	case c.Threshold < 1 || c.Threshold > 10_000_000:
		return fe("threshold", "must be between 1 and 10000000")
	case !(c.Capacity >= scenarios.MinRate) || c.Capacity > 1e6:
		return fe("capacity", "must be between 0.001 and 1000000 requests per second")
	case c.Admission != AdmissionAuto && c.Admission != AdmissionBroker && c.Admission != AdmissionApplication:
		return fe("admission", fmt.Sprintf("unknown admission %q (valid: auto, broker, application)", c.Admission))
	case c.Prefetch < 1 || c.Prefetch > 10000:
		return fe("prefetch", "must be between 1 and 10000")
	}
	if err := store.CheckURL(c.DatabaseURL); err != nil {
		return fe("database_url", err.Error())
	}
	return nil
}

// window is the burst duration.
func (c *Config) window() time.Duration {
	if c.Rate > 0 {
		return time.Duration(float64(c.Requests) / c.Rate * 1e9)
	}
	return c.Duration
}

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "peakshaving" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "flash sale: a burst far above capacity, queue-threshold admission, fast rejects, no oversell"
}

// DefaultConfig implements scenarios.Scenario.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 0, Duration: 2 * time.Second, Drain: 60 * time.Second,
			Size: 128, Producers: 50, Consumers: 1, Partitions: 1,
		},
		Requests: 10000, Stock: 100, Threshold: 200, Capacity: 500,
		Admission: AdmissionAuto, Prefetch: 10,
	}
	if quick {
		c.Requests, c.Duration, c.Producers, c.Drain = 2000, time.Second, 20, 30*time.Second
	}
	return c
}
