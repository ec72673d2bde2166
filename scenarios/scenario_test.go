package scenarios_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/async"
	"github.com/mqbench/mqbench/scenarios/decoupling"
	"github.com/mqbench/mqbench/scenarios/peakshaving"
	"github.com/mqbench/mqbench/scenarios/pubsub"
	"github.com/mqbench/mqbench/scenarios/transaction"
)

func allScenarios() []scenarios.Scenario {
	return []scenarios.Scenario{pubsub.Scenario{}, async.Scenario{}, decoupling.Scenario{}, peakshaving.Scenario{}, transaction.Scenario{}}
}

// floatFields returns the YAML names and values of every float field of
// the struct v points to, embedded structs included.
func floatFields(v reflect.Value) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	v = v.Elem()
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		if f.Anonymous {
			for k, x := range floatFields(fv.Addr()) {
				out[k] = x
			}
			continue
		}
		if fv.Kind() == reflect.Float64 || fv.Kind() == reflect.Float32 {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			out[name] = fv
		}
	}
	return out
}

// TestNonFiniteFloatsRejected sets every float field of every scenario's
// configuration, one at a time, to NaN and to ±Inf: Validate must name
// that field.
func TestNonFiniteFloatsRejected(t *testing.T) {
	for _, sc := range allScenarios() {
		for _, quick := range []bool{false, true} {
			names := floatFields(reflect.ValueOf(sc.DefaultConfig(quick)))
			if len(names) == 0 {
				t.Fatalf("%s: no float field found", sc.Name())
			}
			for name := range names {
				for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
					cfg := sc.DefaultConfig(quick)
					floatFields(reflect.ValueOf(cfg))[name].SetFloat(bad)
					err := cfg.Validate()
					var fe *scenarios.FieldError
					if !errors.As(err, &fe) || fe.Field != name {
						t.Errorf("%s %s=%v: Validate() = %v, want a FieldError on %s", sc.Name(), name, bad, err, name)
					}
				}
			}
		}
	}
}

// TestBounds: values far beyond anything reachable are rejected before
// they can overflow a count or a time, or allocate per-second timelines
// for years.
func TestBounds(t *testing.T) {
	tests := []struct {
		name  string
		sc    scenarios.Scenario
		set   func(c scenarios.Config)
		field string
	}{
		{"huge rate", pubsub.Scenario{}, func(c scenarios.Config) { c.Base().Rate = 1e12 }, "rate"},
		{"tiny rate", pubsub.Scenario{}, func(c scenarios.Config) { c.Base().Rate = 1e-300 }, "rate"},
		{"huge rate overflowing the order count", transaction.Scenario{}, func(c scenarios.Config) { c.Base().Rate = 1e300 }, "rate"},
		{"max rate for a day needs the stock", transaction.Scenario{}, func(c scenarios.Config) {
			c.Base().Rate, c.Base().Duration = scenarios.MaxRate, scenarios.MaxDuration
		}, "initial_stock"},
		{"tiny rate stretching the burst", peakshaving.Scenario{}, func(c scenarios.Config) { c.Base().Rate = 0.01 }, "rate"},
		{"tiny capacity overflowing the sale interval", peakshaving.Scenario{}, func(c scenarios.Config) { c.(*peakshaving.Config).Capacity = 1e-300 }, "capacity"},
		{"duration of years", pubsub.Scenario{}, func(c scenarios.Config) { c.Base().Duration = 10 * 365 * 24 * time.Hour }, "duration"},
		{"duration wrapping with warm-up", async.Scenario{}, func(c scenarios.Config) {
			c.Base().Duration = math.MaxInt64 - time.Second
		}, "duration"},
		{"warm-up of days", decoupling.Scenario{}, func(c scenarios.Config) { c.Base().Warmup = 48 * time.Hour }, "warmup"},
		{"drain of days", pubsub.Scenario{}, func(c scenarios.Config) { c.Base().Drain = 48 * time.Hour }, "drain"},
		{"scenario duration field of years", async.Scenario{}, func(c scenarios.Config) {
			c.(*async.Config).ReadyTimeout = math.MaxInt64
		}, "ready_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.sc.DefaultConfig(true)
			tt.set(cfg)
			err := cfg.Validate()
			var fe *scenarios.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate() = %v, want a FieldError on %s", err, tt.field)
			}
			if strings.Contains(fe.Msg, "-") && tt.field == "initial_stock" {
				t.Errorf("negative count in %q", fe.Msg)
			}
		})
	}
}
