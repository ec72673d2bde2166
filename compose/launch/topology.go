package launch

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Topology is how many nodes of a broker run and how they relate.
type Topology string

// Topologies. TopologySingle (the default) is one unreplicated node per
// broker; TopologyCluster is the broker's usual high-availability topology on
// loopback (replicated nodes with their own ports and directories).
const (
	TopologySingle  Topology = "single"
	TopologyCluster Topology = "cluster"
)

// ParseTopology parses "single" or "cluster" ("" means single).
func ParseTopology(s string) (Topology, error) {
	switch t := Topology(strings.ToLower(strings.TrimSpace(s))); t {
	case "", TopologySingle:
		return TopologySingle, nil
	case TopologyCluster:
		return t, nil
	}
	return "", fmt.Errorf("unknown topology %q (valid: single, cluster)", s)
}

// Node is one node of a cluster: its name (also its directory under the
// cluster's, <home>/<broker>-cluster/<name>), the port its clients dial and
// every other port it holds.
type Node struct {
	Name       string
	ClientPort int
	// Ports are the node's other ports (controller, Erlang distribution, ...).
	Ports []int
	// NotClient marks a node clients do not dial (a RocketMQ broker replica:
	// clients dial the name servers); Spec.Addr leaves it out.
	NotClient bool
}

// Addr returns host:ClientPort of the node.
func (n Node) Addr() string { return net.JoinHostPort(host, strconv.Itoa(n.ClientPort)) }

// NodeStatus is one node of a cluster as Status found it.
type NodeStatus struct {
	Name  string `json:"name"`
	PID   int    `json:"pid,omitempty"`
	Alive bool   `json:"alive"`
	Ports []int  `json:"ports"`
	// Role is the node's role as the broker reports it (controller leader,
	// partition or queue leader, master or slave), "" when it did not say.
	Role string `json:"role,omitempty"`
	// Standing is the same role for code to read: what the node is to the
	// cluster's data.
	Standing Standing `json:"standing,omitempty"`
}

// Standing is what a node is to a cluster's data.
type Standing string

// The standings a broker's roles map to.
const (
	StandingUnknown Standing = ""        // the broker did not say
	StandingLeader  Standing = "leader"  // takes the writes: a master, the store's lock holder
	StandingReplica Standing = "replica" // a member with a copy that is in sync, or whose sync is per partition or queue (Kafka, RabbitMQ)
	StandingSyncing Standing = "syncing" // a replica running but not in sync yet, or not a member yet
	StandingRouter  Standing = "router"  // holds no copy of a destination: RocketMQ's name servers
)

// nodeRole is one node's role, as the broker says it and as a standing.
type nodeRole struct {
	text     string
	standing Standing
}

// HasTopology reports whether the broker can run in topology t.
func (s Spec) HasTopology(t Topology) bool {
	return t != TopologyCluster || s.cluster != nil
}

// FindTopology returns the Spec of broker name in topology t: its
// single-node Spec, or the cluster form its Spec declares.
func FindTopology(name string, t Topology) (Spec, error) {
	s, ok := Find(name)
	if !ok {
		return Spec{}, fmt.Errorf("unknown broker %q (valid: %s)", name, strings.Join(Names(), ", "))
	}
	if t != TopologyCluster {
		s.Topology = TopologySingle
		return s, nil
	}
	if s.cluster == nil {
		return Spec{}, fmt.Errorf("%s has no cluster topology (brokers with one: %s)", name, strings.Join(NamesFor(TopologyCluster), ", "))
	}
	c := s.cluster()
	c.Topology = TopologyCluster
	return c, nil
}

// NamesFor returns, in the order of Specs, the brokers that can run in
// topology t.
func NamesFor(t Topology) []string {
	var out []string
	for _, s := range Specs() {
		if s.HasTopology(t) {
			out = append(out, s.Name)
		}
	}
	return out
}

// ParseNamesFor is ParseNames for topology t: "" and "all" mean every broker
// that has that topology, and a named broker without it is an error.
func ParseNamesFor(s string, t Topology) ([]string, error) {
	s = strings.TrimSpace(s)
	if t == TopologyCluster && (s == "" || strings.EqualFold(s, "all")) {
		return NamesFor(t), nil
	}
	names, err := ParseNames(s)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, err := FindTopology(n, t); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// dirName is the broker's directory under the state directory: its name,
// or <name>-cluster for a cluster.
func (s Spec) dirName() string {
	if s.Topology == TopologyCluster {
		return s.Name + "-cluster"
	}
	return s.Name
}

// clusterNodes derives a cluster's nodes: node<i> (from 1) with client port
// clientBase+i-1 and one further port per base in otherBases.
func clusterNodes(n, clientBase int, otherBases ...int) []Node {
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i] = Node{Name: "node" + strconv.Itoa(i+1), ClientPort: clientBase + i}
		for _, b := range otherBases {
			nodes[i].Ports = append(nodes[i].Ports, b+i)
		}
	}
	return nodes
}

