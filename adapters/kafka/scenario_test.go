package kafka

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/pubsub"
)

// TestPubsubScenario runs the pubsub scenario through the adapter as
// `mqbench run --broker kafka --scenario pubsub --profile durable --rate 5000
// --duration 10s` would, and checks the accounting: every message sent is
// confirmed, none is lost or duplicated.
func TestPubsubScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	d := openTest(t, driver.Durable)
	var sc pubsub.Scenario
	cfg := sc.DefaultConfig(true)
	base := cfg.Base()
	base.Profile = string(driver.Durable)
	base.Rate = 5000
	base.Duration = 10 * time.Second
	log := testLogger(t)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env := scenarios.Env{
		Driver:  d,
		Profile: driver.Durable,
		RunID:   uint64(time.Now().UnixNano()),
		Prefix:  uniqueName("mqb-scenario"),
		WorkDir: t.TempDir(),
		Log:     log,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := sc.Run(ctx, env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Accounting
	t.Logf("accounting %+v", a)
	if a.Sent == 0 || a.Confirmed != a.Sent || a.Lost != 0 || a.Duplicated != 0 || !a.Complete {
		t.Errorf("accounting %+v: want confirmed = sent > 0, lost = 0, duplicated = 0, complete", a)
	}
	t.Logf("throughput %+v", res.Throughput)
	for name, l := range res.Latency {
		if l != nil {
			t.Logf("latency %s: p50 %.2f p99 %.2f p999 %.2f max %.2f %s (corrected %v)", name, l.P50, l.P99, l.P999, l.Max, l.Unit, l.Corrected)
		}
	}
}
