package backlog_test

import (
	"context"
	"errors"
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
	"github.com/mqbench/mqbench/scenarios/backlog"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *backlog.Config)
		field string // "" = valid
	}{
		{"defaults", func(c *backlog.Config) {}, ""},
		{"target below one message", func(c *backlog.Config) { c.TargetBytes = 10 }, "target_bytes"},
		{"target too large", func(c *backlog.Config) { c.TargetBytes = backlog.MaxTargetBytes + 1 }, "target_bytes"},
		{"negative drain rate", func(c *backlog.Config) { c.DrainRate = -1 }, "drain_rate"},
		{"produce longer than the drain", func(c *backlog.Config) { c.ProduceFor = c.Drain + time.Second }, "produce_for"},
		{"no drain bound", func(c *backlog.Config) { c.Drain = 0 }, "drain"},
		{"zero batch", func(c *backlog.Config) { c.Batch = 0 }, "batch"},
		{"stall factor 1", func(c *backlog.Config) { c.StallFactor = 1 }, "stall_factor"},
		{"negative stall floor", func(c *backlog.Config) { c.StallMin = -1 }, "stall_min"},
		{"common field", func(c *backlog.Config) { c.Producers = 0 }, "producers"},
	}
	for _, quick := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := backlog.Scenario{}.DefaultConfig(quick).(*backlog.Config)
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

// TestDefaults: the full run builds 1 GiB of 1 KiB messages, the quick one
// 100 MiB; both bound every phase.
func TestDefaults(t *testing.T) {
	full := backlog.Scenario{}.DefaultConfig(false).(*backlog.Config)
	quick := backlog.Scenario{}.DefaultConfig(true).(*backlog.Config)
	if full.TargetBytes != 1<<30 || full.Size != 1024 || quick.TargetBytes != 100<<20 {
		t.Fatalf("targets %d / %d of %d-byte messages", full.TargetBytes, quick.TargetBytes, full.Size)
	}
	for _, c := range []*backlog.Config{full, quick} {
		if c.Duration <= 0 || c.Drain <= 0 || c.Rate <= 0 {
			t.Fatalf("unbounded phase in %+v", c)
		}
	}
}

// hooks wraps a memory driver: it can cancel the run after a number of
// confirmed Sends or after the first Receive, and report canned broker
// block events.
type hooks struct {
	driver.Driver
	sends      atomic.Int64
	cancelAt   int64 // cancel after this many Sends (0: never)
	cancelRecv bool  // cancel at the first Receive
	cancel     context.CancelFunc
}

func (h *hooks) NewProducer(ctx context.Context, d driver.Destination, o driver.ProducerOptions) (driver.Producer, error) {
	p, err := h.Driver.NewProducer(ctx, d, o)
	if err != nil {
		return nil, err
	}
	return &hookProducer{Producer: p, h: h}, nil
}

func (h *hooks) NewConsumer(ctx context.Context, d driver.Destination, o driver.ConsumerOptions) (driver.Consumer, error) {
	c, err := h.Driver.NewConsumer(ctx, d, o)
	if err != nil {
		return nil, err
	}
	return &hookConsumer{Consumer: c, h: h}, nil
}

type hookProducer struct {
	driver.Producer
	h *hooks
}

func (p *hookProducer) Send(ctx context.Context, msgs []driver.Message) error {
	err := p.Producer.Send(ctx, msgs)
	if n := p.h.sends.Add(1); p.h.cancelAt > 0 && n == p.h.cancelAt {
		p.h.cancel()
	}
	return err
}

type hookConsumer struct {
	driver.Consumer
	h    *hooks
	once sync.Once
}

func (c *hookConsumer) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
	ds, err := c.Consumer.Receive(ctx, max)
	if c.h.cancelRecv && len(ds) > 0 {
		c.once.Do(c.h.cancel)
	}
	return ds, err
}

// reporting adds driver.BlockReporter: one event long before the run
// (ignored) and one open since the driver was made.
type reporting struct {
	*hooks
	since time.Time
}

func (r *reporting) BlockEvents() []driver.BlockEvent {
	old := r.since.Add(-time.Hour)
	return []driver.BlockEvent{
		{Start: old, End: old.Add(time.Second), Source: "connection.blocked", Reason: "old alarm"},
		{Start: r.since, Source: "connection.blocked", Reason: "low on memory"},
	}
}

type setup struct {
	opts     memory.Options
	edit     func(c *backlog.Config)
	cancelAt int64
	recv     bool
	report   bool // canned block events (reporting)
	pass     bool // the memory driver's own block events
	rss      bool
}

// run runs a small backlog on a fresh memory broker.
func run(t *testing.T, s setup) (*result.Result, error) {
	t.Helper()
	drv, err := memory.NewBroker(s.opts).Driver(driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h := &hooks{Driver: drv, cancelAt: s.cancelAt, cancelRecv: s.recv, cancel: cancel}
	var d driver.Driver = h
	if s.report {
		d = &reporting{hooks: h, since: time.Now()}
	}
	if s.pass {
		d = struct {
			*hooks
			driver.BlockReporter
		}{h, drv}
	}
	c := backlog.Scenario{}.DefaultConfig(true).(*backlog.Config)
	c.Size, c.TargetBytes, c.Rate, c.Batch = 128, 128*3000, 50000, 50
	c.Duration, c.Drain, c.ProduceFor, c.DrainRate = 10*time.Second, 10*time.Second, 200*time.Millisecond, 2000
	if s.edit != nil {
		s.edit(c)
	}
	env := scenarios.Env{Driver: d, Profile: driver.Durable, RunID: 9, Prefix: "t", WorkDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
	if s.rss {
		env.BrokerRSS = func() (float64, bool) { return 123, true }
		env.BrokerDisk = func() (int64, bool) { return 5 << 20, true }
	}
	return backlog.Scenario{}.Run(ctx, env, c)
}

func metric(t *testing.T, res *result.Result, name string) float64 {
	t.Helper()
	m, ok := res.Metrics[name]
	if !ok {
		t.Fatalf("metric %s missing; have %v", name, res.Metrics)
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

// checkSeries: every series has one value per timeline second.
func checkSeries(t *testing.T, res *result.Result) {
	t.Helper()
	for name, v := range res.Series {
		if len(v) != len(res.Timeline) {
			t.Errorf("series %s has %d values for %d seconds", name, len(v), len(res.Timeline))
		}
	}
}

// TestWorkload: the scenario's own fields decode strictly from a workload
// file.
func TestWorkload(t *testing.T) {
	c := backlog.Scenario{}.DefaultConfig(true).(*backlog.Config)
	y := "scenario: backlog\nrate: 3000\ntarget_bytes: 10485760\ndrain_rate: 500\nproduce_for: 5s\nstall_factor: 20\nstall_min: 100ms\n"
	if err := scenarios.DecodeWorkload("w.yaml", []byte(y), c); err != nil {
		t.Fatal(err)
	}
	if c.Rate != 3000 || c.TargetBytes != 10<<20 || c.DrainRate != 500 || c.ProduceFor != 5*time.Second || c.StallFactor != 20 || c.StallMin != 100*time.Millisecond {
		t.Fatalf("decoded %+v", c)
	}
	if err := scenarios.DecodeWorkload("w.yaml", []byte("target_bytez: 1\n"), c); err == nil {
		t.Fatal("an unknown field was accepted")
	}
}
