package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/cluster/memcluster"
)

// testConfig is a short run: a fault after 1 s, 1 s dead, 1 s after.
func testConfig(mode string) *Config {
	c := Scenario{}.DefaultConfig(true).(*Config)
	c.Mode, c.Rate, c.Size, c.Warmup = mode, 200, 100, 0
	c.KillAt, c.Recovery, c.After, c.Gap = time.Second, time.Second, time.Second, 200*time.Millisecond
	c.Drain, c.SyncTimeout, c.Duration = 2*time.Second, 10*time.Second, time.Minute
	return c
}

// runOn runs cfg on a memory broker behind a memory cluster with opts.
func runOn(t *testing.T, cfg *Config, opts memcluster.Options, faults memory.Faults) (*result.Result, *memcluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := memory.NewBroker(memory.Options{Faults: faults})
	d, err := b.Driver(driver.Config{Profile: driver.Durable})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cl := memcluster.New(b, opts)
	t.Cleanup(cl.Close)
	env := scenarios.Env{Driver: d, Profile: driver.Durable, RunID: 42, Prefix: "t", WorkDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), Cluster: cl}
	res, err := Scenario{}.Run(ctx, env, cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res, cl
}

// TestNegativeControl is the checker's proof: the same kill of the
// leader, on a replicated cluster and on destinations that are not
// replicated. The replicated one loses nothing and is served again
// before the node restarts; the unreplicated one is unavailable until the
// restart (and, when its store dies with it, loses what waited), and the
// verdict and the acceptance check both say so. Every case checks the
// ledger's identities; no case asserts a time.
func TestNegativeControl(t *testing.T) {
	delayAll := memory.Faults{DelayEvery: 1, Delay: 500 * time.Millisecond} // messages wait on the node: a kill has something to lose
	for _, tt := range []struct {
		name         string
		opts         memcluster.Options
		faults       memory.Faults
		wantLost     bool
		untilRestart bool
		wantPass     bool
		violation    string // in the verdict when !wantPass
	}{
		{"replicated", memcluster.Options{Replicated: true, Election: 10 * time.Millisecond}, delayAll, false, false, true, ""},
		{"single node keeps its store", memcluster.Options{}, memory.Faults{}, false, true, false, "no failover"},
		{"single node loses its store", memcluster.Options{Lose: true}, delayAll, true, true, false, "lost"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, cl := runOn(t, testConfig(ModeKill), tt.opts, tt.faults)
			a := res.Accounting
			if a.Sent != a.Confirmed+a.Unconfirmed {
				t.Errorf("sent %d != confirmed %d + unconfirmed %d", a.Sent, a.Confirmed, a.Unconfirmed)
			}
			if a.Lost != a.Confirmed-a.Received {
				t.Errorf("lost %d != confirmed %d - received %d (nothing unconfirmed arrives here)", a.Lost, a.Confirmed, a.Received)
			}
			if m := res.Metrics[MetricLost].Value; m != float64(a.Lost) {
				t.Errorf("lost metric %v, accounting %d", m, a.Lost)
			}
			if (a.Lost > 0) != tt.wantLost {
				t.Errorf("lost %d, want lost > 0: %v", a.Lost, tt.wantLost)
			}
			if a.Unconfirmed == 0 && tt.untilRestart {
				t.Error("no send failed while the only node was down")
			}
			if got := res.Metrics[MetricUntilRestart].Value == 1; got != tt.untilRestart {
				t.Errorf("unavailable until restart %v, want %v", got, tt.untilRestart)
			}
			if res.Metrics[MetricFaults].Value != 1 || res.Metrics[MetricRejoined].Value != 1 {
				t.Errorf("faults %v rejoined %v, want 1 and 1", res.Metrics[MetricFaults].Value, res.Metrics[MetricRejoined].Value)
			}
			if res.Metrics[MetricProducerRecovered].Value != 1 || res.Metrics[MetricConsumerRecovered].Value != 1 {
				t.Error("producers or consumers never served again, though the node restarted")
			}
			if res.Verdict.Pass != tt.wantPass || (!tt.wantPass && !strings.Contains(strings.Join(res.Verdict.Violations, "; "), tt.violation)) {
				t.Errorf("verdict %+v, want pass %v with %q", res.Verdict, tt.wantPass, tt.violation)
			}
			if err := (Scenario{}).Accept(res, memory.Capabilities()); (err == nil) != tt.wantPass {
				t.Errorf("accept: %v, want nil: %v", err, tt.wantPass)
			}
			ev := cl.Events()
			if len(ev) < 2 || ev[0] != "kill mem-1" || ev[len(ev)-1] != "start mem-1" {
				t.Errorf("cluster events %v: want the leader mem-1 killed first and started last", ev)
			}
		})
	}
}

