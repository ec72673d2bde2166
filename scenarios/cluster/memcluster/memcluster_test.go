package memcluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios/cluster"
)

// TestKillAndStart: what a kill of the leader does in each topology, and
// that a start brings the node back in sync.
func TestKillAndStart(t *testing.T) {
	for _, tt := range []struct {
		name         string
		opts         Options
		downAfterElc bool   // still down once the election delay passed
		leaderAfter  string // leader once the election delay passed ("" none)
	}{
		{"replicated", Options{Replicated: true}, false, "mem-2"},
		{"single", Options{}, true, ""},
		{"single losing", Options{Lose: true}, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b := memory.NewBroker(memory.Options{})
			c := New(b, tt.opts)
			defer c.Close()
			dest := driver.Destination{Name: "d"}
			leader, err := c.Leader(ctx, dest)
			if err != nil || leader != "mem-1" {
				t.Fatalf("leader %q %v, want mem-1", leader, err)
			}
			if err := c.Kill(ctx, leader); err != nil {
				t.Fatal(err)
			}
			if !b.IsDown() {
				t.Fatal("broker up right after the leader's kill")
			}
			if err := c.Kill(ctx, leader); err == nil {
				t.Fatal("killing a dead node succeeded")
			}
			deadline := time.Now().Add(5 * time.Second)
			for tt.leaderAfter != "" && b.IsDown() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if b.IsDown() != tt.downAfterElc {
				t.Fatalf("down %v after the election delay, want %v", b.IsDown(), tt.downAfterElc)
			}
			got, _ := c.Leader(ctx, dest)
			if got != tt.leaderAfter {
				t.Fatalf("leader %q, want %q", got, tt.leaderAfter)
			}
			if err := c.Start(ctx, leader); err != nil {
				t.Fatal(err)
			}
			if b.IsDown() {
				t.Fatal("broker down after the node started again")
			}
			if err := c.WaitInSync(ctx, leader, dest); err != nil {
				t.Fatal(err)
			}
			nodes, _ := c.Nodes(ctx)
			if len(nodes) != 3 || !slices.ContainsFunc(nodes, func(n cluster.Node) bool { return n.Role == cluster.RoleLeader }) {
				t.Fatalf("nodes %+v: want 3 with a leader", nodes)
			}
		})
	}
}

// TestNoQuorum: with two of three nodes dead the replicated cluster stays
// down until one starts; an unknown node is refused by name.
func TestNoQuorum(t *testing.T) {
	ctx := context.Background()
	b := memory.NewBroker(memory.Options{})
	c := New(b, Options{Replicated: true})
	defer c.Close()
	_ = c.Kill(ctx, "mem-2")
	_ = c.Kill(ctx, "mem-1")
	time.Sleep(20 * time.Millisecond)
	if !b.IsDown() {
		t.Fatal("up without a majority")
	}
	if err := c.Start(ctx, "mem-2"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitInSync(ctx, "mem-2", driver.Destination{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.IsDown() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if b.IsDown() {
		t.Fatal("still down with a majority running again")
	}
	if err := c.Kill(ctx, "nope"); !errors.Is(err, cluster.ErrUnknownNode) {
		t.Fatalf("unknown node: %v", err)
	}
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.WaitInSync(ctxDone, "mem-1", driver.Destination{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait on a dead node with ctx done: %v", err)
	}
}