// nodeStatuses inspects the nodes of a cluster instance: each node's process
// is the procSpec named after it; roles come from the broker (bounded).
func (l *Launcher) nodeStatuses(ctx context.Context, b instance) []NodeStatus {
	out := make([]NodeStatus, len(b.Nodes))
	anyAlive := false
	for i, n := range b.Nodes {
		out[i] = NodeStatus{Name: n.Name, Ports: append([]int{n.ClientPort}, n.Ports...)}
		for _, p := range b.procs {
			if p.name != n.Name {
				continue
			}
			if pid, ok := l.livePID(b, p); ok {
				out[i].PID, out[i].Alive = pid, true
				anyAlive = true
			}
		}
	}
	if b.roles == nil {
		return out
	}
	if !anyAlive && !b.answersAny(ctx) {
		return out
	}
	rctx, cancel := context.WithTimeout(ctx, 2*probeTimeout)
	defer cancel()
	roles := b.roles(rctx, l, b)
	for i := range out {
		r := roles[out[i].Name]
		out[i].Role, out[i].Standing = r.text, r.standing
	}
	return out
}

// answersAny reports whether any client port of the cluster accepts TCP.
func (b instance) answersAny(ctx context.Context) bool {
	for _, n := range b.Nodes {
		if portBusy(ctx, host, n.ClientPort) {
			return true
		}
	}
	return false
}

// KillNode sends SIGKILL to the process of one node of a cluster mqbench
// started (a crash of that node; its data is kept and Up starts it again).
// It fails when the launcher's topology is not cluster, the node is unknown
// or not running.
func (l *Launcher) KillNode(ctx context.Context, name, node string) error {
	return l.signalNode(ctx, name, node, "kill", 0, true)
}

// StopNode stops the process of one node of a cluster mqbench started
// gracefully: SIGTERM, then SIGKILL if it has not exited after grace (the
// error does not say which; the node's data is kept and Up starts it
// again). It fails when the launcher's topology is not cluster, the node is
// unknown or not running.
func (l *Launcher) StopNode(ctx context.Context, name, node string, grace time.Duration) error {
	return l.signalNode(ctx, name, node, "stop", grace, false)
}

// StartNodes starts again the nodes of a cluster mqbench started that are
// not running (all of them: a cluster starts as a whole) and waits until
// every node answers its handshakes, bounded by Options.StartTimeout; unlike
// Up it does not wait for the cluster's replication to settle (RocketMQ's
// sync state set holding every replica), so that a caller timing a node's
// return to sync, as the failover scenario does, can see the two apart.
// It fails when the launcher's topology is not cluster or the broker
// unknown.
func (l *Launcher) StartNodes(ctx context.Context, name string) error {
	names, err := l.checkNames([]string{name})
	if err != nil {
		return err
	}
	b := l.broker(names[0])
	if len(b.Nodes) == 0 {
		return fmt.Errorf("%s: start nodes: not a cluster (topology %s)", name, l.opts.Topology)
	}
	if l.Mode(ctx) == ModeCompose {
		return fmt.Errorf("%s: start nodes: only a cluster mqbench started natively", name)
	}
	unlock, err := l.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	w := newSyncWriter(nil)
	if err := l.prerequisites(ctx, names, w); err != nil {
		return err
	}
	b.answerOnly = true
	return l.upInstance(ctx, names[0], b, w)
}

// signalNode stops node's process of broker name's cluster under the
// launcher's lock: with SIGKILL at once (kill), or SIGTERM and SIGKILL
// after grace. what names the action in errors.
func (l *Launcher) signalNode(ctx context.Context, name, node, what string, grace time.Duration, kill bool) error {
	names, err := l.checkNames([]string{name})
	if err != nil {
		return err
	}
	b := l.broker(names[0])
	if len(b.Nodes) == 0 {
		return fmt.Errorf("%s: %s a node: not a cluster (topology %s)", name, what, l.opts.Topology)
	}
	unlock, err := l.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	for _, p := range b.procs {
		if p.name != node {
			continue
		}
		pid, ok := l.livePID(b, p)
		if !ok {
			return fmt.Errorf("%s: node %s is not running", name, node)
		}
		return stopPID(ctx, pid, append(slices.Clone(p.markers), b.dir), grace, kill)
	}
	return fmt.Errorf("%s: no node %q", name, node)
}
