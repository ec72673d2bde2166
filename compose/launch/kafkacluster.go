package launch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Kafka cluster ports: node i (from 1) listens for clients on
// PortKafkaCluster+i-1 and for KRaft on PortKafkaClusterController+i-1.
const (
	PortKafkaCluster           = 29092
	PortKafkaClusterController = 29192
	kafkaClusterNodes          = 3
)

// kafkaClusterHeap is each node's JVM heap: three nodes stay well within
// the cluster's ~6 GiB RSS budget.
var kafkaClusterHeap = []string{"-Xms256m", "-Xmx768m"}

// kafkaClusterSpec is Kafka's high-availability form: three KRaft nodes,
// each broker and controller, replication factor 3 and
// min.insync.replicas=2 by default.
func kafkaClusterSpec() Spec {
	s := kafkaSpec()
	nodes := clusterNodes(kafkaClusterNodes, PortKafkaCluster, PortKafkaClusterController)
	s.Nodes, s.ClientPort = nodes, nodes[0].ClientPort
	s.procs, s.checks, s.binds, s.logs = nil, nil, nil, nil
	for _, n := range nodes {
		conf := n.Name + "/conf/server.properties"
		s.procs = append(s.procs, procSpec{n.Name, n.Name + "/kafka.pid", []string{"kafka.Kafka", conf}})
		s.checks = append(s.checks,
			check{n.ClientPort, "kafka " + n.Name + " (ApiVersions)", ProbeKafka, false},
			check{n.Ports[0], "kafka " + n.Name + " controller (ApiVersions)", ProbeKafka, true})
		s.binds = append(s.binds,
			bind{port: n.ClientPort, role: n.Name + " client listener", file: conf, setting: regexp.MustCompile(`(?m)^listeners=.*\bPLAINTEXT://([^:,\s]+):`)},
			bind{port: n.Ports[0], role: n.Name + " KRaft controller", file: conf, setting: regexp.MustCompile(`(?m)^listeners=.*\bCONTROLLER://([^:,\s]+):`)})
		s.logs = append(s.logs, n.Name+"/logs/server.log", n.Name+"/logs/stdout.log", n.Name+"/logs/format.log")
	}
	s.files = func(dir string, _ bool) []configFile { return kafkaClusterFiles(dir, nodes) }
	s.start = startKafkaCluster
	s.durability = func(string) string {
		return "replicated: replication.factor=3, min.insync.replicas=2 by default; the durable profile adds flush.messages=1 per topic"
	}
	s.roles = kafkaRoles
	s.cluster = nil
	return s
}

// kafkaClusterFiles renders the pom (shared) and each node's configs.
func kafkaClusterFiles(dir string, nodes []Node) []configFile {
	var voters []string
	for i, n := range nodes {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", i+1, host, n.Ports[0]))
	}
	files := []configFile{{tmpl: "kafka-pom.xml", path: "pom.xml", data: map[string]any{"Version": KafkaVersion}}}
	for i, n := range nodes {
		nd := filepath.Join(dir, n.Name)
		files = append(files,
			configFile{tmpl: "kafka-cluster-server.properties", path: n.Name + "/conf/server.properties", data: map[string]any{
				"NodeID": i + 1, "Voters": strings.Join(voters, ","), "Host": host,
				"Port": n.ClientPort, "ControllerPort": n.Ports[0], "DataDir": nd + "/data",
			}},
			configFile{tmpl: "kafka-log4j2.properties", path: n.Name + "/conf/log4j2.properties", data: map[string]any{"LogFile": nd + "/logs/server.log"}})
	}
	return files
}

