package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// NodeControl is what the launcher of a cluster topology does to the nodes
// of one broker's cluster; each method is bounded by ctx. With the native
// launcher it is a few lines over its node table (Status's nodes, KillNode,
// a stop with SIGTERM, a start of one node).
type NodeControl interface {
	// Nodes lists the nodes with their client addresses, whether they
	// run, and the roles the launcher read (RoleLeader for the node that
	// leads, e.g. ActiveMQ's master), in a stable order.
	Nodes(ctx context.Context) ([]Node, error)
	// Kill, Stop and Start are Cluster's.
	Kill(ctx context.Context, node string) error
	Stop(ctx context.Context, node string) error
	Start(ctx context.Context, node string) error
}

// PollEvery is how often WaitInSync of Launched asks again.
const PollEvery = 200 * time.Millisecond

// Launched returns the Cluster of nodes run by ctl, asking rr (the
// driver, when it implements driver.ReplicaReader; may be nil) who leads a
// destination and who is in sync. Without rr, the leader is the node ctl
// reports as RoleLeader, and a node is in sync once it runs and ctl gives
// it a role other than RoleDown and RoleSyncing.
func Launched(ctl NodeControl, rr driver.ReplicaReader) Cluster {
	return &launched{ctl: ctl, rr: rr}
}

type launched struct {
	ctl NodeControl
	rr  driver.ReplicaReader
}

func (l *launched) Nodes(ctx context.Context) ([]Node, error) { return l.ctl.Nodes(ctx) }

func (l *launched) Kill(ctx context.Context, node string) error  { return l.ctl.Kill(ctx, node) }
func (l *launched) Stop(ctx context.Context, node string) error  { return l.ctl.Stop(ctx, node) }
func (l *launched) Start(ctx context.Context, node string) error { return l.ctl.Start(ctx, node) }

// Leader asks the broker through rr, else the launcher's roles.
func (l *launched) Leader(ctx context.Context, dest driver.Destination) (string, error) {
	nodes, err := l.ctl.Nodes(ctx)
	if err != nil {
		return "", err
	}
	if l.rr == nil {
		for _, n := range nodes {
			if n.Role == RoleLeader && n.Running {
				return n.Name, nil
			}
		}
		return "", fmt.Errorf("cluster: no running node is reported as leader, and the driver cannot say who leads %s (driver.ReplicaReader)", dest.Name)
	}
	addr, _, err := l.rr.Replicas(ctx, dest)
	if err != nil {
		return "", fmt.Errorf("cluster: leader of %s: %w", dest.Name, err)
	}
	n, ok := byAddr(nodes, addr)
	if !ok {
		return "", fmt.Errorf("cluster: the leader of %s is at %s, which is no node's client address", dest.Name, addr)
	}
	return n.Name, nil
}

// Standbys asks the broker through rr for dest's in-sync replicas other
// than its leader; without rr they are the running nodes ctl reports as
// RoleFollower.
func (l *launched) Standbys(ctx context.Context, dest driver.Destination) ([]string, error) {
	nodes, err := l.ctl.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	if l.rr == nil {
		for _, n := range nodes {
			if n.Running && n.Role == RoleFollower {
				out = append(out, n.Name)
			}
		}
		return out, nil
	}
	leader, isr, err := l.rr.Replicas(ctx, dest)
	if err != nil {
		return nil, fmt.Errorf("cluster: replicas of %s: %w", dest.Name, err)
	}
	for _, a := range isr {
		if n, ok := byAddr(nodes, a); ok && n.Running && !sameAddr(a, leader) {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

// WaitInSync polls every PollEvery until node is in sync (see Launched).
func (l *launched) WaitInSync(ctx context.Context, node string, dest driver.Destination) error {
	t := time.NewTicker(PollEvery)
	defer t.Stop()
	var last error
	for {
		ok, err := l.inSync(ctx, node, dest)
		if ok {
			return nil
		}
		if errors.Is(err, ErrUnknownNode) {
			return err
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("cluster: %s not in sync for %s: %w (last: %v)", node, dest.Name, ctx.Err(), last)
			}
			return fmt.Errorf("cluster: %s not in sync for %s: %w", node, dest.Name, ctx.Err())
		case <-t.C:
		}
	}
}

// inSync asks once whether node is in sync for dest.
func (l *launched) inSync(ctx context.Context, node string, dest driver.Destination) (bool, error) {
	nodes, err := l.ctl.Nodes(ctx)
	if err != nil {
		return false, err
	}
	var me Node
	found := false
	for _, n := range nodes {
		if n.Name == node {
			me, found = n, true
		}
	}
	if !found {
		return false, UnknownNode(node, nodes)
	}
	if !me.Running {
		return false, nil
	}
	if l.rr == nil {
		return me.Role != RoleDown && me.Role != RoleSyncing, nil
	}
	_, isr, err := l.rr.Replicas(ctx, dest)
	if err != nil {
		return false, err
	}
	for _, a := range isr {
		if sameAddr(a, me.Addr) {
			return true, nil
		}
	}
	return false, nil
}

// byAddr returns the node whose client address is addr.
func byAddr(nodes []Node, addr string) (Node, bool) {
	for _, n := range nodes {
		if sameAddr(n.Addr, addr) {
			return n, true
		}
	}
	return Node{}, false
}

// sameAddr compares two host:port addresses; a broker may advertise
// "localhost" for the launcher's 127.0.0.1, so on loopback the ports
// decide.
func sameAddr(a, b string) bool {
	if a == b {
		return true
	}
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb {
		return false
	}
	return loopback(ha) && loopback(hb)
}

func loopback(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
