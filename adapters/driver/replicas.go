package driver

import "context"

// ReplicaReader is implemented by drivers that can ask a replicated
// cluster which node leads a destination and which nodes hold an in-sync
// copy of it. The failover scenario finds the node to kill, and when a
// restarted node has caught up, through it (package scenarios/cluster).
// Discover it with a type assertion.
type ReplicaReader interface {
	// Replicas returns the client address (host:port, as the broker
	// advertises it) of the node leading dest, and those of the nodes
	// whose replica of dest is in sync, the leader included. dest must be
	// provisioned; for a partitioned destination it is partition 0's.
	Replicas(ctx context.Context, dest Destination) (leader string, inSync []string, err error)
}
