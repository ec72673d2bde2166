package capacity_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/capacity"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *capacity.Config)
		field string // "" = valid
	}{
		{"defaults", func(c *capacity.Config) {}, ""},
		{"zero batch", func(c *capacity.Config) { c.Batch = 0 }, "batch"},
		{"no objective", func(c *capacity.Config) { c.Objective = 0 }, "latency_objective"},
		{"growth 1", func(c *capacity.Config) { c.Growth = 1 }, "growth"},
		{"precision 0", func(c *capacity.Config) { c.Precision = 0 }, "precision"},
		{"max rate under min rate", func(c *capacity.Config) { c.MaxRate = 5 }, "max_rate"},
		{"first rate over max rate", func(c *capacity.Config) { c.Rate = c.MaxRate + 1 }, "rate"},
		{"no steps", func(c *capacity.Config) { c.MaxSteps = 0 }, "max_steps"},
		{"no budget", func(c *capacity.Config) { c.Budget = 0 }, "budget"},
		{"no publish-only messages", func(c *capacity.Config) { c.PublishOnlyMax = 0 }, "publish_only_max"},
		{"no drain-only time", func(c *capacity.Config) { c.DrainOnlyTimeout = 0 }, "drain_only_timeout"},
		{"no drain", func(c *capacity.Config) { c.Drain = 0 }, "drain"},
		{"no producers", func(c *capacity.Config) { c.Producers = 0 }, "producers"},
	}
	for _, quick := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := capacity.Scenario{}.DefaultConfig(quick).(*capacity.Config)
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

// throttled wraps a driver so that each producer confirms at most one
// message per per: a broker with a known capacity.
type throttled struct {
	driver.Driver
	per time.Duration
}

func (t throttled) NewProducer(ctx context.Context, dest driver.Destination, opts driver.ProducerOptions) (driver.Producer, error) {
	p, err := t.Driver.NewProducer(ctx, dest, opts)
	if err != nil {
		return nil, err
	}
	return &slowProducer{Producer: p, per: t.per}, nil
}

type slowProducer struct {
	driver.Producer
	per  time.Duration
	next time.Time
}

func (p *slowProducer) Send(ctx context.Context, msgs []driver.Message) error {
	if now := time.Now(); p.next.Before(now) {
		p.next = now
	}
	p.next = p.next.Add(time.Duration(len(msgs)) * p.per)
	t := time.NewTimer(time.Until(p.next))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return p.Producer.Send(ctx, msgs)
}

// shortConfig is a run of a few seconds.
func shortConfig() *capacity.Config {
	c := capacity.Scenario{}.DefaultConfig(true).(*capacity.Config)
	c.Warmup, c.Duration, c.Drain = 200*time.Millisecond, 500*time.Millisecond, 2*time.Second
	c.MaxRate, c.MaxSteps, c.Budget = 20000, 10, 40*time.Second
	c.PublishOnlyMax, c.DrainOnlyTimeout = 3000, 5*time.Second
	c.Objective = 200 * time.Millisecond // a loaded test machine must not fail every step
	return c
}

// testEnv runs on a memory broker whose 2 producers confirm 3000 msg/s
// each at most, with the memory driver as reference and a fake CPU
// counter.
func testEnv(t *testing.T) scenarios.Env {
	t.Helper()
	drv, err := memory.NewBroker(memory.Options{}).Driver(driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Close() })
	t0 := time.Now()
	return scenarios.Env{
		Driver: throttled{Driver: drv, per: time.Second / 3000}, Profile: driver.Durable, RunID: 99,
		Prefix: "tcap", WorkDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
		Reference: memory.Constructor(memory.Options{FlowLimit: 4 << 20}),
		BrokerCPU: func() (float64, bool) { return time.Since(t0).Seconds(), true },
	}
}

// capacityLimit is the throttled broker's capacity (msg/s, 2 producers).
const capacityLimit = 6000

