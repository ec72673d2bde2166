package launch

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RocketMQ cluster ports (controller mode, one broker group of three
// replicas): name server i (from 1) listens on PortRocketMQClusterNamesrv+i-1
// and its embedded controller's DLedger peer on
// PortRocketMQClusterController+i-1; broker replica i on
// PortRocketMQClusterBroker+10(i-1), with its fast channel 2 below and its HA
// listener 1 above.
const (
	PortRocketMQClusterNamesrv    = 39876
	PortRocketMQClusterController = 39886
	PortRocketMQClusterBroker     = 39911
	rocketmqClusterReplicas       = 3
)

// rocketmqClusterNodes are the three name servers (client port: the name
// server; other port: its controller) and the three broker replicas
// (client port: the broker; other ports: fast channel and HA). Only the name
// servers are what clients dial.
func rocketmqClusterNodes() []Node {
	var nodes []Node
	for i := range rocketmqClusterReplicas {
		nodes = append(nodes, Node{Name: "namesrv" + strconv.Itoa(i+1), ClientPort: PortRocketMQClusterNamesrv + i,
			Ports: []int{PortRocketMQClusterController + i}})
	}
	for i := range rocketmqClusterReplicas {
		p := PortRocketMQClusterBroker + 10*i
		nodes = append(nodes, Node{Name: "broker" + strconv.Itoa(i+1), ClientPort: p, Ports: []int{p - 2, p + 1}, NotClient: true})
	}
	return nodes
}

// rocketmqClusterSpec is RocketMQ's high-availability form: controller mode
// with three name servers each embedding a controller, and one broker group
// (broker-a) of three replicas whose master the controllers elect; a
// SEND_OK waits for every replica of the group's sync state set
// (allAckInSyncStateSet=true, minInSyncReplicas=2).
func rocketmqClusterSpec() Spec {
	s := rocketmqSpec()
	nodes := rocketmqClusterNodes()
	s.Nodes, s.ClientPort = nodes, nodes[0].ClientPort
	s.procs, s.checks, s.binds, s.logs, s.extraPorts = nil, nil, nil, nil, nil
	conf := func(re string) *regexp.Regexp { return regexp.MustCompile(`(?m)^` + re) }
	for _, n := range nodes {
		if !n.NotClient {
			f := n.Name + "/conf/namesrv.conf"
			s.procs = append(s.procs, procSpec{n.Name, n.Name + "/namesrv.pid", []string{"NamesrvStartup", f}})
			s.checks = append(s.checks,
				check{n.ClientPort, "rocketmq-remoting (" + n.Name + ")", func(ctx context.Context, addr string, t time.Duration) Handshake {
					return ProbeRocketMQNamesrv(ctx, addr, "", t)
				}, false},
				check{n.Ports[0], "rocketmq-remoting (" + n.Name + " controller)", ProbeRocketMQController, false})
			s.binds = append(s.binds,
				bind{port: n.ClientPort, role: n.Name, file: f, setting: conf(`bindAddress=([^:\s]+)`)},
				bind{port: n.Ports[0], role: n.Name + " controller (DLedger peer)", file: f,
					setting: conf(`controllerDLegerPeers=.*\bn` + strconv.Itoa(n.ClientPort-PortRocketMQClusterNamesrv) + `-([^:;\s]+):`)})
			s.logs = append(s.logs, n.Name+"/logs/namesrv.log", n.Name+"/logs/stdout.log")
			continue
		}
		f := n.Name + "/conf/broker.conf"
		s.procs = append(s.procs, procSpec{n.Name, n.Name + "/broker.pid", []string{"BrokerStartup", f}})
		s.checks = append(s.checks, check{n.ClientPort, "rocketmq-remoting (" + n.Name + ")", ProbeRocketMQBroker, false})
		s.extraPorts = append(s.extraPorts, n.Ports...)
		s.binds = append(s.binds,
			bind{port: n.ClientPort, role: n.Name, file: f, setting: conf(`bindAddress=([^:\s]+)`)},
			bind{port: n.Ports[0], role: n.Name + " fast channel", file: f, setting: conf(`bindAddress=([^:\s]+)`)},
			bind{port: n.Ports[1], role: n.Name + " HA replication", exposed: "RocketMQ " + RocketMQVersion +
				" binds it to the wildcard address and has no setting to change that (only what it advertises, brokerIP2=127.0.0.1); the other replicas connect to it"},
			bind{role: n.Name + " advertised address", file: f, setting: conf(`brokerIP1=([^:\s]+)`)},
			bind{role: n.Name + " advertised HA address", file: f, setting: conf(`brokerIP2=([^:\s]+)`)},
			bind{role: n.Name + " name servers", file: f, setting: conf(`namesrvAddr=([^:\s]+)`)},
			bind{role: n.Name + " controllers", file: f, setting: conf(`controllerAddr=([^:\s]+)`)})
		s.logs = append(s.logs, n.Name+"/logs/broker.log", n.Name+"/logs/stdout.log")
	}
	s.files = func(dir string, asyncFlush bool) []configFile { return rocketmqClusterFiles(dir, nodes, asyncFlush) }
	s.start = startRocketMQCluster
	s.durability = func(dir string) string {
		flush := readSetting(dir, "broker1/conf/broker.conf", flushRe)
		if flush == "" {
			return ""
		}
		return "flushDiskType=" + flush + ", controller mode, allAckInSyncStateSet=true, minInSyncReplicas=2, 3 replicas"
	}
	s.wantDurability = func(asyncFlush bool) string {
		return "flushDiskType=" + rocketmqFlush(asyncFlush) + ", controller mode, allAckInSyncStateSet=true, minInSyncReplicas=2, 3 replicas"
	}
	s.roles = rocketmqRoles
	s.cluster = nil
	return s
}

// rocketmqClusterFiles renders the pom (shared) and each node's config and
// logback file.
func rocketmqClusterFiles(dir string, nodes []Node, asyncFlush bool) []configFile {
	var peers, ctrls, nss []string
	for _, n := range nodes {
		if !n.NotClient {
			k := strconv.Itoa(len(peers))
			peers = append(peers, "n"+k+"-"+host+":"+strconv.Itoa(n.Ports[0]))
			ctrls = append(ctrls, host+":"+strconv.Itoa(n.Ports[0]))
			nss = append(nss, n.Addr())
		}
	}
	files := []configFile{{tmpl: "rocketmq-pom.xml", path: "pom.xml", data: map[string]any{"Version": RocketMQVersion}}}
	for _, n := range nodes {
		nd := filepath.Join(dir, n.Name)
		if !n.NotClient {
			files = append(files,
				configFile{tmpl: "rocketmq-cluster-namesrv.conf", path: n.Name + "/conf/namesrv.conf", data: map[string]any{
					"Node": n.Name, "Host": host, "Port": n.ClientPort, "Home": nd,
					"Peers": strings.Join(peers, ";"), "SelfID": "n" + strconv.Itoa(n.ClientPort-PortRocketMQClusterNamesrv)}},
				configFile{tmpl: "rocketmq-logback.xml", path: n.Name + "/conf/logback.xml", data: map[string]any{"LogFile": nd + "/logs/namesrv.log"}})
			continue
		}
		files = append(files,
			configFile{tmpl: "rocketmq-cluster-broker.conf", path: n.Name + "/conf/broker.conf", data: map[string]any{
				"Node": n.Name, "Host": host, "Port": n.ClientPort, "FastPort": n.Ports[0], "HAPort": n.Ports[1], "Home": nd,
				"StoreDir": nd + "/data/store", "FlushDiskType": rocketmqFlush(asyncFlush),
				"ControllerAddr": strings.Join(ctrls, ";"), "NamesrvAddr": strings.Join(nss, ";")}},
			configFile{tmpl: "rocketmq-logback.xml", path: n.Name + "/conf/logback.xml", data: map[string]any{"LogFile": nd + "/logs/broker.log"}})
	}
	return files
}

// rocketmqClusterHeap are the JVM sizes of a cluster's name servers and
// brokers: six JVMs stay within about 6 GiB RSS.
var (
	rocketmqClusterNamesrvHeap = []string{"-Xms128m", "-Xmx256m"}
	rocketmqClusterBrokerHeap  = []string{"-Xms256m", "-Xmx512m", "-XX:MaxDirectMemorySize=512m"}
)

// startRocketMQCluster starts the name servers (with their controllers),
// waits for them, starts the brokers, and waits until every node answers
// and (unless b.answerOnly) the controllers have elected a master whose
// sync state set holds every replica.
func startRocketMQCluster(ctx context.Context, l *Launcher, b instance, w *syncWriter) error {
	java, err := l.java(ctx)
	if err != nil {
		return err
	}
	if r, err := diskUsedRatio(b.dir); err == nil && r >= 0.90 {
		return fmt.Errorf("the disk holding %s is %.0f%% full: the RocketMQ broker refuses every write at 90%% (a hard limit), free space or set MQBENCH_HOME to another disk", b.dir, r*100)
	}
	cp, err := l.classpath(ctx, b.dir, "rocketmq "+RocketMQVersion, w)
	if err != nil {
		return err
	}
	var nsProcs, nsChecks = b.procs[:rocketmqClusterReplicas], b.checks[:2*rocketmqClusterReplicas]
	for i := range b.Nodes {
		if i == rocketmqClusterReplicas {
			if err := l.waitReady(ctx, b, nsProcs, nsChecks); err != nil {
				return fmt.Errorf("name servers: %w", err)
			}
		}
		if err := l.startRocketMQNode(ctx, b, i, java, cp); err != nil {
			return err
		}
	}
	// A replica whose port an outgoing connection took between the check
	// and its bind exits with a BindException: start it again (3 tries).
	for try := 0; ; try++ {
		err := l.waitReady(ctx, b, b.procs, b.checks)
		if err == nil {
			break
		}
		retried := false
		for i, n := range b.Nodes {
			if _, ok := l.livePID(b, b.procs[i]); !ok && try < 3 &&
				strings.Contains(lastLines(readFileString(filepath.Join(b.nodeDir(n), "logs", "stdout.log")), 20), "BindException") {
				w.printf("rocketmq: %s could not bind a port (taken by another connection); starting it again", n.Name)
				if err := l.startRocketMQNode(ctx, b, i, java, cp); err != nil {
					return err
				}
				retried = true
			}
		}
		if !retried {
			return err
		}
	}
	if b.answerOnly {
		return nil
	}
	return l.waitSyncStateSet(ctx, b)
}

// startRocketMQNode spawns node i of cluster b unless it runs, once its
// ports can be bound.
func (l *Launcher) startRocketMQNode(ctx context.Context, b instance, i int, java, cp string) error {
	n := b.Nodes[i]
	nd := b.nodeDir(n)
	argv := []string{java}
	main, conf := "org.apache.rocketmq.namesrv.NamesrvStartup", nd+"/conf/namesrv.conf"
	if n.NotClient {
		argv = append(argv, rocketmqClusterBrokerHeap...)
		main, conf = "org.apache.rocketmq.broker.BrokerStartup", nd+"/conf/broker.conf"
	} else {
		argv = append(argv, rocketmqClusterNamesrvHeap...)
	}
	argv = append(append(argv, jvmCommon()...),
		"--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
		"--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
		// No TLS listener: mqbench's clients speak plain TCP, and the
		// default ("permissive") builds a self-signed SslContext at every
		// start, which took 30 s on a loaded machine.
		"-Dtls.server.mode=disabled",
		"-Duser.home="+nd, "-Drocketmq.home.dir="+nd, "-Drmq.logback.configurationFile="+nd+"/conf/logback.xml",
		"-cp", cp, main, "-c", conf)
	if _, ok := l.livePID(b, b.procs[i]); ok {
		return nil
	}
	if err := waitBindable(ctx, append([]int{n.ClientPort}, n.Ports...), l.opts.StartTimeout); err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	if _, err := spawn(b.dir, filepath.Join(nd, "logs", "stdout.log"), filepath.Join(b.dir, b.procs[i].pidFile), nil, argv); err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	return nil
}

// readFileString returns the file's content, "" when unreadable.
func readFileString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// waitSyncStateSet waits (within the start timeout) until the controllers
// report a master of broker-a with every replica in its sync state set.
func (l *Launcher) waitSyncStateSet(ctx context.Context, b instance) error {
	return poll(ctx, l.opts.StartTimeout, 500*time.Millisecond, func() error {
		st, err := rocketmqSyncState(ctx, b, probeTimeout)
		if err == nil && st.master != "" && len(st.inSync) == rocketmqClusterReplicas {
			return nil
		}
		return fmt.Errorf("no master with %d replicas in sync within %s (last: %+v, %v)", rocketmqClusterReplicas, l.opts.StartTimeout, st, err)
	})
}

// rmqSyncState is a broker group's replication as its controller leader
// reports it.
type rmqSyncState struct {
	leader            string // controller leader address
	master            string
	inSync, notInSync []string
}

// rocketmqSyncState asks the controllers of cluster b for their leader, and
// the leader for broker-a's master and sync state set.
func rocketmqSyncState(ctx context.Context, b instance, timeout time.Duration) (rmqSyncState, error) {
	var st rmqSyncState
	var errs []string
	for _, n := range b.Nodes {
		if n.NotClient {
			continue
		}
		ext, _, err := rmqRequest(ctx, nodeAddr(n.Ports[0]), timeout, rmqControllerGetMetadata, nil)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if st.leader = ext["controllerLeaderAddress"]; st.leader != "" {
			break
		}
	}
	if st.leader == "" {
		return st, fmt.Errorf("no controller names a leader: %s", strings.Join(errs, "; "))
	}
	_, body, err := rmqRequest(ctx, st.leader, timeout, rmqControllerGetSyncStateData, []byte(`["broker-a"]`))
	if err != nil {
		return st, err
	}
	type replica struct {
		BrokerAddress string `json:"brokerAddress"`
	}
	var info struct {
		ReplicasInfoTable map[string]struct {
			MasterAddress     string    `json:"masterAddress"`
			InSyncReplicas    []replica `json:"inSyncReplicas"`
			NotInSyncReplicas []replica `json:"notInSyncReplicas"`
		} `json:"replicasInfoTable"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return st, fmt.Errorf("decode sync state data: %w", err)
	}
	g := info.ReplicasInfoTable["broker-a"]
	st.master = g.MasterAddress
	for _, r := range g.InSyncReplicas {
		st.inSync = append(st.inSync, r.BrokerAddress)
	}
	for _, r := range g.NotInSyncReplicas {
		st.notInSync = append(st.notInSync, r.BrokerAddress)
	}
	sort.Strings(st.inSync)
	return st, nil
}

// rocketmqRoles reports each node's role as the controllers report it: a
// name server's controller is leader or follower; a broker replica is the
// master, or a slave in or out of the sync state set.
func rocketmqRoles(ctx context.Context, l *Launcher, b instance) map[string]nodeRole {
	roles := map[string]nodeRole{}
	st, err := rocketmqSyncState(ctx, b, probeTimeout)
	for i, n := range b.Nodes {
		if _, ok := l.livePID(b, b.procs[i]); !ok {
			continue // a node mqbench does not run has no role to report
		}
		addr := n.Addr()
		switch {
		case !n.NotClient && st.leader == nodeAddr(n.Ports[0]):
			roles[n.Name] = nodeRole{"name server; controller leader", StandingRouter}
		case !n.NotClient && st.leader != "":
			roles[n.Name] = nodeRole{"name server; controller follower", StandingRouter}
		case !n.NotClient:
			roles[n.Name] = nodeRole{"name server; controller: " + err.Error(), StandingRouter}
		case err != nil:
			roles[n.Name] = nodeRole{"broker: " + err.Error(), StandingUnknown}
		case st.master == addr:
			roles[n.Name] = nodeRole{fmt.Sprintf("master of broker-a (sync state set %d of %d)", len(st.inSync), len(st.inSync)+len(st.notInSync)), StandingLeader}
		case slices.Contains(st.inSync, addr):
			roles[n.Name] = nodeRole{"slave of broker-a, in the sync state set", StandingReplica}
		default:
			roles[n.Name] = nodeRole{"slave of broker-a, not in the sync state set", StandingSyncing}
		}
	}
	return roles
}

// ProbeRocketMQController asks a RocketMQ controller for its metadata
// (CONTROLLER_GET_METADATA_INFO) and requires it to name a leader. Blocks
// at most timeout.
func ProbeRocketMQController(ctx context.Context, addr string, timeout time.Duration) Handshake {
	ext, _, err := rmqRequest(ctx, addr, timeout, rmqControllerGetMetadata, nil)
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	if ext["controllerLeaderAddress"] == "" {
		return Handshake{Detail: "controller answers but names no leader yet"}
	}
	return Handshake{OK: true, Detail: "controller metadata answered, leader " + ext["controllerLeaderAddress"]}
}

// waitBindable waits until every port can be listened on (on every
// interface, as RocketMQ's HA listener does) without SO_REUSEADDR, at most
// max. RocketMQ 5.5 binds its HA listener without that option, so a port
// with connections in TIME_WAIT (a replica's HA port right after it
// stopped) refuses the bind for about a minute; and the cluster's ports lie
// in Linux's ephemeral range (32768-60999), where an outgoing connection
// may hold one as its local port.
func waitBindable(ctx context.Context, ports []int, max time.Duration) error {
	deadline := time.Now().Add(max)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 0)
		}); err != nil {
			return err
		}
		return serr
	}}
	for _, p := range ports {
		err := poll(ctx, time.Until(deadline), 500*time.Millisecond, func() error {
			ln, err := lc.Listen(ctx, "tcp", ":"+strconv.Itoa(p))
			if err != nil {
				return fmt.Errorf("port %d cannot be bound: %w", p, err)
			}
			ln.Close()
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
