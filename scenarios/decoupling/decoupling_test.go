package decoupling

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/scenariotest"
	"github.com/mqbench/mqbench/scenarios/store"
	"go.yaml.in/yaml/v3"
)

func smallConfig(modes ...string) *Config {
	c := Scenario{}.DefaultConfig(true).(*Config)
	c.Rate = 100
	c.Capacity = 300
	c.Duration = time.Duration(len(modes)) * 4 * time.Second
	c.Warmup = 300 * time.Millisecond
	c.Drain = 30 * time.Second
	c.Modes = modes
	return c
}

func metric(t *testing.T, res *result.Result, name string) float64 {
	t.Helper()
	m, ok := res.Metrics[name]
	if !ok {
		t.Fatalf("metric %q missing (have %v)", name, res.Metrics)
	}
	return m.Value
}

func TestRunMemoryBothModes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := scenariotest.Memory(t, memory.Options{})
	res, err := Scenario{}.Run(ctx, scenariotest.Env(t, d), smallConfig(Direct, MQ))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verdict.Pass {
		t.Fatalf("verdict failed: %v (notes %v)", res.Verdict.Violations, res.Notes)
	}
	if v := metric(t, res, "orders_failed_direct"); v <= 0 {
		t.Errorf("orders_failed_direct = %v, want > 0 (inventory was down)", v)
	}
	if v := metric(t, res, "orders_lost_mq"); v != 0 {
		t.Errorf("orders_lost_mq = %v", v)
	}
	if v := metric(t, res, "orders_failed_mq"); v != 0 {
		t.Errorf("orders_failed_mq = %v: the broker stayed up", v)
	}
	if v := metric(t, res, "backlog_peak"); v <= 0 {
		t.Errorf("backlog_peak = %v, want > 0", v)
	}
	if v := metric(t, res, "stock_consistent"); v != 1 {
		t.Errorf("stock_consistent = %v", v)
	}
	if o, od, om := metric(t, res, "orders"), metric(t, res, "orders_direct"), metric(t, res, "orders_mq"); o != od+om || od == 0 || om == 0 {
		t.Errorf("orders %v, direct %v, mq %v", o, od, om)
	}
	for _, name := range []string{"drain_seconds", "drain_expected_seconds", "resume_seconds", "e2e_p99_ms", "e2e_p99_ms_during", "depth_peak", "stock_consistent_direct"} {
		metric(t, res, name)
	}
	a := res.Accounting
	if !a.Complete || a.Lost != 0 || a.Confirmed != int64(metric(t, res, "orders_mq")) {
		t.Errorf("accounting %+v", a)
	}
	// An order placed during the outage waits for the recovery: its
	// order-to-deduction latency exceeds the remaining outage, which is
	// not a timing assertion but the definition of the window.
	if during, before := res.Latency["order_to_deduct_during"], res.Latency["order_to_deduct_before"]; during.Count == 0 || before.Count == 0 || during.Max <= before.P50 {
		t.Errorf("order_to_deduct before %+v, during %+v", before, during)
	}
	up := res.Series["inventory_up"]
	downs := 0
	for _, v := range up {
		if v == 0 {
			downs++
		}
	}
	if downs < 2 {
		t.Errorf("inventory_up %v: want the two outages", up)
	}
	for name, v := range res.Series {
		if len(v) != len(res.Timeline) {
			t.Errorf("series %s has %d points, timeline %d", name, len(v), len(res.Timeline))
		}
	}
	var peak int64
	for _, s := range res.Timeline {
		peak = max(peak, s.Backlog)
	}
	if peak == 0 {
		t.Error("the stick's timeline shows no backlog during the outage")
	}
}

