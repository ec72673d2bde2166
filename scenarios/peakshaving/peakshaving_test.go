package peakshaving

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
		{"rate set", func(c *Config) { c.Rate = 5000 }, ""},
		{"application", func(c *Config) { c.Admission = AdmissionApplication }, ""},
		{"broker", func(c *Config) { c.Admission = AdmissionBroker }, ""},
		{"common checked", func(c *Config) { c.Duration = 0 }, "duration"},
		{"size below body", func(c *Config) { c.Size = 40 }, "size"},
		{"no requests", func(c *Config) { c.Requests = 0 }, "requests"},
		{"no stock", func(c *Config) { c.Stock = 0 }, "stock"},
		{"no threshold", func(c *Config) { c.Threshold = 0 }, "threshold"},
		{"zero capacity", func(c *Config) { c.Capacity = 0 }, "capacity"},
		{"negative capacity", func(c *Config) { c.Capacity = -1 }, "capacity"},
		{"unknown admission", func(c *Config) { c.Admission = "lag" }, "admission"},
		{"empty admission", func(c *Config) { c.Admission = "" }, "admission"},
		{"zero prefetch", func(c *Config) { c.Prefetch = 0 }, "prefetch"},
		{"postgres", func(c *Config) { c.DatabaseURL = "postgres://u@localhost/db" }, ""},
		{"mysql", func(c *Config) { c.DatabaseURL = "mysql://u@localhost/db" }, "database_url"},
		{"file path", func(c *Config) { c.DatabaseURL = "/tmp/x.db" }, "database_url"},
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
		if err := got.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	bad := []byte("requests: 10\nthreshhold: 5\n")
	dec := yaml.NewDecoder(bytes.NewReader(bad))
	dec.KnownFields(true)
	if err := dec.Decode(&Config{}); err == nil {
		t.Fatal("unknown field accepted")
	}
}

// noMaxLength hides the memory driver's max-length rejection, as on a
// broker without one.
type noMaxLength struct{ driver.Driver }

func (d noMaxLength) Info() driver.Info {
	i := d.Driver.Info()
	i.Capabilities.MaxLengthReject = false
	return i
}

func (d noMaxLength) Provision(ctx context.Context, dest driver.Destination) (func(context.Context) error, error) {
	if dest.MaxLength > 0 {
		return nil, errors.ErrUnsupported
	}
	return d.Driver.Provision(ctx, dest)
}

func testConfig() *Config {
	c := Scenario{}.DefaultConfig(true).(*Config)
	// 3000 requests in 300 ms against 100/s: the queue must fill.
	c.Requests, c.Duration, c.Producers = 3000, 300*time.Millisecond, 8
	c.Stock, c.Threshold, c.Capacity, c.Prefetch = 20, 40, 100, 5
	c.Drain = 60 * time.Second
	return c
}

