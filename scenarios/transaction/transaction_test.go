package transaction

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/scenariotest"
	"go.yaml.in/yaml/v3"
)

func TestValidate(t *testing.T) {
	base := func() *Config { return Scenario{}.DefaultConfig(false).(*Config) }
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" = valid
	}{
		{"default", func(*Config) {}, ""},
		{"quick", func(c *Config) { *c = *Scenario{}.DefaultConfig(true).(*Config) }, ""},
		{"outbox", func(c *Config) { c.Mode = ModeOutbox }, ""},
		{"native", func(c *Config) { c.Mode = ModeNative }, ""},
		{"no faults", func(c *Config) { c.FailureRate, c.CrashEvery, c.RelayCrashEvery = 0, 0, 0 }, ""},
		{"common checked", func(c *Config) { c.Producers = 0 }, "producers"},
		{"closed loop", func(c *Config) { c.Rate = 0 }, "rate"},
		{"size", func(c *Config) { c.Size = 48 }, "size"},
		{"mode", func(c *Config) { c.Mode = "xa" }, "mode"},
		{"empty mode", func(c *Config) { c.Mode = "" }, "mode"},
		{"scan zero", func(c *Config) { c.ScanInterval = 0 }, "scan_interval"},
		{"retry below scan", func(c *Config) { c.RetryInterval = c.ScanInterval }, "retry_interval"},
		{"relay batch", func(c *Config) { c.RelayBatch = 0 }, "relay_batch"},
		{"failure negative", func(c *Config) { c.FailureRate = -0.1 }, "failure_rate"},
		{"failure always", func(c *Config) { c.FailureRate = 1 }, "failure_rate"},
		{"crash negative", func(c *Config) { c.CrashEvery = -1 }, "crash_every"},
		{"relay crash negative", func(c *Config) { c.RelayCrashEvery = -1 }, "relay_crash_every"},
		{"stock too small", func(c *Config) { c.InitialStock = 10 }, "initial_stock"},
		{"order postgres", func(c *Config) { c.OrderDatabaseURL = "postgres://localhost/orders" }, ""},
		{"inventory postgres", func(c *Config) { c.InventoryDatabaseURL = "postgresql://localhost/inv" }, ""},
		{"order mysql", func(c *Config) { c.OrderDatabaseURL = "mysql://localhost/orders" }, "order_database_url"},
		{"inventory file", func(c *Config) { c.InventoryDatabaseURL = "inv.db" }, "inventory_database_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var fe *scenarios.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("got %v, want a FieldError on %q", err, tt.field)
			}
		})
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	for _, quick := range []bool{false, true} {
		want := Scenario{}.DefaultConfig(quick).(*Config)
		b, err := yaml.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got := &Config{}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(got); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip changed the config:\n got %+v\nwant %+v", got, want)
		}
	}
	dec := yaml.NewDecoder(strings.NewReader("mode: outbox\nscan_interval: 50ms\nretry: 1s\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&Config{}); err == nil {
		t.Fatal("unknown field accepted")
	}
}

func testConfig(mode string) *Config {
	c := Scenario{}.DefaultConfig(true).(*Config)
	c.Mode = mode
	c.Rate, c.Duration, c.Drain = 200, 1500*time.Millisecond, 60*time.Second
	c.ScanInterval, c.RetryInterval = 20*time.Millisecond, time.Second
	c.CrashEvery, c.RelayCrashEvery = 40, 0
	return c
}

func runScenario(t *testing.T, ctx context.Context, d driver.Driver, c *Config) (*result.Result, error) {
	t.Helper()
	env := scenarios.Env{
		Driver: d, Profile: driver.Durable, RunID: 7, Prefix: "tx",
		WorkDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
	}
	return Scenario{}.Run(ctx, env, c)
}

func metric(t *testing.T, res *result.Result, name string) float64 {
	t.Helper()
	m, ok := res.Metrics[name]
	if !ok {
		t.Fatalf("metric %s missing (have %v)", name, res.Metrics)
	}
	return m.Value
}

