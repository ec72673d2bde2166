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
		{"closed loop", func(c *pubsub.Config) { c.ClosedLoop, c.Rate, c.Batch = true, 0, 1 }, ""},
		{"closed loop at a rate", func(c *pubsub.Config) { c.ClosedLoop, c.Batch = true, 1 }, "closed_loop"},
		{"closed loop, batches", func(c *pubsub.Config) { c.ClosedLoop, c.Rate = true, 0 }, "closed_loop"},
		{"closed loop, 2 producers", func(c *pubsub.Config) { c.ClosedLoop, c.Rate, c.Batch, c.Producers = true, 0, 1, 2 }, "closed_loop"},
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

// In a closed loop a message is sent only once the last one arrived: with
// every delivery delayed by the broker, no more messages can be sent than
// the run's length allows one delay each, and every one is received.
func TestClosedLoopOneInFlight(t *testing.T) {
	const delay = 20 * time.Millisecond
	res := run(t, memory.Faults{DelayEvery: 1, Delay: delay}, func(c *pubsub.Config) {
		c.ClosedLoop, c.Rate, c.Batch, c.Groups = true, 0, 1, 2
	})
	a := res.Accounting
	// Warm-up 100 ms + duration 500 ms (see run), one delay per message.
	limit := int64((600*time.Millisecond)/delay) + 1
	if a.Sent < 1 || a.Sent > limit {
		t.Fatalf("sent %d, want 1 to %d: one in flight, each held %v by the broker", a.Sent, limit, delay)
	}
	if a.Lost != 0 || a.Received != a.Sent*2 || !res.Verdict.Pass {
		t.Fatalf("sent %d, received %d of 2 groups, lost %d, pass %v", a.Sent, a.Received, a.Lost, res.Verdict.Pass)
	}
}