func runScenario(t *testing.T, ctx context.Context, d driver.Driver, c *Config) *result.Result {
	t.Helper()
	env := scenarios.Env{
		Driver: d, Profile: driver.Durable, RunID: 42, Prefix: t.Name(),
		WorkDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
	}
	res, err := Scenario{}.Run(ctx, env, c)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func metric(t *testing.T, res *result.Result, name string) float64 {
	t.Helper()
	m, ok := res.Metrics[name]
	if !ok {
		t.Fatalf("metric %s missing (have %v)", name, res.Metrics)
	}
	return m.Value
}

func checkInvariants(t *testing.T, res *result.Result, c *Config) {
	t.Helper()
	t.Logf("metrics %v\nnotes %q\nseries %v", res.Metrics, res.Notes, res.Series)
	if !res.Verdict.Pass {
		t.Fatalf("verdict failed: %v\nmetrics %v\nnotes %v", res.Verdict.Violations, res.Metrics, res.Notes)
	}
	req, acc, rej := metric(t, res, "requests"), metric(t, res, "accepted"), metric(t, res, "rejected")
	if req != float64(c.Requests) || acc+rej != req {
		t.Fatalf("requests %v, accepted %v + rejected %v", req, acc, rej)
	}
	if rej == 0 {
		t.Fatalf("no request rejected: %v", res.Metrics)
	}
	if metric(t, res, "oversold") != 0 {
		t.Fatalf("oversold: %v", res.Metrics)
	}
	if sold := metric(t, res, "sold"); sold != min(float64(c.Stock), acc) {
		t.Fatalf("sold %v, want min(%d, %v)", sold, c.Stock, acc)
	}
	if metric(t, res, "stock_initial") != float64(c.Stock) || metric(t, res, "threshold") != float64(c.Threshold) {
		t.Fatalf("config metrics wrong: %v", res.Metrics)
	}
	if peak, lim := metric(t, res, "queue_depth_peak"), metric(t, res, "queue_depth_limit"); peak > lim {
		t.Fatalf("queue depth %v above limit %v", peak, lim)
	}
	for _, name := range []string{"accept_p99_ms", "reject_p99_ms", "sellout_seconds"} {
		metric(t, res, name)
	}
	a := res.Accounting
	if !a.Complete || a.Lost != 0 || a.Confirmed != int64(acc) {
		t.Fatalf("accounting %+v, accepted %v", a, acc)
	}
	for _, s := range []string{"input_per_s", "processed_per_s", "queue_depth", "threshold"} {
		if len(res.Series[s]) == 0 || len(res.Series[s]) < len(res.Timeline) {
			t.Fatalf("series %s: %d points, timeline %d", s, len(res.Series[s]), len(res.Timeline))
		}
	}
	var in, done float64
	for i := range res.Series["input_per_s"] {
		in += res.Series["input_per_s"][i]
		done += res.Series["processed_per_s"][i]
	}
	if in != req || done != acc {
		t.Fatalf("series sum: input %v (requests %v), processed %v (accepted %v)", in, req, done, acc)
	}
	if res.Latency["accept_response"] == nil || res.Latency["reject_response"].Count != int64(rej) {
		t.Fatalf("latencies: %+v", res.Latency)
	}
}

func TestBrokerAdmission(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := memory.New(ctx, driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := testConfig()
	res := runScenario(t, ctx, d, c)
	checkInvariants(t, res, c)
	if metric(t, res, "admission_broker") != 1 || res.Accounting.Rejected != int64(metric(t, res, "rejected")) {
		t.Fatalf("broker admission not used: %v %+v", res.Metrics, res.Accounting)
	}
}

func TestApplicationAdmission(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := memory.New(ctx, driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := testConfig()
	res := runScenario(t, ctx, noMaxLength{d}, c)
	checkInvariants(t, res, c)
	if metric(t, res, "admission_broker") != 0 || res.Accounting.Rejected != 0 {
		t.Fatalf("application admission not used: %v %+v", res.Metrics, res.Accounting)
	}
	if peak := metric(t, res, "queue_depth_peak"); peak > float64(c.Threshold) {
		t.Fatalf("application gate let the queue reach %v > %d", peak, c.Threshold)
	}
	// Forcing the broker mechanism where there is none is refused.
	c.Admission = AdmissionBroker
	env := scenarios.Env{Driver: noMaxLength{d}, Prefix: "x", WorkDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
	if _, err := (Scenario{}).Run(ctx, env, c); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("admission broker on a driver without it: %v", err)
	}
}

// Duplicate deliveries must not sell an item twice (reliability fault 7).
func TestDuplicatesDoNotOversell(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := memory.Constructor(memory.Options{Faults: memory.Faults{DuplicateEvery: 3}})(ctx, driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := testConfig()
	c.Stock = 200 // more than will be accepted: every accepted request sells
	c.Threshold = 400
	res := runScenario(t, ctx, d, c)
	if metric(t, res, "oversold") != 0 || !res.Verdict.Pass {
		t.Fatalf("verdict %v metrics %v", res.Verdict.Violations, res.Metrics)
	}
	if metric(t, res, "duplicates") == 0 || res.Accounting.Duplicated == 0 {
		t.Fatalf("no duplicate reached the sale service: %v %+v", res.Metrics, res.Accounting)
	}
	if sold, acc := metric(t, res, "sold"), metric(t, res, "accepted"); sold != min(float64(c.Stock), acc) {
		t.Fatalf("sold %v accepted %v", sold, acc)
	}
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := memory.New(ctx, driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := testConfig()
	c.Duration = time.Minute
	rctx, stop := context.WithCancel(ctx)
	time.AfterFunc(500*time.Millisecond, stop)
	res := runScenario(t, rctx, d, c)
	if res.Accounting.Complete {
		t.Fatal("interrupted run marked complete")
	}
	if req := metric(t, res, "requests"); req >= float64(c.Requests) || req != metric(t, res, "accepted")+metric(t, res, "rejected")+res.Metrics["interrupted"].Value {
		t.Fatalf("interrupted accounting: %v", res.Metrics)
	}
	if metric(t, res, "oversold") != 0 {
		t.Fatal("oversold")
	}
}

type wrongConfig struct{ scenarios.Common }

func (*wrongConfig) Validate() error { return nil }

func TestRunRejectsWrongConfig(t *testing.T) {
	env := scenarios.Env{Log: slog.New(slog.DiscardHandler)}
	if _, err := (Scenario{}).Run(context.Background(), env, &wrongConfig{}); err == nil {
		t.Fatal("wrong config type accepted")
	}
	c := testConfig()
	c.Capacity = 0
	if _, err := (Scenario{}).Run(context.Background(), env, c); err == nil {
		t.Fatal("invalid config accepted")
	}
}

// flakyConsumers makes the first consumer fail its third Receive, as a
// broken connection would.
type flakyConsumers struct {
	driver.Driver
	opened int
}

type flakyConsumer struct {
	driver.Consumer
	receives int
}

func (c *flakyConsumer) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
	c.receives++
	if c.receives == 3 {
		return nil, errors.New("connection reset")
	}
	return c.Consumer.Receive(ctx, max)
}

func (d *flakyConsumers) NewConsumer(ctx context.Context, dest driver.Destination, opts driver.ConsumerOptions) (driver.Consumer, error) {
	cn, err := d.Driver.NewConsumer(ctx, dest, opts)
	if err != nil {
		return nil, err
	}
	d.opened++
	if d.opened == 1 {
		return &flakyConsumer{Consumer: cn}, nil
	}
	return cn, nil
}

func TestSaleServiceRestartsAfterError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := memory.New(ctx, driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := testConfig()
	res := runScenario(t, ctx, &flakyConsumers{Driver: d}, c)
	checkInvariants(t, res, c)
	if metric(t, res, "sale_restarts") != 1 {
		t.Fatalf("sale_restarts: %v", res.Metrics)
	}
}

func TestWorkloadFile(t *testing.T) {
	c := Scenario{}.DefaultConfig(true).(*Config)
	file := "scenario: peakshaving\nrequests: 500\nstock: 10\nthreshold: 20\ncapacity: 50\nadmission: application\nduration: 500ms\n"
	if err := scenarios.DecodeWorkload("w.yaml", []byte(file), c); err != nil {
		t.Fatal(err)
	}
	if c.Requests != 500 || c.Stock != 10 || c.Threshold != 20 || c.Capacity != 50 || c.Admission != AdmissionApplication || c.Duration != 500*time.Millisecond {
		t.Fatalf("decoded %+v", c)
	}
	err := scenarios.DecodeWorkload("w.yaml", []byte("stock: 10\nadmission: lag\n"), Scenario{}.DefaultConfig(true))
	var we *scenarios.WorkloadError
	if !errors.As(err, &we) || we.Line != 2 || !strings.Contains(we.Msg, "admission") {
		t.Fatalf("bad admission: %v", err)
	}
}
