package transaction

import (
	"fmt"
	"math"
	"time"

	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/store"
)

// Modes.
const (
	ModeAuto   = "auto"   // native where the driver implements driver.Transactor, else outbox
	ModeOutbox = "outbox" // message table and relay
	ModeNative = "native" // broker transactional messages; unsupported elsewhere
)

// Body layout after the envelope: order id (8 bytes), then one byte (the
// outcome in stock.result).
const (
	idOffset      = envelope.Size
	outcomeOffset = envelope.Size + 8
	bodyMin       = envelope.Size + 9
)

// Config of the transaction scenario.
//
// Common fields used: Rate is the orders per second (must be > 0; open
// loop) over Duration, with Warmup orders left out of the time to
// consistency; Producers are order-service goroutines (several, so that a
// slow transactional send in native mode does not hold the schedule back);
// Consumers are
// inventory-service instances; Drain bounds the wait for consistency after
// the last order; Size is the message body size; Partitions is passed to
// both destinations.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Mode is auto, outbox or native.
	Mode string `yaml:"mode" json:"mode"`
	// ScanInterval is the relay's period.
	ScanInterval time.Duration `yaml:"scan_interval" json:"scan_interval"`
	// RetryInterval: a published row still in the message table after this
	// long is published again.
	RetryInterval time.Duration `yaml:"retry_interval" json:"retry_interval"`
	// RelayBatch is the most rows one relay publish carries.
	RelayBatch int `yaml:"relay_batch" json:"relay_batch"`
	// FailureRate is the probability that inventory processing fails
	// before commit (seeded by Seed).
	FailureRate float64 `yaml:"failure_rate" json:"failure_rate"`
	// CrashEvery: each inventory instance crashes after every CrashEvery-th
	// committed deduction, before answering and acking; 0 never.
	CrashEvery int `yaml:"crash_every" json:"crash_every"`
	// RelayCrashEvery: the relay crashes after every RelayCrashEvery-th
	// confirmed publish, before marking the rows sent; 0 never.
	RelayCrashEvery int `yaml:"relay_crash_every" json:"relay_crash_every"`
	// InitialStock is the inventory before the first order; it must cover
	// every order.
	InitialStock int64 `yaml:"initial_stock" json:"initial_stock"`
	// Seed of the fault injection's random numbers.
	Seed uint64 `yaml:"seed" json:"seed"`
	// OrderDatabaseURL and InventoryDatabaseURL say where the two separate
	// databases live: empty for embedded SQLite files (orders.db and
	// inventory.db in the run's work directory), or a postgres:// URL for a
	// schema unique to the run in that PostgreSQL database (see package
	// store); the two may name the same PostgreSQL database and still get
	// separate schemas.
	OrderDatabaseURL     string `yaml:"order_database_url" json:"order_database_url"`
	InventoryDatabaseURL string `yaml:"inventory_database_url" json:"inventory_database_url"`
}

// maxOrders bounds the orders the open-loop schedule can produce.
// It saturates at 1<<62 instead of overflowing.
func (c *Config) maxOrders() int64 {
	n := math.Ceil(c.Rate*(c.Warmup+c.Duration).Seconds()) + float64(c.Producers)
	if !(n < 1<<62) {
		return 1 << 62
	}
	return int64(n)
}

// Validate checks every field and returns the first problem as a
// *scenarios.FieldError.
func (c *Config) Validate() error {
	if err := scenarios.ValidateShared(c); err != nil {
		return err
	}
	fe := func(field, msg string) error { return &scenarios.FieldError{Field: field, Msg: msg} }
	switch {
	case c.Rate <= 0:
		return fe("rate", "must be > 0 orders per second (the order service is paced)")
	case c.Size < bodyMin:
		return fe("size", fmt.Sprintf("must be at least %d bytes (envelope + order id + outcome)", bodyMin))
	case c.Mode != ModeAuto && c.Mode != ModeOutbox && c.Mode != ModeNative:
		return fe("mode", fmt.Sprintf("unknown mode %q (valid: auto, outbox, native)", c.Mode))
	case c.ScanInterval < time.Millisecond || c.ScanInterval > 10*time.Second:
		return fe("scan_interval", "must be between 1ms and 10s")
	case c.RetryInterval <= c.ScanInterval || c.RetryInterval > 10*time.Minute:
		return fe("retry_interval", "must be longer than scan_interval and at most 10m")
	case c.RelayBatch < 1 || c.RelayBatch > 10000:
		return fe("relay_batch", "must be between 1 and 10000")
	case !(c.FailureRate >= 0 && c.FailureRate <= 0.9):
		return fe("failure_rate", "must be between 0 and 0.9")
	case c.CrashEvery < 0 || c.CrashEvery > 1_000_000_000:
		return fe("crash_every", "must be between 0 (never) and 1000000000")
	case c.RelayCrashEvery < 0 || c.RelayCrashEvery > 1_000_000_000:
		return fe("relay_crash_every", "must be between 0 (never) and 1000000000")
	case c.InitialStock < c.maxOrders() || c.InitialStock > 1<<50:
		return fe("initial_stock", fmt.Sprintf("must cover every order: at least rate × (warmup + duration) + producers = %d", c.maxOrders()))
	}
	if err := store.CheckURL(c.OrderDatabaseURL); err != nil {
		return fe("order_database_url", err.Error())
	}
	if err := store.CheckURL(c.InventoryDatabaseURL); err != nil {
		return fe("inventory_database_url", err.Error())
	}
	return nil
}

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "transaction" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "distributed transaction via an outbox (or native transactional messages): exactly-once effect despite resends, failures and crashes"
}

// DefaultConfig implements scenarios.Scenario.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 100, Duration: 30 * time.Second, Drain: 60 * time.Second,
			Size: 128, Producers: 4, Consumers: 2, Partitions: 1,
		},
		Mode: ModeAuto, ScanInterval: 100 * time.Millisecond, RetryInterval: 3 * time.Second,
		RelayBatch: 100, FailureRate: 0.1, CrashEvery: 200, RelayCrashEvery: 25,
		InitialStock: 1_000_000, Seed: 1,
	}
	if quick {
		c.Rate, c.Duration, c.Drain = 50, 8*time.Second, 30*time.Second
		c.RetryInterval, c.CrashEvery = 2*time.Second, 100
	}
	return c
}