// checkConsistent asserts the scenario's invariants and the metrics the
// issue names.
func checkConsistent(t *testing.T, res *result.Result) {
	t.Helper()
	t.Logf("metrics %v\nnotes %q\naccounting %+v", res.Metrics, res.Notes, res.Accounting)
	if !res.Verdict.Pass {
		t.Fatalf("verdict failed: %v", res.Verdict.Violations)
	}
	orders := metric(t, res, "orders")
	if orders == 0 {
		t.Fatal("no orders")
	}
	for name, want := range map[string]float64{
		"duplicates_applied": 0, "outbox_remaining": 0, "history_rows": orders, "consistent": 1,
		"stock_final": metric(t, res, "stock_initial") - orders, "orders_not_deducted": 0,
	} {
		if got := metric(t, res, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"published", "duplicates_delivered", "retries", "ttc_p50_ms", "ttc_p99_ms"} {
		metric(t, res, name)
	}
	if metric(t, res, "published") < orders {
		t.Errorf("published %v < orders %v", metric(t, res, "published"), orders)
	}
	a := res.Accounting
	if !a.Complete || a.Lost != 0 || a.Groups != 2 {
		t.Errorf("accounting %+v", a)
	}
	if l := res.Latency["time_to_consistency"]; l == nil || l.Count != int64(orders) {
		t.Errorf("time to consistency: %+v for %v orders", l, orders)
	}
	for _, s := range []string{"orders_per_s", "consistent_per_s", "pending_orders", "ttc_max_ms"} {
		if len(res.Series[s]) < len(res.Timeline) {
			t.Errorf("series %s has %d points, timeline %d", s, len(res.Series[s]), len(res.Timeline))
		}
	}
	var placed, done float64
	for i := range res.Series["orders_per_s"] {
		placed += res.Series["orders_per_s"][i]
		done += res.Series["consistent_per_s"][i]
	}
	if placed != orders || done != orders {
		t.Errorf("series: %v placed, %v consistent, %v orders", placed, done, orders)
	}
}

// Outbox mode with injected processing failures (nacked) and consumer
// crashes after commit.
func TestOutboxWithFailuresAndCrashes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := runScenario(t, ctx, scenariotest.Memory(t, memory.Options{}), testConfig(ModeOutbox))
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, res)
	if metric(t, res, "native") != 0 {
		t.Fatal("outbox mode not used")
	}
	if metric(t, res, "failures_injected") == 0 || metric(t, res, "consumer_crashes") == 0 {
		t.Fatalf("faults not injected: %v", res.Metrics)
	}
	// A crash after commit makes the broker redeliver what was applied.
	if metric(t, res, "duplicates_delivered") == 0 || res.Accounting.Duplicated == 0 {
		t.Fatalf("crash redeliveries not seen: %v %+v", res.Metrics, res.Accounting)
	}
}

// The relay crashes between the broker's confirm and marking the rows sent
// (reliability fault 8): the restarted relay publishes them again, the
// inventory receives the orders twice and applies them once. Every message
// is delayed by the broker so the resend reliably overtakes the round trip
// that would have removed the rows.
func TestRelayCrashBetweenPublishAndMark(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := scenariotest.Memory(t, memory.Options{Faults: memory.Faults{DelayEvery: 1, Delay: 200 * time.Millisecond}})
	c := testConfig(ModeOutbox)
	c.FailureRate, c.CrashEvery, c.RelayCrashEvery = 0, 0, 2
	c.ScanInterval, c.RetryInterval = 10*time.Millisecond, 5*time.Second
	res, err := runScenario(t, ctx, d, c)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, res)
	if metric(t, res, "relay_crashes") == 0 {
		t.Fatal("relay never crashed")
	}
	if metric(t, res, "duplicates_delivered") == 0 || metric(t, res, "retries") == 0 {
		t.Fatalf("the relay's resends did not reach the inventory twice: %v", res.Metrics)
	}
	if metric(t, res, "duplicates_applied") != 0 {
		t.Fatal("duplicate applied")
	}
	if metric(t, res, "published") <= metric(t, res, "orders") {
		t.Fatalf("published %v not above orders %v", metric(t, res, "published"), metric(t, res, "orders"))
	}
	// Resends are new envelope sequences, not broker duplicates.
	if res.Accounting.Duplicated != 0 {
		t.Fatalf("envelope duplicates without redelivery: %+v", res.Accounting)
	}
}