// TestDuplicatesDeductOnce: the broker stores every third message twice;
// the inventory counts the duplicates and deducts each order once.
func TestDuplicatesDeductOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := scenariotest.Memory(t, memory.Options{Faults: memory.Faults{DuplicateEvery: 3}})
	res, err := Scenario{}.Run(ctx, scenariotest.Env(t, d), smallConfig(MQ))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verdict.Pass {
		t.Fatalf("verdict failed: %v (notes %v)", res.Verdict.Violations, res.Notes)
	}
	// The stick also counts redeliveries of orders abandoned by the killed
	// consumer before they were deducted, so the two need not be equal.
	if v := metric(t, res, "duplicates_delivered"); v == 0 || res.Accounting.Duplicated == 0 {
		t.Errorf("duplicates_delivered = %v, stick duplicated %d: want both > 0", v, res.Accounting.Duplicated)
	}
	if metric(t, res, "stock_consistent") != 1 || metric(t, res, "deducted_mq") != metric(t, res, "orders_mq") {
		t.Errorf("metrics %v", res.Metrics)
	}
}

func TestCancelReturnsPartial(t *testing.T) {
	d := scenariotest.Memory(t, memory.Options{})
	c := smallConfig(MQ, Direct)
	c.Duration = 40 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Scenario{}.Run(ctx, scenariotest.Env(t, d), c)
	if err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if res == nil || res.Accounting.Complete {
		t.Fatalf("want an incomplete result, got %+v", res)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatalf("Run took %s after cancellation", time.Since(start))
	}
}

func TestHTTPInventoryDownAndUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inv := testInventory(t, ctx)
	h := &httpInventory{inv: inv}
	client := &http.Client{Timeout: 5 * time.Second}
	if err := h.call(ctx, client, 1); !errors.Is(err, errDown) {
		t.Fatalf("call before start = %v, want errDown", err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	defer h.Stop()
	for _, id := range []int64{1, 2, 1} { // 1 twice: deducted once
		if err := h.call(ctx, client, id); err != nil {
			t.Fatalf("call %d: %v", id, err)
		}
	}
	h.Stop()
	if err := h.call(ctx, client, 3); !errors.Is(err, errDown) {
		t.Fatalf("call while down = %v, want errDown", err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	if err := h.call(ctx, client, 3); err != nil {
		t.Fatalf("call after restart: %v", err)
	}
	stock, deducted, err := inv.final(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stock != 7 || len(deducted) != 3 || inv.stats.dupes.Load() != 1 {
		t.Fatalf("stock %d, deducted %v, dupes %d; want 7, 3 orders, 1", stock, deducted, inv.stats.dupes.Load())
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, *h.url.Load()+"?order=x", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad order id: HTTP %d, want 400", resp.StatusCode)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"default", func(*Config) {}, ""},
		{"mq only", func(c *Config) { c.Modes = []string{MQ} }, ""},
		{"unlimited capacity", func(c *Config) { c.Capacity = 0 }, ""},
		{"whole run down", func(c *Config) { c.OutageStart, c.OutageEnd = 0, 1 }, ""},
		{"rate zero", func(c *Config) { c.Rate = 0 }, "rate"},
		{"size", func(c *Config) { c.Size = 48 }, "size"},
		{"no modes", func(c *Config) { c.Modes = []string{} }, "modes"},
		{"unknown mode", func(c *Config) { c.Modes = []string{"rpc"} }, "modes"},
		{"mode twice", func(c *Config) { c.Modes = []string{"direct", "direct"} }, "modes"},
		{"outage start 1", func(c *Config) { c.OutageStart = 1 }, "outage_start"},
		{"outage start negative", func(c *Config) { c.OutageStart = -0.1 }, "outage_start"},
		{"outage end before start", func(c *Config) { c.OutageEnd = 0.2 }, "outage_end"},
		{"outage end past 1", func(c *Config) { c.OutageEnd = 1.5 }, "outage_end"},
		{"capacity below rate", func(c *Config) { c.Capacity = 100 }, "inventory_capacity"},
		{"capacity negative", func(c *Config) { c.Capacity = -1 }, "inventory_capacity"},
		{"stock", func(c *Config) { c.InitialStock = 0 }, "initial_stock"},
		{"http timeout", func(c *Config) { c.HTTPTimeout = 0 }, "http_timeout"},
		{"in flight", func(c *Config) { c.MaxInFlight = 0 }, "max_in_flight"},
		{"batch", func(c *Config) { c.Batch = 0 }, "batch"},
		{"ready", func(c *Config) { c.ReadyTimeout = -time.Second }, "ready_timeout"},
		{"short", func(c *Config) { c.Duration = 3 * time.Second }, "duration"},
		{"postgres", func(c *Config) { c.DatabaseURL = "postgres://127.0.0.1/x" }, ""},
		{"mysql", func(c *Config) { c.DatabaseURL = "mysql://127.0.0.1/x" }, "database_url"},
		{"consumers", func(c *Config) { c.Consumers = 0 }, "consumers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Scenario{}.DefaultConfig(false).(*Config)
			tt.edit(c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *scenarios.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate() = %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
	if err := (Scenario{}).DefaultConfig(true).Validate(); err != nil {
		t.Fatalf("quick default invalid: %v", err)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	for _, quick := range []bool{false, true} {
		want := Scenario{}.DefaultConfig(quick).(*Config)
		b, err := yaml.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("http_timeout: 2s")) {
			t.Errorf("durations should read as Go durations:\n%s", b)
		}
		got := &Config{}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(got); err != nil {
			t.Fatalf("decode:\n%s\n%v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
}

// TestDirectOnly runs the broker-free mode alone: orders fail only during
// the outage, and the direct inventory stays consistent.
func TestDirectOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := scenariotest.Memory(t, memory.Options{})
	res, err := Scenario{}.Run(ctx, scenariotest.Env(t, d), smallConfig(Direct))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verdict.Pass || res.Accounting.Sent != 0 {
		t.Fatalf("verdict %+v, accounting %+v", res.Verdict, res.Accounting)
	}
	failed, placed := metric(t, res, "orders_failed_direct"), metric(t, res, "orders_direct")
	if failed <= 0 || failed >= placed {
		t.Fatalf("orders_failed_direct %v of %v: want some, not all", failed, placed)
	}
	if _, ok := res.Metrics["orders_lost_mq"]; ok {
		t.Error("mq metrics without the mq mode")
	}
}

// TestDeductCountsALostCommit: a deduction committed by a call that saw an
// error (its consumer was killed mid-commit) is counted once, when the
// redelivery finds the order already deducted, so the backlog drains.
func TestDeductCountsALostCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inv := testInventory(t, ctx)
	// Order 7's commit reached the database, but its caller never counted it.
	if _, err := inv.db.ExecContext(ctx, `INSERT INTO deductions (order_id, qty, at_ns) VALUES (7, 1, 0)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		order       int64
		wantApplied bool
		wantCount   int64
	}{
		{7, false, 1}, // the redelivery: not applied again, but counted now
		{7, false, 1}, // a further duplicate counts nothing
		{8, true, 2},
		{8, false, 2},
	} {
		applied, err := inv.deduct(ctx, tc.order)
		if err != nil {
			t.Fatal(err)
		}
		if applied != tc.wantApplied || inv.stats.applied.Load() != tc.wantCount {
			t.Fatalf("deduct(%d) = %v with %d counted; want %v with %d", tc.order, applied, inv.stats.applied.Load(), tc.wantApplied, tc.wantCount)
		}
	}
}

// testInventory opens an inventory with 10 units of stock and no capacity
// limit, in SQLite under the test's directory, closed when the test ends.
func testInventory(t *testing.T, ctx context.Context) *inventory {
	t.Helper()
	dbs, err := store.NewOpener("", t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := openInventory(ctx, dbs, "inv.db", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inv.db.Close() })
	return inv
}
