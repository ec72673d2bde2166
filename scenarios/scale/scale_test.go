package scale_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/scale"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *scale.Config)
		field string // "" = valid
	}{
		{"defaults", func(c *scale.Config) {}, ""},
		{"closed loop", func(c *scale.Config) { c.Rate = 0 }, "rate"},
		{"no steps", func(c *scale.Config) { c.Destinations, c.Connections = nil, nil }, "destinations"},
		{"only connections", func(c *scale.Config) { c.Destinations = nil }, ""},
		{"too many destinations", func(c *scale.Config) { c.Destinations = []int{1, 1001} }, "destinations"},
		{"zero connections", func(c *scale.Config) { c.Connections = []int{0} }, "connections"},
		{"too many steps", func(c *scale.Config) { c.Connections = []int{1, 2, 3, 4, 5, 6, 7, 8, 9} }, "connections"},
		{"zero batch", func(c *scale.Config) { c.Batch = 0 }, "batch"},
		{"no setup bound", func(c *scale.Config) { c.Setup = 0 }, "setup"},
		{"parallel 0", func(c *scale.Config) { c.Parallel = 0 }, "parallel"},
	}
	for _, quick := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s quick=%v", tt.name, quick), func(t *testing.T) {
				c := scale.Scenario{}.DefaultConfig(quick).(*scale.Config)
				tt.edit(c)
				err := c.Validate()
				var fe *scenarios.FieldError
				switch {
				case tt.field == "" && err != nil:
					t.Fatalf("unexpected error %v", err)
				case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
					t.Fatalf("error %v, want field %q", err, tt.field)
				}
			})
		}
	}
}

// limited wraps a memory driver: it refuses consumers beyond maxConsumers
// open at once (like a broker out of file handles), can make Provision
// hang until its context ends for destinations named with hang, and
// counts provisions and cleanups.
type limited struct {
	driver.Driver
	maxConsumers int64
	hang         string
	open         atomic.Int64
	provisions   atomic.Int64
	cleanups     atomic.Int64
}

var errTooMany = errors.New("too many open files (simulated)")

func (l *limited) Provision(ctx context.Context, d driver.Destination) (func(context.Context) error, error) {
	if l.hang != "" && strings.Contains(d.Name, l.hang) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	cu, err := l.Driver.Provision(ctx, d)
	if err != nil {
		return nil, err
	}
	l.provisions.Add(1)
	return func(ctx context.Context) error { l.cleanups.Add(1); return cu(ctx) }, nil
}

func (l *limited) NewConsumer(ctx context.Context, d driver.Destination, o driver.ConsumerOptions) (driver.Consumer, error) {
	if n := l.open.Add(1); l.maxConsumers > 0 && n > l.maxConsumers {
		l.open.Add(-1)
		return nil, errTooMany
	}
	c, err := l.Driver.NewConsumer(ctx, d, o)
	if err != nil {
		l.open.Add(-1)
		return nil, err
	}
	return &countedConsumer{Consumer: c, l: l}, nil
}

type countedConsumer struct {
	driver.Consumer
	l    *limited
	once sync.Once
}

func (c *countedConsumer) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Consumer.Close()
}

type setup struct {
	opts         memory.Options
	maxConsumers int64  // see limited
	hang         string // see limited
	dests        []int
	conns        []int
	cancel       bool          // cancel once the first step ends
	drain        time.Duration // 0: 5 s
}

func run(t *testing.T, s setup) (*result.Result, *limited) {
	t.Helper()
	drv, err := memory.NewBroker(s.opts).Driver(driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lim := &limited{Driver: drv, maxConsumers: s.maxConsumers, hang: s.hang}
	c := scale.Scenario{}.DefaultConfig(true).(*scale.Config)
	c.Rate, c.Duration, c.Warmup, c.Drain, c.Size = 2000, 300*time.Millisecond, 100*time.Millisecond, 5*time.Second, 128
	c.Destinations, c.Connections, c.Setup = s.dests, s.conns, 2*time.Second
	if s.drain > 0 {
		c.Drain = s.drain
	}
	env := scenarios.Env{Driver: lim, Profile: driver.Durable, RunID: 5, Prefix: "t", WorkDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), BrokerRSS: func() (float64, bool) { return 42, true }}
	if s.cancel {
		env.Progress = func(phase string, _ float64) {
			if phase != "dest1" {
				cancel()
			}
		}
	}
	res, err := scale.Scenario{}.Run(ctx, env, c)
	if err != nil {
		t.Fatal(err)
	}
	return res, lim
}

func metric(t *testing.T, res *result.Result, step, suffix string) float64 {
	t.Helper()
	m, ok := res.Metrics[scale.StepMetric(step, suffix)]
	if !ok {
		t.Fatalf("metric %s missing; have %v", scale.StepMetric(step, suffix), res.Metrics)
	}
	return m.Value
}

func hasNote(res *result.Result, sub string) bool {
	for _, n := range res.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// TestWorkload: the scenario's own fields decode strictly from a workload
// file.
func TestWorkload(t *testing.T) {
	c := scale.Scenario{}.DefaultConfig(true).(*scale.Config)
	y := "scenario: scale\ndestinations: [1, 5]\nconnections: [2]\nsetup: 30s\nparallel: 4\n"
	if err := scenarios.DecodeWorkload("w.yaml", []byte(y), c); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(c.Destinations, c.Connections) != "[1 5] [2]" || c.Setup != 30*time.Second || c.Parallel != 4 {
		t.Fatalf("decoded %+v", c)
	}
	if err := scenarios.DecodeWorkload("w.yaml", []byte("destination: [1]\n"), c); err == nil {
		t.Fatal("an unknown field was accepted")
	}
}
