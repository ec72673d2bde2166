// Package scenarios defines what a scenario is and what it runs with. Each
// scenario lives in its own package below this one (the table of them is
// scenarios/catalog) and uses only the driver contract
// (adapters/driver) and the measuring stick (scenarios/probe): no scenario
// imports an adapter, so each runs unchanged against every broker.
package scenarios

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/cluster"
)

// Scenario is one business case runnable against any driver.
type Scenario interface {
	// Name is the CLI name, e.g. "pubsub".
	Name() string
	// Summary is one line for `mqbench list`.
	Summary() string
	// DefaultConfig returns a fresh configuration with defaults; quick
	// selects the short profile that finishes well under a minute. The
	// value is a pointer to a struct that embeds Common and that a
	// workload YAML file decodes into strictly.
	DefaultConfig(quick bool) Config
	// Run runs the scenario. It returns the measured result (without the
	// run identity, broker and environment fields, which the caller fills)
	// even when it stops early: on ctx cancellation it stops producing,
	// drains briefly, and returns what it measured with Accounting.Complete
	// false and a nil error. An error means the scenario could not run;
	// the result, if non-nil, holds what was measured before.
	Run(ctx context.Context, env Env, cfg Config) (*result.Result, error)
}

// Config is a scenario configuration.
type Config interface {
	// Base returns the embedded common settings, so the CLI can apply
	// --rate, --duration and the like.
	Base() *Common
	// Validate reports the first invalid value as a *FieldError.
	Validate() error
}

// Common are the settings every scenario shares. A scenario documents which
// of them it uses. In a workload file they sit at the top level beside the
// scenario's own fields.
type Common struct {
	// Scenario names the scenario the file is for (optional; must match).
	Scenario string `yaml:"scenario,omitempty" json:"scenario,omitempty"`
	// Profile is the durability profile: durable (default), fast, unsafe.
	Profile string `yaml:"profile,omitempty" json:"profile,omitempty"`
	// Addr is the broker address, host:port or a comma-separated list of a
	// cluster's nodes (optional; --addr overrides it).
	Addr string `yaml:"addr,omitempty" json:"addr,omitempty"`
	// Rate is the target rate per second (messages, registrations,
	// orders); 0 means as fast as possible (closed loop) where supported.
	Rate float64 `yaml:"rate" json:"rate"`
	// Duration of the measured load, warm-up excluded.
	Duration time.Duration `yaml:"duration" json:"duration"`
	// Warmup runs load before the measured window; left out of figures.
	Warmup time.Duration `yaml:"warmup" json:"warmup"`
	// Drain bounds the wait for in-flight messages after the load.
	Drain time.Duration `yaml:"drain" json:"drain"`
	// Size of each message body in bytes (at least the 40-byte envelope).
	Size int `yaml:"size" json:"size"`
	// Producers and Consumers are goroutines, each with its own producer
	// or consumer; consumers are per group.
	Producers int `yaml:"producers" json:"producers"`
	Consumers int `yaml:"consumers" json:"consumers"`
	// Partitions (Kafka) or queues (RocketMQ) of the destination.
	Partitions int `yaml:"partitions" json:"partitions"`
}

// Base implements Config for types that embed Common.
func (c *Common) Base() *Common { return c }

// Bounds of the shared settings. They keep every count and time a run
// derives from them (rate × duration messages, per-second timelines,
// duration + warm-up + drain) far from overflow and within what one
// machine can hold.
const (
	// MaxRate is the highest target rate per second: far beyond what any
	// broker here reaches, so a larger value is a typo.
	MaxRate = 10_000_000
	// MinRate is the lowest positive target rate per second (one message
	// every 1000 s); 0 means as fast as possible.
	MinRate = 0.001
	// MaxDuration bounds the measured duration and every other duration
	// field of a scenario configuration.
	MaxDuration = 24 * time.Hour
	// MaxWarmup and MaxDrain bound the warm-up and the drain.
	MaxWarmup = time.Hour
	MaxDrain  = time.Hour
)

