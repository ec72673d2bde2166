package launch

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RabbitMQ cluster ports: node i (from 1) listens for AMQP on
// PortRabbitMQCluster+i-1 and for Erlang distribution on
// portRabbitMQClusterDist+i-1; epmd (4369) is shared with any other Erlang
// node on the machine. Its management API (the plugin, for the adapter's
// read-back of quorum queue members) listens on PortRabbitMQClusterMgmt+i-1.
const (
	PortRabbitMQCluster     = 5682
	portRabbitMQClusterDist = 25682
	PortRabbitMQClusterMgmt = 15682
	rabbitClusterNodes      = 3
)

// rabbitClusterCookie is the Erlang cookie the cluster's nodes share (a
// loopback-only test cluster: the cookie guards against accidents, not
// attackers).
const rabbitClusterCookie = "MQBENCHCLUSTERCOOKIE"

// rabbitClusterNode is the Erlang node name of a cluster node.
func rabbitClusterNode(n Node) string { return "mqbench-" + n.Name + "@localhost" }

// rabbitmqClusterSpec is RabbitMQ's high-availability form: three nodes
// joined into one cluster (distinct node names, their own AMQP and
// distribution ports, a shared cookie). Queues are replicated when the
// client declares them as quorum queues (mqbench's durable profile does on
// a cluster).
func rabbitmqClusterSpec() Spec {
	s := rabbitmqSpec()
	nodes := clusterNodes(rabbitClusterNodes, PortRabbitMQCluster, portRabbitMQClusterDist, PortRabbitMQClusterMgmt)
	var mgmt []string
	for _, n := range nodes {
		mgmt = append(mgmt, "http://"+net.JoinHostPort(host, strconv.Itoa(n.Ports[1])))
	}
	s.Nodes, s.ClientPort, s.management = nodes, nodes[0].ClientPort, strings.Join(mgmt, ",")
	s.procs, s.checks, s.binds, s.logs, s.extraPorts = nil, nil, nil, nil, nil
	for _, n := range nodes {
		s.procs = append(s.procs, procSpec{n.Name, n.Name + "/rabbitmq.pid", []string{"beam", "rabbit"}})
		s.checks = append(s.checks, check{n.ClientPort, "amqp-0-9-1 " + n.Name, ProbeAMQP, false})
		s.extraPorts = append(s.extraPorts, n.Ports...)
		s.binds = append(s.binds,
			bind{port: n.ClientPort, role: n.Name + " AMQP", file: n.Name + "/conf/rabbitmq.conf", setting: regexp.MustCompile(`(?m)^listeners\.tcp\.default\s*=\s*([^:\s]+):`)},
			bind{port: n.Ports[1], role: n.Name + " management API", file: n.Name + "/conf/rabbitmq.conf", setting: regexp.MustCompile(`(?m)^management\.tcp\.ip\s*=\s*(\S+)`)},
			bind{port: n.Ports[0], role: n.Name + " Erlang distribution", file: envFile, setting: regexp.MustCompile(`inet_dist_use_interface (\{[0-9,]+\})`)})
		s.logs = append(s.logs, n.Name+"/logs/"+rabbitClusterNode(n)+".log", n.Name+"/logs/startup.log")
	}
	s.files = func(string, bool) []configFile {
		var files []configFile
		for _, n := range nodes {
			files = append(files,
				configFile{tmpl: "rabbitmq.conf", path: n.Name + "/conf/rabbitmq.conf", data: map[string]any{
					"Host": host, "Port": n.ClientPort, "MemoryHighWatermark": "1GiB", "DiskFreeLimit": "1GB", "ManagementPort": n.Ports[1],
				}},
				configFile{path: n.Name + "/conf/enabled_plugins", raw: []byte("[rabbitmq_management].\n")})
		}
		return files
	}
	s.env = nil
	s.start = startRabbitMQCluster
	s.afterStop = nil // epmd may serve other nodes: left running
	s.durability = func(string) string {
		return "3-node cluster: the durable profile declares quorum queues (replicated, a majority fsyncs before the confirm)"
	}
	s.roles = rabbitRoles
	s.cluster = nil
	return s
}

// rabbitClusterEnv confines cluster node n to its directory and loopback;
// HOME is the cluster directory, where the shared cookie lives.
func rabbitClusterEnv(dir string, n Node) []string {
	nd := filepath.Join(dir, n.Name)
	return []string{
		"HOME=" + dir,
		"RABBITMQ_NODENAME=" + rabbitClusterNode(n),
		"RABBITMQ_USE_LONGNAME=false",
		"RABBITMQ_MNESIA_BASE=" + nd + "/data",
		"RABBITMQ_LOG_BASE=" + nd + "/logs",
		"RABBITMQ_PID_FILE=" + nd + "/rabbitmq.pid",
		"RABBITMQ_CONFIG_FILE=" + nd + "/conf/rabbitmq.conf",
		"RABBITMQ_ADVANCED_CONFIG_FILE=" + nd + "/conf/advanced.config",
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + nd + "/conf/enabled_plugins",
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(n.Ports[0]),
		"ERL_EPMD_ADDRESS=" + host,
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {" + strings.ReplaceAll(host, ".", ",") + "}",
	}
}