// TestRolling: every node stopped and started in turn on a replicated
// cluster; nothing lost, every node rejoined.
func TestRolling(t *testing.T) {
	res, cl := runOn(t, testConfig(ModeRolling), memcluster.Options{Replicated: true, Election: 10 * time.Millisecond}, memory.Faults{})
	if res.Metrics[MetricFaults].Value != 3 || res.Metrics[MetricRolling].Value != 1 {
		t.Fatalf("faults %v rolling %v, want 3 and 1", res.Metrics[MetricFaults].Value, res.Metrics[MetricRolling].Value)
	}
	if a := res.Accounting; a.Lost != 0 || !res.Verdict.Pass {
		t.Fatalf("lost %d verdict %+v, want 0 and pass", a.Lost, res.Verdict)
	}
	if m, ok := res.Metrics[MetricUntilRestart]; ok {
		t.Errorf("rolling mode reports %s = %v: each node starts right after its stop, so no run could tell", MetricUntilRestart, m.Value)
	}
	if err := (Scenario{}).Accept(res, memory.Capabilities()); err != nil {
		t.Errorf("accept: %v", err)
	}
	want := []string{"stop mem-1", "start mem-1", "stop mem-2", "start mem-2", "stop mem-3", "start mem-3"}
	var got []string
	for _, e := range cl.Events() {
		if !strings.HasPrefix(e, "leader ") {
			got = append(got, e)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %v, want %v", got, want)
	}
	for _, n := range []string{"mem-1", "mem-2", "mem-3"} {
		if !hasNote(res, n+" stopped (SIGTERM) at ") || !noteHasAll(res, n+" stopped", "started again at", "(answering at", "in sync at") {
			t.Errorf("notes %q: %s's window does not say when it was asked to start, answered and was in sync", res.Notes, n)
		}
	}
	for _, l := range []string{LatencyPublishBefore, LatencyPublishDuring, LatencyE2EDuring} {
		if res.Latency[l] == nil || res.Latency[l].Count == 0 {
			t.Errorf("latency %s missing", l)
		}
	}
	if len(res.Series[SeriesReceived]) != len(res.Timeline) || len(res.Series[SeriesNodeDown]) != len(res.Timeline) {
		t.Error("series not aligned with the timeline")
	}
}

// TestNoCluster: a single-node topology is refused with the one-line
// reason.
func TestNoCluster(t *testing.T) {
	d, _ := memory.New(context.Background(), driver.Config{})
	defer d.Close()
	_, err := Scenario{}.Run(context.Background(), scenarios.Env{Driver: d, Log: slog.New(slog.DiscardHandler)}, testConfig(ModeKill))
	if !errors.Is(err, ErrNoCluster) || !strings.Contains(err.Error(), "failover needs --topology cluster") {
		t.Fatalf("err %v, want ErrNoCluster", err)
	}
}

// TestValidate: every bad value is refused with the field's name.
func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		field string
		set   func(c *Config)
	}{
		{"rate", func(c *Config) { c.Rate = math.NaN() }},
		{"rate", func(c *Config) { c.Rate = 0 }},
		{"rate_tolerance", func(c *Config) { c.RateTolerance = math.Inf(1) }},
		{"rate_tolerance", func(c *Config) { c.RateTolerance = 1 }},
		{"mode", func(c *Config) { c.Mode = "chaos" }},
		{"kill_at", func(c *Config) { c.KillAt = 0 }},
		{"recovery", func(c *Config) { c.Recovery = -time.Second }},
		{"after", func(c *Config) { c.After = 2 * time.Hour }},
		{"sync_timeout", func(c *Config) { c.SyncTimeout = 0 }},
		{"gap", func(c *Config) { c.Gap = -1 }},
		{"batch", func(c *Config) { c.Batch = 0 }},
		{"drain", func(c *Config) { c.Drain = 0 }},
		{"duration", func(c *Config) { c.Duration = 2 * time.Second }},
		{"duration", func(c *Config) { c.Duration = 48 * time.Hour }},
	} {
		c := testConfig(ModeKill)
		tt.set(c)
		err := c.Validate()
		var fe *scenarios.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want a one-line error on %s", tt.field, err, tt.field)
		}
	}
	for _, quick := range []bool{false, true} {
		if err := (Scenario{}).DefaultConfig(quick).Validate(); err != nil {
			t.Errorf("default (quick %v): %v", quick, err)
		}
	}
}

// refusesUnreplicated is a driver whose broker protects every destination
// alike: it refuses Unreplicated, as the ActiveMQ and RocketMQ adapters do.
type refusesUnreplicated struct{ driver.Driver }

func (d refusesUnreplicated) Provision(ctx context.Context, dest driver.Destination) (func(context.Context) error, error) {
	if dest.Unreplicated {
		return nil, fmt.Errorf("test broker: unreplicated: %w", errors.ErrUnsupported)
	}
	return d.Driver.Provision(ctx, dest)
}