// ValidateCommon checks the shared settings.
func (c *Common) ValidateCommon() error {
	switch {
	case c.Profile != "" && !validProfile(c.Profile):
		return &FieldError{Field: "profile", Msg: fmt.Sprintf("unknown profile %q (valid: durable, fast, unsafe)", c.Profile)}
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return &FieldError{Field: "rate", Msg: "must be a finite number"}
	case c.Rate < 0:
		return &FieldError{Field: "rate", Msg: "must be ≥ 0 (0 = as fast as possible)"}
	case c.Rate > 0 && c.Rate < MinRate, c.Rate > MaxRate:
		return &FieldError{Field: "rate", Msg: fmt.Sprintf("must be 0 (as fast as possible) or between %g and %d per second", MinRate, MaxRate)}
	case c.Duration <= 0:
		return &FieldError{Field: "duration", Msg: "must be > 0"}
	case c.Duration > MaxDuration:
		return &FieldError{Field: "duration", Msg: "must be at most " + fmtDuration(MaxDuration)}
	case c.Warmup < 0 || c.Warmup > MaxWarmup:
		return &FieldError{Field: "warmup", Msg: "must be between 0 and " + fmtDuration(MaxWarmup)}
	case c.Drain < 0 || c.Drain > MaxDrain:
		return &FieldError{Field: "drain", Msg: "must be between 0 and " + fmtDuration(MaxDrain)}
	case c.Size < 40 || c.Size > 16<<20:
		return &FieldError{Field: "size", Msg: "must be between 40 (the envelope) and 16777216 bytes"}
	case c.Producers < 1 || c.Producers > 1024:
		return &FieldError{Field: "producers", Msg: "must be between 1 and 1024"}
	case c.Consumers < 1 || c.Consumers > 1024:
		return &FieldError{Field: "consumers", Msg: "must be between 1 and 1024"}
	case c.Partitions < 0 || c.Partitions > 1024:
		return &FieldError{Field: "partitions", Msg: "must be between 0 and 1024"}
	}
	return nil
}

// ValidateShared checks what every configuration must satisfy whatever its
// scenario: the shared settings (ValidateCommon), then, by reflection over
// cfg's fields (a pointer to a struct embedding Common), that every float
// is a finite number and every time.Duration at most MaxDuration. Each
// scenario's Validate calls it first, so no field can carry NaN, an
// infinity or a duration that wraps when added to another.
func ValidateShared(cfg Config) error {
	if err := cfg.Base().ValidateCommon(); err != nil {
		return err
	}
	return checkNumbers(reflect.ValueOf(cfg))
}

var durationType = reflect.TypeFor[time.Duration]()

func checkNumbers(v reflect.Value) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		name := yamlName(f)
		switch {
		case f.Anonymous || fv.Kind() == reflect.Struct:
			if err := checkNumbers(fv); err != nil {
				return err
			}
		case fv.Kind() == reflect.Float32 || fv.Kind() == reflect.Float64:
			if x := fv.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
				return &FieldError{Field: name, Msg: "must be a finite number"}
			}
		case f.Type == durationType:
			if time.Duration(fv.Int()) > MaxDuration {
				return &FieldError{Field: name, Msg: "must be at most " + fmtDuration(MaxDuration)}
			}
		}
	}
	return nil
}

// yamlName is the name a field has in a workload file.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

// fmtDuration prints whole hours as "24h" rather than "24h0m0s".
func fmtDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

func validProfile(s string) bool {
	_, err := driver.ParseProfile(s)
	return err == nil
}

// FieldError names the configuration field that is invalid. The CLI adds
// the workload file's name and line.
type FieldError struct {
	Field string // YAML name, e.g. "rate" or "email_ms"
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + Clip(e.Msg) }

// Env is what a scenario runs with.
type Env struct {
	// Driver is connected to the broker under test.
	Driver driver.Driver
	// Profile is the durability profile the driver was opened with.
	Profile driver.Profile
	// RunID marks this run's messages.
	RunID uint64
	// Prefix makes destination names unique to this run; scenarios name
	// destinations Prefix + "-" + something.
	Prefix string
	// WorkDir is a scratch directory for the run's databases; it exists.
	WorkDir string
	// Log receives diagnostics. Never nil.
	Log *slog.Logger
	// Progress, when non-nil, is told the current phase and how far the
	// run is (0..1). It must not block.
	Progress func(phase string, done float64)
	// Reference, when non-nil, builds a driver on a fresh in-process
	// reference broker (the CLI passes the memory driver). Scenarios that
	// measure mqbench's own ceiling run the same pipeline through it; nil
	// means the ceiling is not measured, and the scenario says so.
	Reference driver.Constructor
	// BrokerCPU, when non-nil, returns the CPU seconds (user + system) the
	// broker processes have used so far, a counter a scenario reads twice
	// to cost a window; ok is false when the broker's CPU cannot be read
	// (not started by mqbench, not on this host). Safe for concurrent use.
	BrokerCPU func() (seconds float64, ok bool)
	// BrokerRSS, when non-nil, reads the resident memory of the broker
	// processes now, in MiB; ok is false when it cannot (the broker runs
	// elsewhere). It must be cheap and must not block: scenarios sample it
	// about once a second.
	BrokerRSS func() (mib float64, ok bool)
	// BrokerDisk, when non-nil, reads how many bytes the broker's data
	// directory holds now; ok is false when it cannot. Same rules as
	// BrokerRSS.
	BrokerDisk func() (bytes int64, ok bool)
	// Cluster, when non-nil, can find, kill, stop, start and wait for the
	// nodes of the cluster the driver is connected to (cluster.Cluster);
	// nil on a single-node topology. Scenarios that inject node faults
	// (failover) refuse to run without it.
	Cluster cluster.Cluster
}

// Report calls Progress when set.
func (e Env) Report(phase string, done float64) {
	if e.Progress != nil {
		e.Progress(phase, done)
	}
}
