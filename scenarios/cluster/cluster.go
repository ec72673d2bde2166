// Package cluster is what a scenario may do to the nodes of a replicated
// broker cluster: find the node leading a destination, kill it, stop it
// gracefully, start it again and wait until it is back in sync. It is the
// narrow contract the failover scenario runs against (scenarios.Env.Cluster);
// each topology implements it in a few lines over what already knows the
// nodes (the native launcher for a real cluster, memcluster over the
// in-process broker for tests).
//
// Every method takes a context and returns when its work is done, when ctx
// is done (ctx's error, wrapped) or when its own bound passes. Node names
// are those Nodes returns; an unknown name is an error naming the known
// ones. Implementations are safe for concurrent use.
package cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Roles a Node may report. An implementation that cannot tell leaves Role
// empty.
const (
	RoleLeader   = "leader"   // leads some destination (Kafka partition leader, quorum-queue leader, RocketMQ master, ActiveMQ master)
	RoleFollower = "follower" // a replica in sync (follower, slave)
	RoleSyncing  = "syncing"  // a replica running but not in sync yet (a RocketMQ slave outside the sync state set, an ActiveMQ node not yet waiting for the lock)
	RoleDown     = "down"     // not running
)

// Node is one node of a cluster as the implementation knows it now.
type Node struct {
	// Name identifies the node in every call (e.g. "kafka-1").
	Name string `json:"name"`
	// Addr is the client address it serves (host:port), when it has one.
	Addr string `json:"addr,omitempty"`
	// Role is one of the Role constants, or empty when unknown.
	Role string `json:"role,omitempty"`
	// Running says its processes are alive.
	Running bool `json:"running"`
}

// Cluster is the fault contract of one broker cluster.
type Cluster interface {
	// Nodes lists every node of the cluster, in a stable order.
	Nodes(ctx context.Context) ([]Node, error)
	// Leader returns the name of the node that leads dest now, the node
	// whose death interrupts dest's producers or consumers: Kafka's leader
	// of dest's partition 0, RabbitMQ's quorum-queue leader, RocketMQ's
	// master of the broker group, ActiveMQ's master (lock holder). dest is
	// provisioned.
	Leader(ctx context.Context, dest driver.Destination) (string, error)
	// Standbys returns the running nodes other than the leader that could
	// take dest over if its leader died: Kafka's and RabbitMQ's in-sync
	// replicas, RocketMQ's slaves, ActiveMQ's slave waiting for the lock.
	// Nodes that hold no copy of dest (a RocketMQ name server) are not
	// among them. dest is provisioned.
	Standbys(ctx context.Context, dest driver.Destination) ([]string, error)
	// Kill kills node with SIGKILL (no shutdown, no flush) and returns once
	// its processes are gone.
	Kill(ctx context.Context, node string) error
	// Stop stops node gracefully (SIGTERM) and returns once its processes
	// exited, killing them when its bound passes first (and saying so in
	// the error).
	Stop(ctx context.Context, node string) error
	// Start starts a stopped or killed node again, with its data kept, and
	// returns once it answers its protocol.
	Start(ctx context.Context, node string) error
	// WaitInSync returns once node, running, is back in sync for dest: a
	// Kafka broker back in the partition's in-sync replicas, a RabbitMQ
	// member of the quorum queue caught up, a RocketMQ replica back in the
	// sync state set, an ActiveMQ slave waiting for the lock.
	WaitInSync(ctx context.Context, node string, dest driver.Destination) error
}

// ErrUnknownNode is wrapped by the error of a call naming no node of the
// cluster.
var ErrUnknownNode = fmt.Errorf("cluster: unknown node")

// UnknownNode returns the error for a name not among nodes.
func UnknownNode(name string, nodes []Node) error {
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	return fmt.Errorf("%w %q (nodes: %s)", ErrUnknownNode, name, strings.Join(names, ", "))
}