// startRabbitMQCluster writes the shared cookie, starts the nodes that are
// not running, waits for their AMQP ports and joins node2.. to node1's
// cluster unless they already belong to it.
func startRabbitMQCluster(ctx context.Context, l *Launcher, b instance, _ *syncWriter) error {
	cookie := filepath.Join(b.dir, ".erlang.cookie")
	if _, err := os.Stat(cookie); err != nil {
		if err := os.WriteFile(cookie, []byte(rabbitClusterCookie), 0o400); err != nil {
			return fmt.Errorf("write cookie: %w", err)
		}
	}
	for i, n := range b.Nodes {
		if err := startRabbitNode(ctx, l, b, b.procs[i], rabbitClusterEnv(b.dir, n), n.Name); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	if err := l.waitReady(ctx, b, b.procs, b.checks); err != nil {
		return err
	}
	seed := rabbitClusterNode(b.Nodes[0])
	for _, n := range b.Nodes[1:] {
		members, err := rabbitRunningNodes(ctx, b, n)
		if err != nil {
			return fmt.Errorf("%s: cluster_status: %w", n.Name, err)
		}
		if slices.Contains(members, seed) {
			continue
		}
		node := rabbitClusterNode(n)
		for _, args := range [][]string{{"stop_app"}, {"join_cluster", seed}, {"start_app"}} {
			if out, err := rabbitCtl(ctx, b, node, 2*time.Minute, args...); err != nil {
				return fmt.Errorf("%s: rabbitmqctl %s: %w: %s", n.Name, strings.Join(args, " "), err, lastLines(out, 5))
			}
		}
	}
	return l.waitReady(ctx, b, b.procs, b.checks)
}

// startRabbitNode launches one RabbitMQ node detached (unless it runs) and
// waits for its pid file.
func startRabbitNode(ctx context.Context, l *Launcher, b instance, p procSpec, env []string, node string) error {
	pidPath := filepath.Join(b.dir, p.pidFile)
	if _, ok := l.livePID(b, p); ok {
		return nil
	}
	_ = os.Remove(pidPath) // stale
	f, err := os.OpenFile(filepath.Join(b.dir, node, "logs", "startup.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	cmd := exec.CommandContext(cctx, rabbitmqServerBin, "-detached")
	cmd.Dir = b.dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	cancel()
	f.Close()
	if err != nil {
		return fmt.Errorf("rabbitmq-server -detached: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for readPID(pidPath) == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("no pid file %s 60 s after rabbitmq-server -detached", pidPath)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", pidPath, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// rabbitCtl runs rabbitmqctl against node with the cluster's cookie,
// bounded by timeout, and returns its combined output.
func rabbitCtl(ctx context.Context, b instance, node string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctl := filepath.Join(filepath.Dir(rabbitmqServerBin), "rabbitmqctl")
	cmd := exec.CommandContext(ctx, ctl, append([]string{"-n", node, "-q"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+b.dir, "ERL_EPMD_ADDRESS="+host, "RABBITMQ_USE_LONGNAME=false")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// rabbitRunningNodes returns the running members of n's cluster as n
// reports them.
func rabbitRunningNodes(ctx context.Context, b instance, n Node) ([]string, error) {
	out, err := rabbitCtl(ctx, b, rabbitClusterNode(n), 30*time.Second, "cluster_status", "--formatter", "json")
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, lastLines(out, 3))
	}
	var st struct {
		Running []string `json:"running_nodes"`
	}
	if err := json.Unmarshal([]byte(jsonPart(out)), &st); err != nil {
		return nil, fmt.Errorf("parse cluster_status: %w", err)
	}
	return st.Running, nil
}

// jsonPart returns out from its first '{' or '[' (rabbitmqctl may print
// warnings before the document).
func jsonPart(out string) string {
	if i := strings.IndexAny(out, "{["); i >= 0 {
		return out[i:]
	}
	return out
}

// rabbitRoles reports each node's cluster membership and how many quorum
// queues it leads and belongs to, as rabbitmqctl on a live node reports.
func rabbitRoles(ctx context.Context, _ *Launcher, b instance) map[string]nodeRole {
	roles := map[string]nodeRole{}
	var running []string
	var asked Node
	var err error
	for _, n := range b.Nodes {
		if running, err = rabbitRunningNodes(ctx, b, n); err == nil {
			asked = n
			break
		}
	}
	if err != nil {
		return roles
	}
	leads, members := map[string]int{}, map[string]int{}
	if out, qerr := rabbitCtl(ctx, b, rabbitClusterNode(asked), 30*time.Second, "list_queues", "name", "type", "leader", "members", "--formatter", "json"); qerr == nil {
		var qs []struct {
			Type    string   `json:"type"`
			Leader  string   `json:"leader"`
			Members []string `json:"members"`
		}
		if json.Unmarshal([]byte(jsonPart(out)), &qs) == nil {
			for _, q := range qs {
				if q.Type != "quorum" {
					continue
				}
				leads[q.Leader]++
				for _, m := range q.Members {
					members[m]++
				}
			}
		}
	}
	for _, n := range b.Nodes {
		node := rabbitClusterNode(n)
		// Quorum queues lead per queue: every running member is a replica.
		state, standing := "not running in the cluster", StandingSyncing
		if slices.Contains(running, node) {
			state, standing = "running cluster member", StandingReplica
		}
		roles[n.Name] = nodeRole{fmt.Sprintf("%s %s (as %s reports); leads %d quorum queues, member of %d", node, state, rabbitClusterNode(asked), leads[node], members[node]), standing}
	}
	return roles
}