// TestUnreplicated checks the negative control's plumbing: the
// destination asks for one node and a run says it was the control. On a
// broker that refuses unreplicated destinations, the control kills the
// leader's standbys and then the leader, starts them again leader first,
// and must find producers and consumers waiting for the restart.
func TestUnreplicated(t *testing.T) {
	cfg := testConfig(ModeKill)
	cfg.Unreplicated = true
	res, _ := runOn(t, cfg, memcluster.Options{}, memory.Faults{})
	if !hasNote(res, "negative control: the destination was kept on one node") || res.Metrics[MetricControl].Value != 1 {
		t.Errorf("notes %q, %s %v: the result does not say it was the negative control", res.Notes, MetricControl, res.Metrics[MetricControl].Value)
	}

	b := memory.NewBroker(memory.Options{})
	d, err := b.Driver(driver.Config{Profile: driver.Durable})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cl := memcluster.New(b, memcluster.Options{Replicated: true, Election: 10 * time.Millisecond})
	t.Cleanup(cl.Close)
	env := scenarios.Env{Driver: refusesUnreplicated{d}, Profile: driver.Durable, RunID: 43, Prefix: "u", WorkDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), Cluster: cl}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err = Scenario{}.Run(ctx, env, cfg)
	if err != nil {
		t.Fatalf("run on a broker refusing unreplicated destinations: %v", err)
	}
	if !hasNote(res, "cannot keep a destination on one node (test broker: unreplicated") {
		t.Errorf("notes %q do not say the control killed the standbys, and why", res.Notes)
	}
	var got []string
	for _, e := range cl.Events() {
		if !strings.HasPrefix(e, "leader ") {
			got = append(got, e)
		}
	}
	if want := "kill mem-2,kill mem-3,kill mem-1,start mem-1,start mem-3,start mem-2"; strings.Join(got, ",") != want {
		t.Errorf("events %v, want %s", got, want)
	}
	if res.Metrics[MetricUntilRestart].Value != 1 || res.Verdict.Pass || !strings.Contains(strings.Join(res.Verdict.Violations, "; "), "no failover") {
		t.Errorf("until restart %v verdict %+v: the control must find no failover", res.Metrics[MetricUntilRestart].Value, res.Verdict)
	}
	if a := res.Accounting; a.Lost != 0 || a.Confirmed != a.Received {
		t.Errorf("lost %d, confirmed %d, received %d: a replicated store loses nothing", a.Lost, a.Confirmed, a.Received)
	}
}

func hasNote(res *result.Result, sub string) bool {
	for _, n := range res.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// noteHasAll reports whether one note starts with prefix and holds every
// part.
func noteHasAll(res *result.Result, prefix string, parts ...string) bool {
	for _, n := range res.Notes {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(n, p)
		}
		if all {
			return true
		}
	}
	return false
}

// killRefused is a memory cluster that refuses to kill one node.
type killRefused struct {
	*memcluster.Cluster
	node string
}

func (k killRefused) Kill(ctx context.Context, name string) error {
	if name == k.node {
		return errors.New("test: kill refused")
	}
	return k.Cluster.Kill(ctx, name)
}

// TestFailedFaultRestarts: when the control's kill of the leader fails
// after its standbys were killed, the run says so and starts the standbys
// again, leaving no node dead.
func TestFailedFaultRestarts(t *testing.T) {
	cfg := testConfig(ModeKill)
	cfg.Unreplicated = true
	b := memory.NewBroker(memory.Options{})
	d, err := b.Driver(driver.Config{Profile: driver.Durable})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	mc := memcluster.New(b, memcluster.Options{Replicated: true, Election: 10 * time.Millisecond})
	t.Cleanup(mc.Close)
	env := scenarios.Env{Driver: refusesUnreplicated{d}, Profile: driver.Durable, RunID: 44, Prefix: "f", WorkDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), Cluster: killRefused{mc, "mem-1"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Scenario{}.Run(ctx, env, cfg)
	if err == nil || !strings.Contains(err.Error(), "kill mem-1: test: kill refused") {
		t.Fatalf("run: %v, want the refused kill", err)
	}
	var got []string
	for _, e := range mc.Events() {
		if !strings.HasPrefix(e, "leader ") {
			got = append(got, e)
		}
	}
	if want := "kill mem-2,kill mem-3,start mem-3,start mem-2"; strings.Join(got, ",") != want {
		t.Errorf("events %v, want %s", got, want)
	}
	nodes, _ := mc.Nodes(ctx)
	for _, n := range nodes {
		if !n.Running {
			t.Errorf("%s left dead", n.Name)
		}
	}
}
