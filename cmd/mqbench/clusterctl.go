package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/scenarios/cluster"
)

// nodeStopGrace bounds a graceful node stop before it is killed.
const nodeStopGrace = 60 * time.Second

// launchedNodes is scenarios/cluster.NodeControl over the native
// launcher, for the cluster of one broker mqbench started.
type launchedNodes struct {
	l      *launch.Launcher
	broker string
}

// Nodes lists the cluster's nodes from the launcher's status: client
// address from the cluster's spec, running from its processes, and the
// role the broker reported mapped to cluster's roles (a master or lock
// holder leads; Kafka's leaders come from the driver instead).
func (n launchedNodes) Nodes(ctx context.Context) ([]cluster.Node, error) {
	spec, err := launch.FindTopology(n.broker, launch.TopologyCluster)
	if err != nil {
		return nil, err
	}
	sts, err := n.l.Status(ctx, []string{n.broker})
	if err != nil {
		return nil, err
	}
	if len(sts) != 1 || len(sts[0].Nodes) == 0 {
		return nil, fmt.Errorf("%s: no cluster node in the launcher's status (topology %s)", n.broker, n.l.Topology())
	}
	addrs := map[string]string{}
	for _, nd := range spec.Nodes {
		addrs[nd.Name] = nd.Addr()
	}
	var out []cluster.Node
	for _, ns := range sts[0].Nodes {
		out = append(out, cluster.Node{Name: ns.Name, Addr: addrs[ns.Name], Role: roleOf(ns), Running: ns.Alive})
	}
	return out, nil
}

// roleOf maps the role a broker reported for a node to cluster's roles.
func roleOf(ns launch.NodeStatus) string {
	if !ns.Alive {
		return cluster.RoleDown
	}
	switch ns.Standing {
	case launch.StandingLeader:
		return cluster.RoleLeader
	case launch.StandingReplica:
		return cluster.RoleFollower
	case launch.StandingSyncing:
		return cluster.RoleSyncing // a RocketMQ slave catching up; an ActiveMQ node not yet waiting for the lock
	}
	return "" // unknown, or a router holding no copy (RocketMQ's name servers)
}

func (n launchedNodes) Kill(ctx context.Context, node string) error {
	return n.l.KillNode(ctx, n.broker, node)
}

func (n launchedNodes) Stop(ctx context.Context, node string) error {
	return n.l.StopNode(ctx, n.broker, node, nodeStopGrace)
}

// Start starts the cluster's dead nodes again and returns once every node
// answers, before the cluster's replication has settled: the scenario
// times the return to sync itself (WaitInSync).
func (n launchedNodes) Start(ctx context.Context, _ string) error {
	return n.l.StartNodes(ctx, n.broker)
}
