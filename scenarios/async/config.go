package async

import (
	"fmt"
	"time"

	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/store"
)

// Config of the async scenario. Common fields used: Rate (registrations per
// second, open loop, > 0), Duration (total measured load, split evenly over
// the modes), Warmup (per mode, excluded from figures), Drain (bound on the
// wait for notifications after the mq load), Size (user.registered body),
// Producers (producers shared by the mq mode's request goroutines),
// Consumers (per service group), Partitions, Profile.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Modes to run, in this order; default serial, parallel, mq.
	Modes []string `yaml:"modes" json:"modes"`
	// EmailTime and SMSTime are the simulated costs of sending one email
	// and one SMS, the same in every mode.
	EmailTime time.Duration `yaml:"email_time" json:"email_time"`
	SMSTime   time.Duration `yaml:"sms_time" json:"sms_time"`
	// MaxInFlight bounds registrations being processed at once (one
	// goroutine each); beyond it arrivals wait, and their wait counts in
	// their response time.
	MaxInFlight int `yaml:"max_in_flight" json:"max_in_flight"`
	// Batch is the most deliveries a notification consumer takes per
	// Receive; it handles them concurrently, then acks them.
	Batch int `yaml:"batch" json:"batch"`
	// DatabaseURL says where the users database and the two notification
	// services' databases live: empty for embedded SQLite files in the
	// run's work directory, or a postgres:// URL for one schema each, unique
	// to the run, in that PostgreSQL database (see package store).
	DatabaseURL string `yaml:"database_url" json:"database_url"`
	// ReadyTimeout bounds the wait, before the clock starts, until both
	// consumer groups actually receive (Kafka and RocketMQ groups take
	// seconds to join).
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
		return fe("rate", "must be > 0: registrations arrive open loop at this rate")
	case c.Size < minSize:
		return fe("size", fmt.Sprintf("must be at least %d bytes (envelope, kind and user id)", minSize))
	case len(c.Modes) == 0:
		return fe("modes", "must list at least one of serial, parallel, mq")
	case c.EmailTime < 0 || c.EmailTime > time.Minute:
		return fe("email_time", "must be between 0 and 1m")
	case c.SMSTime < 0 || c.SMSTime > time.Minute:
		return fe("sms_time", "must be between 0 and 1m")
	case c.MaxInFlight < 1 || c.MaxInFlight > 100000:
		return fe("max_in_flight", "must be between 1 and 100000")
	case c.Batch < 1 || c.Batch > 10000:
		return fe("batch", "must be between 1 and 10000")
	case c.ReadyTimeout <= 0:
		return fe("ready_timeout", "must be > 0")
	}
	seen := map[string]bool{}
	for _, m := range c.Modes {
		if m != Serial && m != Parallel && m != MQ {
			return fe("modes", fmt.Sprintf("unknown mode %q (valid: serial, parallel, mq)", m))
		}
		if seen[m] {
			return fe("modes", fmt.Sprintf("mode %q listed twice", m))
		}
		seen[m] = true
	}
	if c.Duration/time.Duration(len(c.Modes)) < time.Second {
		return fe("duration", "must give each mode at least 1s")
	}
	if err := store.CheckURL(c.DatabaseURL); err != nil {
		return fe("database_url", err.Error())
	}
	return nil
}
