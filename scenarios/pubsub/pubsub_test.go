package pubsub_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/pubsub"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *pubsub.Config)
		field string // "" = valid
	}{
		{"defaults", func(c *pubsub.Config) {}, ""},
		{"zero batch", func(c *pubsub.Config) { c.Batch = 0 }, "batch"},
		{"too many groups", func(c *pubsub.Config) { c.Groups = 65 }, "groups"},
		{"no producers", func(c *pubsub.Config) { c.Producers = 0 }, "producers"},
		{"tiny size", func(c *pubsub.Config) { c.Size = 10 }, "size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pubsub.Scenario{}.DefaultConfig(false).(*pubsub.Config)
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

// run runs a short pubsub on a fresh memory broker with faults.
func run(t *testing.T, faults memory.Faults, edit func(c *pubsub.Config)) *result.Result {
	t.Helper()
	drv, err := memory.NewBroker(memory.Options{Faults: faults}).Driver(driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	c := pubsub.Scenario{}.DefaultConfig(true).(*pubsub.Config)
	c.Rate, c.Duration, c.Warmup, c.Drain = 2000, 500*time.Millisecond, 100*time.Millisecond, 3*time.Second
	edit(c)
	env := scenarios.Env{Driver: drv, Profile: driver.Durable, RunID: 77, Prefix: "t", WorkDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
	res, err := pubsub.Scenario{}.Run(context.Background(), env, c)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRunFanOutAndLoss(t *testing.T) {
	tests := []struct {
		name     string
		faults   memory.Faults
		groups   int
		wantPass bool
	}{
		{"one group, clean", memory.Faults{}, 1, true},
		{"three groups, clean", memory.Faults{}, 3, true},
		{"drops fail the verdict", memory.Faults{DropEvery: 50}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.faults, func(c *pubsub.Config) { c.Groups = tt.groups; c.Producers = 2; c.Consumers = 2 })
			received, lost, sent, pass := res.Accounting.Received, res.Accounting.Lost, res.Accounting.Sent, res.Verdict.Pass
			if pass != tt.wantPass {
				t.Fatalf("verdict pass %v, want %v (received %d lost %d sent %d)", pass, tt.wantPass, received, lost, sent)
			}
			if tt.wantPass && (lost != 0 || received != sent*int64(tt.groups)) {
				t.Fatalf("received %d of %d×%d, lost %d", received, sent, tt.groups, lost)
			}
			if !tt.wantPass && lost == 0 {
				t.Fatal("injected drops not reported as lost")
			}
		})
	}
}