// startKafkaCluster formats each node's KRaft storage once (same cluster
// id, static voters) and starts the nodes that are not running.
func startKafkaCluster(ctx context.Context, l *Launcher, b instance, w *syncWriter) error {
	java, err := l.java(ctx)
	if err != nil {
		return err
	}
	cp, err := l.classpath(ctx, b.dir, "kafka "+KafkaVersion, w)
	if err != nil {
		return err
	}
	for i, n := range b.Nodes {
		nd := b.nodeDir(n)
		logCfg := "-Dlog4j2.configurationFile=" + nd + "/conf/log4j2.properties"
		if !fileExists(filepath.Join(nd, "data", "meta.properties")) {
			fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			out, err := exec.CommandContext(fctx, java, "-Xmx256m", logCfg, "-cp", cp,
				"kafka.tools.StorageTool", "format", "-t", kafkaClusterID, "-c", nd+"/conf/server.properties", "--ignore-formatted").CombinedOutput()
			cancel()
			_ = os.WriteFile(filepath.Join(nd, "logs", "format.log"), out, 0o644)
			if err != nil {
				return fmt.Errorf("%s: format KRaft storage: %w: %s", n.Name, err, lastLines(string(out), 10))
			}
		}
		argv := append(append([]string{java}, kafkaClusterHeap...), jvmCommon()...)
		argv = append(argv, logCfg, "-Dkafka.logs.dir="+nd+"/logs", "-cp", cp, "kafka.Kafka", nd+"/conf/server.properties")
		if _, ok := l.livePID(b, b.procs[i]); ok {
			continue
		}
		if _, err := spawn(b.dir, filepath.Join(nd, "logs", "stdout.log"), filepath.Join(b.dir, b.procs[i].pidFile), nil, argv); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	if err := l.waitReady(ctx, b, b.procs, b.checks); err != nil {
		return err
	}
	return waitGroupCoordinator(ctx, b, l.opts.StartTimeout)
}

// waitGroupCoordinator waits until the cluster names a group coordinator:
// the first FindCoordinator creates the replicated __consumer_offsets
// topic, which takes a while on a fresh cluster; a client's first group
// would otherwise wait for it.
func waitGroupCoordinator(ctx context.Context, b instance, bound time.Duration) error {
	var addrs []string
	for _, n := range b.Nodes {
		addrs = append(addrs, n.Addr())
	}
	c := &kafkago.Client{Addr: kafkago.TCP(addrs...), Timeout: probeTimeout}
	return poll(ctx, bound, 500*time.Millisecond, func() error {
		rctx, cancel := context.WithTimeout(ctx, probeTimeout)
		res, err := c.FindCoordinator(rctx, &kafkago.FindCoordinatorRequest{Key: "mqbench-ready", KeyType: kafkago.CoordinatorKeyTypeConsumer})
		cancel()
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return fmt.Errorf("no group coordinator within %s: %w", bound, err)
		}
		return nil
	})
}

// kafkaRoles reports each node's KRaft role (from DescribeQuorum on the
// controllers) and how many partition replicas it leads (from Metadata).
func kafkaRoles(ctx context.Context, _ *Launcher, b instance) map[string]nodeRole {
	roles := map[string]nodeRole{}
	var q quorumState
	var qerr error
	for _, n := range b.Nodes {
		if q, qerr = describeQuorum(ctx, nodeAddr(n.Ports[0]), probeTimeout); qerr == nil {
			break
		}
	}
	leads := map[int]int{}
	total := 0
	var addrs []string
	for _, n := range b.Nodes {
		addrs = append(addrs, n.Addr())
	}
	c := &kafkago.Client{Addr: kafkago.TCP(addrs...), Timeout: probeTimeout}
	md, merr := c.Metadata(ctx, &kafkago.MetadataRequest{})
	if merr == nil {
		for _, t := range md.Topics {
			for _, p := range t.Partitions {
				total++
				if p.Leader.Host != "" {
					leads[p.Leader.ID]++
				}
			}
		}
	}
	for i, n := range b.Nodes {
		id := i + 1
		var parts []string
		switch {
		case qerr != nil:
			parts = append(parts, "controller: "+qerr.Error())
		case q.leader == id:
			parts = append(parts, fmt.Sprintf("controller leader (epoch %d)", q.epoch))
		case q.voters[id]:
			parts = append(parts, "controller follower")
		default:
			parts = append(parts, "not a voter")
		}
		if merr == nil {
			parts = append(parts, fmt.Sprintf("leads %d of %d partitions", leads[id], total))
		}
		// Kafka leads per partition: every broker is a replica.
		roles[n.Name] = nodeRole{strings.Join(parts, "; "), StandingReplica}
	}
	return roles
}

func nodeAddr(port int) string { return host + ":" + strconv.Itoa(port) }