func TestRunFindsMaximum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := capacity.Scenario{}.Run(ctx, testEnv(t), shortConfig())
	if err != nil {
		t.Fatal(err)
	}
	a := res.Accounting
	if !a.Complete || a.Lost != 0 || a.Duplicated != 0 || a.Groups != 1 {
		t.Fatalf("accounting %+v", a)
	}
	if a.Sent != a.Confirmed+a.Unconfirmed || a.Received > a.Sent || a.Received < a.Confirmed {
		t.Fatalf("accounting does not add up: %+v", a)
	}
	// The timeline merges every phase: its totals are the accounting's.
	var sent, recv int64
	for _, s := range res.Timeline {
		sent += s.Sent
		recv += s.Received
	}
	if sent != a.Sent || recv != a.Received {
		t.Fatalf("timeline sent %d received %d, accounting %+v", sent, recv, a)
	}
	if !res.Verdict.Pass {
		t.Fatalf("verdict %+v, notes %q", res.Verdict, res.Notes)
	}

	top := metric(t, res, capacity.MaxSustainableMsgs)
	if top <= 0 || top > capacityLimit*1.1 {
		t.Fatalf("maximum %v msg/s for a broker capped at %d; notes %q", top, capacityLimit, res.Notes)
	}
	if failed := metric(t, res, capacity.FailedAboveMsgs); failed <= top {
		t.Fatalf("failed above %v, maximum %v", failed, top)
	}
	for _, name := range []string{capacity.HarnessCeilingMsgs, capacity.PublishOnlyMsgs, capacity.DrainOnlyMsgs, capacity.CPUPerMillion,
		capacity.HarnessFloorE2EP99, capacity.HarnessFloorPublishP99} {
		if v := metric(t, res, name); v <= 0 {
			t.Fatalf("%s = %v", name, v)
		}
	}
	if got := metric(t, res, capacity.PublishOnlyMsgs); got > capacityLimit*1.1 {
		t.Fatalf("publish-only %v msg/s through producers capped at %d", got, capacityLimit)
	}

	// Every step is in every series; search and curve steps both ran,
	// and at least one step failed (the search found the edge).
	steps := int(metric(t, res, capacity.Steps))
	search := int(metric(t, res, capacity.SearchSteps))
	if steps != search+3 {
		t.Fatalf("%d steps, %d of the search: want 3 curve steps", steps, search)
	}
	for _, k := range []string{capacity.SeriesStepStart, capacity.SeriesStepRate, capacity.SeriesStepReceived,
		capacity.SeriesStepP99, capacity.SeriesStepE2EP99, capacity.SeriesStepSchedule, capacity.SeriesStepBacklog,
		capacity.SeriesStepMissing, capacity.SeriesStepSustained, capacity.SeriesStepCurve, capacity.SeriesStepCPU} {
		if len(res.Series[k]) != steps {
			t.Fatalf("series %s has %d values, want %d", k, len(res.Series[k]), steps)
		}
	}
	var failedSteps, atTop int
	for i, ok := range res.Series[capacity.SeriesStepSustained] {
		rate := res.Series[capacity.SeriesStepRate][i]
		if ok == 0 {
			failedSteps++
		}
		if ok == 1 && res.Series[capacity.SeriesStepCurve][i] == 0 && rate > top {
			t.Fatalf("search step at %v sustained above the maximum %v", rate, top)
		}
		if rate == top {
			atTop++
		}
	}
	if failedSteps == 0 || atTop != 1 {
		t.Fatalf("%d failed steps, %d at the maximum", failedSteps, atTop)
	}
	for _, pct := range []int{10, 50, 80, 100} {
		if r := metric(t, res, capacity.CurveMetric(capacity.CurveRate, pct)); math.Abs(r-top*float64(pct)/100) > 1e-9*top {
			t.Fatalf("curve point %d%% at %v msg/s, maximum %v", pct, r, top)
		}
	}
	if res.Latency["end_to_end"] == nil || res.Latency["end_to_end"].Count == 0 {
		t.Fatalf("no end-to-end latency at the maximum: %+v", res.Latency)
	}
}

func TestRunWithoutReferenceOrCPU(t *testing.T) {
	env := testEnv(t)
	env.Reference, env.BrokerCPU = nil, nil
	c := shortConfig()
	c.MaxSteps = 2
	res, err := capacity.Scenario{}.Run(context.Background(), env, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{capacity.HarnessCeilingMsgs, capacity.HarnessLimitedMax, capacity.CPUPerMillion,
		capacity.HarnessFloorE2EP99, capacity.HarnessLimitedLatency} {
		if _, ok := res.Metrics[name]; ok {
			t.Fatalf("%s present without its source", name)
		}
	}
	if _, ok := res.Series[capacity.SeriesStepCPU]; ok {
		t.Fatal("CPU series present without a CPU counter")
	}
	if !hasNote(res, "harness ceiling not measured") {
		t.Fatalf("no note on the ceiling: %q", res.Notes)
	}
	if a := res.Accounting; !a.Complete || a.Lost != 0 {
		t.Fatalf("accounting %+v", a)
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	env := testEnv(t)
	env.Progress = func(phase string, done float64) {
		if strings.HasPrefix(phase, "search step 2 ") || phase == "drain" {
			cancel()
		}
	}
	c := shortConfig()
	c.Rate = 1000
	res, err := capacity.Scenario{}.Run(ctx, env, c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accounting.Complete {
		t.Fatal("an interrupted run reports complete accounting")
	}
	if !res.Verdict.Pass {
		t.Fatalf("interrupted run judged: %+v", res.Verdict)
	}
	if n := len(res.Series[capacity.SeriesStepRate]); n != 2 {
		t.Fatalf("%d steps after an interruption in the second", n)
	}
	if res.Accounting.Sent == 0 {
		t.Fatalf("nothing accounted: %+v", res.Accounting)
	}
}

func metric(t *testing.T, res *result.Result, name string) float64 {
	t.Helper()
	m, ok := res.Metrics[name]
	if !ok {
		t.Fatalf("metric %s missing; notes %q", name, res.Notes)
	}
	return m.Value
}

func hasNote(res *result.Result, prefix string) bool {
	for _, n := range res.Notes {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
