// Package memcluster implements cluster.Cluster over the in-process memory
// broker (adapters/memory), for tests: a few named nodes, one of them the
// leader of every destination, and the broker taken down (memory's
// Broker.Down) while no live node leads.
//
// Two topologies, to check the failover scenario both ways:
//
//   - Replicated: when the leader dies another running node takes over
//     after Election, with every message kept (nothing lost, unacked
//     deliveries redelivered), provided a majority of the nodes runs;
//     without a majority the broker stays down until a node starts again.
//   - Not replicated: the destination lives on its leader only; it is down
//     until that node starts again, and with Lose a kill drops every
//     message waiting (a store that died with the node). A graceful Stop
//     never loses anything.
package memcluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios/cluster"
)

// Options shape a memory cluster.
type Options struct {
	// Nodes is the number of nodes (3 when 0).
	Nodes int
	// Replicated moves leadership to a running node when the leader dies.
	Replicated bool
	// Lose, when not Replicated, drops what waited on the leader when it
	// is killed.
	Lose bool
	// Election is how long the destination stays unavailable after its
	// leader died before another node leads (Replicated only).
	Election time.Duration
	// Sync is how long a started node takes to be back in sync.
	Sync time.Duration
}

// Cluster is a cluster.Cluster over one memory broker. Its methods are
// safe for concurrent use.
type Cluster struct {
	b    *memory.Broker
	opts Options

	mu     sync.Mutex
	nodes  []node
	leader int    // index of the leading node; -1 while none leads
	gen    uint64 // elections scheduled; a stale timer does nothing
	timer  *time.Timer
	log    []string // what happened, in order (Events)
}

type node struct {
	name    string
	running bool
	synced  time.Time // in sync from then on, while running
}

var _ cluster.Cluster = (*Cluster)(nil)

// New returns a cluster of running, in-sync nodes over b, led by its first
// node. Names are "mem-1", "mem-2", ...
func New(b *memory.Broker, opts Options) *Cluster {
	n := opts.Nodes
	if n <= 0 {
		n = 3
	}
	c := &Cluster{b: b, opts: opts}
	for i := range n {
		c.nodes = append(c.nodes, node{name: fmt.Sprintf("mem-%d", i+1), running: true})
	}
	return c
}

// Close stops a pending election. The broker stays as it is.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if c.timer != nil {
		c.timer.Stop()
	}
}

// Events returns what happened so far, in order ("kill mem-1", "leader
// mem-2", ...), for tests.
func (c *Cluster) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

func (c *Cluster) find(name string) (int, error) {
	for i, n := range c.nodes {
		if n.name == name {
			return i, nil
		}
	}
	var ns []cluster.Node
	for _, n := range c.nodes {
		ns = append(ns, cluster.Node{Name: n.name})
	}
	return -1, cluster.UnknownNode(name, ns)
}

// Nodes implements cluster.Cluster.
func (c *Cluster) Nodes(ctx context.Context) ([]cluster.Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cluster.Node
	for i, n := range c.nodes {
		role := cluster.RoleFollower
		switch {
		case !n.running:
			role = cluster.RoleDown
		case i == c.leader:
			role = cluster.RoleLeader
		}
		out = append(out, cluster.Node{Name: n.name, Role: role, Running: n.running})
	}
	return out, nil
}

// Leader implements cluster.Cluster: one node leads every destination.
func (c *Cluster) Leader(ctx context.Context, _ driver.Destination) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader < 0 || !c.nodes[c.leader].running {
		return "", fmt.Errorf("memcluster: no node leads now")
	}
	return c.nodes[c.leader].name, nil
}

// Standbys implements cluster.Cluster: the running nodes other than the
// leader when Replicated, none otherwise (the destination lives on its
// leader only).
func (c *Cluster) Standbys(ctx context.Context, _ driver.Destination) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for i, n := range c.nodes {
		if c.opts.Replicated && n.running && i != c.leader {
			out = append(out, n.name)
		}
	}
	return out, nil
}

// Kill implements cluster.Cluster.
func (c *Cluster) Kill(ctx context.Context, name string) error {
	return c.stop(ctx, name, "kill", c.opts.Lose)
}

// Stop implements cluster.Cluster: like Kill, but nothing is ever lost.
func (c *Cluster) Stop(ctx context.Context, name string) error {
	return c.stop(ctx, name, "stop", false)
}

func (c *Cluster) stop(ctx context.Context, name, how string, lose bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i, err := c.find(name)
	if err != nil {
		return err
	}
	if !c.nodes[i].running {
		return fmt.Errorf("memcluster: %s %s: not running", how, name)
	}
	c.nodes[i].running = false
	c.log = append(c.log, how+" "+name)
	if i != c.leader {
		return nil
	}
	if !c.opts.Replicated {
		c.b.Down(lose) // the destination lives on this node only
		return nil
	}
	c.b.Down(false)
	c.leader = -1
	c.elect()
	return nil
}

// elect schedules an election after Election, if a majority runs. Called
// with c.mu held.
func (c *Cluster) elect() {
	running := 0
	for _, n := range c.nodes {
		if n.running {
			running++
		}
	}
	if 2*running <= len(c.nodes) {
		return // no quorum: down until a node starts
	}
	c.gen++
	gen := c.gen
	c.timer = time.AfterFunc(c.opts.Election, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if gen != c.gen || c.leader >= 0 {
			return
		}
		for i, n := range c.nodes {
			if n.running {
				c.leader = i
				c.log = append(c.log, "leader "+n.name)
				c.b.Up()
				return
			}
		}
	})
}

// Start implements cluster.Cluster.
func (c *Cluster) Start(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i, err := c.find(name)
	if err != nil {
		return err
	}
	if c.nodes[i].running {
		return fmt.Errorf("memcluster: start %s: already running", name)
	}
	c.nodes[i].running = true
	c.nodes[i].synced = time.Now().Add(c.opts.Sync)
	c.log = append(c.log, "start "+name)
	switch {
	case !c.opts.Replicated && i == c.leader:
		c.b.Up()
	case c.opts.Replicated && c.leader < 0:
		c.elect()
	}
	return nil
}

// WaitInSync implements cluster.Cluster: it polls until the node runs and
// its Sync delay passed.
func (c *Cluster) WaitInSync(ctx context.Context, name string, _ driver.Destination) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		c.mu.Lock()
		i, err := c.find(name)
		ok := err == nil && c.nodes[i].running && !time.Now().Before(c.nodes[i].synced)
		c.mu.Unlock()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("memcluster: %s not in sync: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}
