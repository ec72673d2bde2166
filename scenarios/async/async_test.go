package async

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/scenariotest"
	"go.yaml.in/yaml/v3"
)

// smallConfig is a short run; costs stay large so the modes' order is
// unmistakable even on a loaded machine.
func smallConfig(modes ...string) *Config {
	c := Scenario{}.DefaultConfig(true).(*Config)
	c.Rate = 40
	c.Duration = time.Duration(len(modes)) * 1500 * time.Millisecond
	c.Warmup = 300 * time.Millisecond
	c.Drain = 20 * time.Second
	c.Modes = modes
	c.EmailTime, c.SMSTime = 100*time.Millisecond, 100*time.Millisecond
	c.Producers = 4
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

func TestRunMemoryAllModes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := scenariotest.Memory(t, memory.Options{})
	c := smallConfig(Serial, Parallel, MQ)
	res, err := Scenario{}.Run(ctx, scenariotest.Env(t, d), c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verdict.Pass {
		t.Fatalf("verdict failed: %v (notes %v)", res.Verdict.Violations, res.Notes)
	}
	regs := metric(t, res, "registrations")
	if regs <= 0 {
		t.Fatalf("registrations = %v", regs)
	}
	if e, s := metric(t, res, "emails_sent"), metric(t, res, "sms_sent"); e != regs || s != regs {
		t.Fatalf("emails_sent %v, sms_sent %v, registrations %v: want all equal", e, s, regs)
	}
	a := res.Accounting
	if !a.Complete || a.Lost != 0 || a.Groups != 2 || a.Confirmed != int64(regs) || a.Received != 2*a.Confirmed {
		t.Fatalf("accounting %+v, registrations %v", a, regs)
	}
	if metric(t, res, "duplicates_delivered") != 0 || metric(t, res, "double_sends") != 0 {
		t.Fatalf("duplicates without injected faults: %v", res.Metrics)
	}
	for _, name := range []string{"response_serial", "response_parallel", "response_mq", "notify", "notify_email", "notify_sms", "db_write", "end_to_end", "publish"} {
		if l := res.Latency[name]; l == nil || l.Count == 0 {
			t.Errorf("latency %s empty", name)
		}
	}
	for _, name := range []string{"response_p99_ms_serial", "response_p99_ms_parallel", "response_p99_ms_mq", "notify_p99_ms"} {
		metric(t, res, name)
	}
	// Simulated costs of 100 ms each: serial ≈ 200 ms, parallel ≈ 100 ms,
	// mq ≈ a DB write and an in-memory publish.
	s, p, m := metric(t, res, "response_p50_ms_serial"), metric(t, res, "response_p50_ms_parallel"), metric(t, res, "response_p50_ms_mq")
	if !(m < p && p < s) {
		t.Errorf("response p50: mq %.2f, parallel %.2f, serial %.2f; want mq < parallel < serial", m, p, s)
	}
	for name, v := range res.Series {
		if len(v) != len(res.Timeline) {
			t.Errorf("series %s has %d points, timeline %d", name, len(v), len(res.Timeline))
		}
	}
	var answered float64
	for _, v := range res.Series["answered_mq"] {
		answered += v
	}
	if answered != regs {
		t.Errorf("answered_mq series sums to %v, registrations %v", answered, regs)
	}
}

// TestDuplicatesSendOnce: the broker stores every third message twice; the
// idempotent services count the duplicates and still send once.
func TestDuplicatesSendOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := scenariotest.Memory(t, memory.Options{Faults: memory.Faults{DuplicateEvery: 3}})
	c := smallConfig(MQ)
	c.Rate = 100
	res, err := Scenario{}.Run(ctx, scenariotest.Env(t, d), c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verdict.Pass {
		t.Fatalf("verdict failed: %v", res.Verdict.Violations)
	}
	regs := metric(t, res, "registrations")
	if e, s := metric(t, res, "emails_sent"), metric(t, res, "sms_sent"); regs == 0 || e != regs || s != regs {
		t.Fatalf("emails_sent %v, sms_sent %v, registrations %v: want all equal and > 0", e, s, regs)
	}
	dup := metric(t, res, "duplicates_delivered")
	if dup == 0 || float64(res.Accounting.Duplicated) != dup {
		t.Fatalf("duplicates_delivered %v, stick duplicated %d: want equal and > 0", dup, res.Accounting.Duplicated)
	}
	if metric(t, res, "double_sends") != 0 {
		t.Fatal("a notification was sent twice")
	}
}

func TestCancelReturnsPartial(t *testing.T) {
	d := scenariotest.Memory(t, memory.Options{})
	c := smallConfig(MQ, Serial)
	c.Duration = 20 * time.Second
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

func TestRunRejectsWrongConfig(t *testing.T) {
	d := scenariotest.Memory(t, memory.Options{})
	type other struct{ scenarios.Config }
	if _, err := (Scenario{}).Run(context.Background(), scenariotest.Env(t, d), other{}); err == nil {
		t.Fatal("want error for a foreign config type")
	}
	c := smallConfig(MQ)
	c.Rate = 0
	_, err := Scenario{}.Run(context.Background(), scenariotest.Env(t, d), c)
	var fe *scenarios.FieldError
	if !errors.As(err, &fe) || fe.Field != "rate" {
		t.Fatalf("err = %v, want a FieldError on rate", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" = valid
	}{
		{"default", func(*Config) {}, ""},
		{"mq only", func(c *Config) { c.Modes = []string{MQ} }, ""},
		{"zero costs", func(c *Config) { c.EmailTime, c.SMSTime = 0, 0 }, ""},
		{"rate zero", func(c *Config) { c.Rate = 0 }, "rate"},
		{"bad profile", func(c *Config) { c.Profile = "safe" }, "profile"},
		{"size too small", func(c *Config) { c.Size = 45 }, "size"},
		{"no modes", func(c *Config) { c.Modes = nil }, "modes"},
		{"unknown mode", func(c *Config) { c.Modes = []string{"mq", "batch"} }, "modes"},
		{"mode twice", func(c *Config) { c.Modes = []string{"mq", "mq"} }, "modes"},
		{"negative email", func(c *Config) { c.EmailTime = -time.Millisecond }, "email_time"},
		{"huge sms", func(c *Config) { c.SMSTime = time.Hour }, "sms_time"},
		{"in flight zero", func(c *Config) { c.MaxInFlight = 0 }, "max_in_flight"},
		{"batch zero", func(c *Config) { c.Batch = 0 }, "batch"},
		{"ready timeout", func(c *Config) { c.ReadyTimeout = 0 }, "ready_timeout"},
		{"duration per mode", func(c *Config) { c.Duration = 2 * time.Second }, "duration"},
		{"postgres", func(c *Config) { c.DatabaseURL = "postgres://127.0.0.1/mqbench" }, ""},
		{"mysql", func(c *Config) { c.DatabaseURL = "mysql://127.0.0.1/mqbench" }, "database_url"},
		{"producers zero", func(c *Config) { c.Producers = 0 }, "producers"},
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

func TestDatabaseURLMessage(t *testing.T) {
	c := Scenario{}.DefaultConfig(true).(*Config)
	c.DatabaseURL = "sqlite:///tmp/x.db"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `database_url: unsupported database URL scheme "sqlite"`) {
		t.Fatalf("Validate() = %v, want the unsupported-scheme message", err)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	for _, quick := range []bool{false, true} {
		want := Scenario{}.DefaultConfig(quick).(*Config)
		b, err := yaml.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("email_time: 50ms")) {
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
	dec := yaml.NewDecoder(strings.NewReader("rate: 10\nemail_ms: 5\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&Config{}); err == nil {
		t.Fatal("an unknown field must fail a strict decode")
	}
}

// TestBaselinesOnly runs the broker-free modes alone: nothing is sent, the
// mq metrics are zero, and the verdict holds.
func TestBaselinesOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := scenariotest.Memory(t, memory.Options{})
	c := smallConfig(Parallel, Serial)
	c.Duration = 2 * time.Second
	res, err := Scenario{}.Run(ctx, scenariotest.Env(t, d), c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verdict.Pass || res.Accounting.Sent != 0 || metric(t, res, "registrations") != 0 {
		t.Fatalf("verdict %+v, accounting %+v", res.Verdict, res.Accounting)
	}
	if metric(t, res, "failed_serial") != 0 || res.Latency["response_serial"].Count == 0 {
		t.Fatalf("serial mode did not run cleanly: %v", res.Metrics)
	}
	for name, v := range res.Series {
		if len(v) != len(res.Timeline) || len(v) == 0 {
			t.Errorf("series %s has %d points, timeline %d", name, len(v), len(res.Timeline))
		}
	}
}