// noNack hides the memory driver's nack, transactions and depth: a broker
// whose failed messages come back only through the relay.
type noNack struct{ driver.Driver }

func (d noNack) Info() driver.Info {
	i := d.Driver.Info()
	i.Capabilities.Nack, i.Capabilities.NativeTransaction = false, false
	return i
}

func TestOutboxWithoutNack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := testConfig(ModeAuto)
	c.FailureRate, c.RetryInterval = 0.2, 300*time.Millisecond
	res, err := runScenario(t, ctx, noNack{scenariotest.Memory(t, memory.Options{})}, c)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, res)
	if metric(t, res, "native") != 0 || metric(t, res, "native_supported") != 0 {
		t.Fatalf("auto on a driver without transactions: %v", res.Metrics)
	}
	if !hasNote(res, "unsupported by client") {
		t.Fatalf("no unsupported note: %q", res.Notes)
	}
	if metric(t, res, "failed_results") == 0 || metric(t, res, "retries") == 0 {
		t.Fatalf("failures were not resent by the relay: %v", res.Metrics)
	}
}

func TestNative(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Every 7th transactional send loses its outcome: check-back decides.
	d := scenariotest.Memory(t, memory.Options{Faults: memory.Faults{TxLoseEvery: 7}, TxCheckDelay: 20 * time.Millisecond})
	res, err := runScenario(t, ctx, d, testConfig(ModeAuto))
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, res)
	if metric(t, res, "native") != 1 || metric(t, res, "native_supported") != 1 {
		t.Fatalf("native mode not used: %v", res.Metrics)
	}
}

func TestNativeUnsupported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := runScenario(t, ctx, noNack{scenariotest.Memory(t, memory.Options{})}, testConfig(ModeNative))
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
	if res == nil || !hasNote(res, "unsupported by client") || metric(t, res, "native_supported") != 0 || res.Verdict.Pass {
		t.Fatalf("result does not say unsupported: %+v", res)
	}
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := testConfig(ModeOutbox)
	c.Duration = time.Minute
	c.InitialStock = c.maxOrders()
	rctx, stop := context.WithCancel(ctx)
	time.AfterFunc(500*time.Millisecond, stop)
	res, err := runScenario(t, rctx, scenariotest.Memory(t, memory.Options{}), c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accounting.Complete {
		t.Fatal("interrupted run marked complete")
	}
	if metric(t, res, "duplicates_applied") != 0 || !res.Verdict.Pass {
		t.Fatalf("interrupted: %v %v", res.Metrics, res.Verdict.Violations)
	}
}

func hasNote(res *result.Result, s string) bool {
	for _, n := range res.Notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func TestWorkloadFile(t *testing.T) {
	c := Scenario{}.DefaultConfig(true).(*Config)
	file := "scenario: transaction\nmode: outbox\nrate: 20\nduration: 5s\nscan_interval: 50ms\nretry_interval: 1s\nfailure_rate: 0.2\nrelay_crash_every: 3\n"
	if err := scenarios.DecodeWorkload("w.yaml", []byte(file), c); err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeOutbox || c.ScanInterval != 50*time.Millisecond || c.FailureRate != 0.2 || c.RelayCrashEvery != 3 || c.Rate != 20 {
		t.Fatalf("decoded %+v", c)
	}
	err := scenarios.DecodeWorkload("w.yaml", []byte("mode: outbox\nfailure_rate: 2\n"), Scenario{}.DefaultConfig(true))
	var we *scenarios.WorkloadError
	if !errors.As(err, &we) || we.Line != 2 || !strings.Contains(we.Msg, "failure_rate") {
		t.Fatalf("bad failure_rate: %v", err)
	}
	err = scenarios.DecodeWorkload("w.yaml", []byte("order_database_url: mysql://db/orders\n"), Scenario{}.DefaultConfig(true))
	if err == nil || !strings.Contains(err.Error(), "unsupported database URL scheme") {
		t.Fatalf("mysql URL: %v", err)
	}
	if err := scenarios.DecodeWorkload("w.yaml", []byte("order_database_url: postgres://db/orders\n"), Scenario{}.DefaultConfig(true)); err != nil {
		t.Fatalf("postgres URL: %v", err)
	}
}
