package launch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ActiveMQ cluster ports (shared-store master/slave): node i (from 1)
// listens for STOMP on PortActiveMQClusterStomp+10(i-1) and for OpenWire on
// PortActiveMQClusterOpenWire+10(i-1), when it is the master; its Jolokia
// agent (read-only, at JolokiaPath) answers on PortActiveMQClusterJolokia+i-1
// whatever its role.
const (
	PortActiveMQClusterStomp    = 62613
	PortActiveMQClusterOpenWire = 62616
	PortActiveMQClusterJolokia  = 62661
	activemqClusterNodes        = 2
	// activemqLockRetry is how often the slave tries the store's lock: the
	// longest a failover waits for it after the master died.
	activemqLockRetry = 2 * time.Second
)

// activemqClusterSpec is ActiveMQ Classic's high-availability form: two
// brokers on one shared KahaDB directory; the one holding its lock is the
// master, the other waits for the lock without listening and opens its
// connectors when the master dies. Clients list both STOMP addresses; the
// adapter reads the journal sync from the first node's Jolokia agent that
// has the KahaDB settings MBean (the master's: a slave registers it when it
// takes the lock).
func activemqClusterSpec() Spec {
	s := activemqSpec()
	var nodes []Node
	var mgmt []string
	for i := range activemqClusterNodes {
		nodes = append(nodes, Node{Name: "node" + strconv.Itoa(i+1), ClientPort: PortActiveMQClusterStomp + 10*i,
			Ports: []int{PortActiveMQClusterOpenWire + 10*i, PortActiveMQClusterJolokia + i}})
		mgmt = append(mgmt, "http://"+net.JoinHostPort(host, strconv.Itoa(PortActiveMQClusterJolokia+i))+JolokiaPath)
	}
	s.Nodes, s.ClientPort, s.management = nodes, nodes[0].ClientPort, strings.Join(mgmt, ",")
	s.procs, s.checks, s.binds, s.logs = nil, nil, nil, nil
	uriHost := func(scheme string) *regexp.Regexp { return regexp.MustCompile(`uri="` + scheme + `://([^:/"]+):`) }
	for _, n := range nodes {
		f := n.Name + "/conf/activemq.xml"
		s.procs = append(s.procs, procSpec{n.Name, n.Name + "/activemq.pid", []string{"xbean:file:", f}})
		s.checks = append(s.checks,
			check{n.ClientPort, "stomp (" + n.Name + ")", masterOrSlave(nodes, n, ProbeSTOMP, "does not listen"), false},
			check{n.Ports[0], "openwire (" + n.Name + ")", masterOrSlave(nodes, n, ProbeOpenWire, "does not listen"), false},
			check{n.Ports[1], "jolokia (" + n.Name + ")", masterOrSlave(nodes, n, ProbeJolokia, "has no KahaDB settings MBean"), true})
		s.binds = append(s.binds,
			bind{port: n.ClientPort, role: n.Name + " STOMP", file: f, setting: uriHost("stomp")},
			bind{port: n.Ports[0], role: n.Name + " OpenWire", file: f, setting: uriHost("tcp")},
			bind{port: n.Ports[1], role: n.Name + " Jolokia", file: n.Name + "/conf/jolokia.properties", setting: regexp.MustCompile(`(?m)^host=(\S+)$`)})
		s.logs = append(s.logs, n.Name+"/logs/activemq.log", n.Name+"/logs/stdout.log")
	}
	s.files = func(dir string, asyncFlush bool) []configFile { return activemqClusterFiles(dir, nodes, asyncFlush) }
	s.start = startActiveMQCluster
	s.durability = func(dir string) string {
		if v := readSetting(dir, "node1/conf/activemq.xml", journalSyncRe); v != "" {
			return "kahadb journal sync " + v + ", one store shared by 2 brokers (master/slave)"
		}
		return ""
	}
	s.wantDurability = func(asyncFlush bool) string {
		return "kahadb journal sync " + activemqJournalSync(asyncFlush) + ", one store shared by 2 brokers (master/slave)"
	}
	s.roles = activemqRoles
	s.cluster = nil
	return s
}

// masterOrSlave is node n's handshake in a master/slave group: its own
// (probe at its port) when it is the master; a slave does not listen (and
// its Jolokia agent has no KahaDB settings MBean before it takes the lock),
// so when some other node's STOMP port answers, n passes as the waiting
// slave (its process is checked separately), idle saying how it waits.
func masterOrSlave(nodes []Node, n Node, probe func(context.Context, string, time.Duration) Handshake, idle string) func(context.Context, string, time.Duration) Handshake {
	return func(ctx context.Context, addr string, t time.Duration) Handshake {
		h := probe(ctx, addr, t)
		if h.OK {
			return h
		}
		for _, o := range nodes {
			if o.Name != n.Name && ProbeSTOMP(ctx, o.Addr(), t).OK {
				return Handshake{OK: true, Detail: "slave: " + idle + " while " + o.Name + " (master) holds the store's lock"}
			}
		}
		return h
	}
}

// activemqClusterFiles renders the pom (shared) and each node's broker and
// logging config; both nodes name one KahaDB directory, <dir>/shared/kahadb.
func activemqClusterFiles(dir string, nodes []Node, asyncFlush bool) []configFile {
	files := []configFile{{tmpl: "activemq-pom.xml", path: "pom.xml", data: map[string]any{"Version": ActiveMQVersion, "JolokiaVersion": JolokiaVersion}}}
	for _, n := range nodes {
		nd := filepath.Join(dir, n.Name)
		files = append(files,
			configFile{tmpl: "activemq-cluster.xml", path: n.Name + "/conf/activemq.xml", data: map[string]any{
				"Node": n.Name, "Host": host, "StompPort": n.ClientPort, "OpenWirePort": n.Ports[0],
				"JournalSync": activemqJournalSync(asyncFlush), "StoreLimit": "8 gb", "TempLimit": "2 gb",
				"DataDir": nd + "/data", "SharedDir": filepath.Join(dir, "shared", "kahadb"),
				"LockRetryMillis": activemqLockRetry.Milliseconds(), "SettingsMBean": KahaDBSettingsMBean}},
			configFile{tmpl: "activemq-jolokia.properties", path: n.Name + "/conf/jolokia.properties", data: map[string]any{
				"Host": host, "Port": n.Ports[1], "Path": JolokiaPath, "Policy": nd + "/conf/jolokia-access.xml"}},
			configFile{tmpl: "activemq-jolokia-access.xml", path: n.Name + "/conf/jolokia-access.xml"},
			configFile{tmpl: "activemq-log4j2.properties", path: n.Name + "/conf/log4j2.properties", data: map[string]any{"LogFile": nd + "/logs/activemq.log"}})
	}
	return files
}

// startActiveMQCluster starts node1, waits until it is the master (its
// STOMP answers), then starts node2, which waits for the lock as the slave;
// it returns when both processes run, the master answers and (unless
// b.answerOnly) every other node has logged that it waits for the lock.
func startActiveMQCluster(ctx context.Context, l *Launcher, b instance, w *syncWriter) error {
	java, err := l.java(ctx)
	if err != nil {
		return err
	}
	cp, err := l.classpath(ctx, b.dir, "activemq "+ActiveMQVersion, w)
	if err != nil {
		return err
	}
	agent, err := jolokiaAgent(cp)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(b.dir, "shared"), 0o755); err != nil {
		return fmt.Errorf("create the shared store directory: %w", err)
	}
	for i, n := range b.Nodes {
		nd := b.nodeDir(n)
		if err := os.MkdirAll(nd+"/data/tmp", 0o755); err != nil {
			return fmt.Errorf("create tmp dir: %w", err)
		}
		argv := append([]string{java, "-Xms128m", "-Xmx512m"}, jvmCommon()...)
		argv = append(argv, "-javaagent:"+agent+"=config="+nd+"/conf/jolokia.properties",
			"-Dactivemq.home="+nd, "-Dactivemq.base="+nd,
			"-Dactivemq.conf="+nd+"/conf", "-Dactivemq.data="+nd+"/data",
			"-Dactivemq.classpath="+nd+"/conf", "-Djava.io.tmpdir="+nd+"/data/tmp",
			"-Dlog4j2.configurationFile="+nd+"/conf/log4j2.properties",
			"-cp", cp, activemqMain, "start", "xbean:file:"+nd+"/conf/activemq.xml")
		if _, ok := l.livePID(b, b.procs[i]); !ok {
			if err := setAside(filepath.Join(nd, "logs", "activemq.log")); err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
			if _, err := spawn(b.dir, filepath.Join(nd, "logs", "stdout.log"), filepath.Join(b.dir, b.procs[i].pidFile), nil, argv); err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
		}
		if i == 0 {
			// The first node takes the lock unless a master already runs.
			if err := l.waitReady(ctx, b, b.procs[:1], b.checks[:3]); err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
		}
	}
	if err := l.waitReady(ctx, b, b.procs, b.checks); err != nil || b.answerOnly {
		return err
	}
	return l.waitStandby(ctx, b)
}

// waitStandby waits (within the start timeout) until every node but the
// master has logged that it waits for the store's lock: a slave that has
// not, cannot take over yet.
func (l *Launcher) waitStandby(ctx context.Context, b instance) error {
	return poll(ctx, l.opts.StartTimeout, 500*time.Millisecond, func() error {
		var waiting []string
		for name, role := range activemqRoles(ctx, l, b) {
			if role.standing == StandingSyncing {
				waiting = append(waiting, name)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		slices.Sort(waiting)
		return fmt.Errorf("%s logged no lock message within %s", strings.Join(waiting, ", "), l.opts.StartTimeout)
	})
}

// activemqRoles reports each node's role: the master is the node whose
// STOMP port answers (with the broker's own server header); another live
// node is a slave, in the words of the last lock message of its log.
func activemqRoles(ctx context.Context, l *Launcher, b instance) map[string]nodeRole {
	roles := map[string]nodeRole{}
	for i, n := range b.Nodes {
		if h := ProbeSTOMP(ctx, n.Addr(), probeTimeout); h.OK {
			roles[n.Name] = nodeRole{"master (STOMP answers: " + h.Detail + ")", StandingLeader}
			continue
		}
		if _, ok := l.livePID(b, b.procs[i]); !ok {
			continue
		}
		role := nodeRole{"slave (not listening; no lock message in its log yet)", StandingSyncing}
		if line := lastLockLine(filepath.Join(b.nodeDir(n), "logs", "activemq.log")); line != "" {
			role = nodeRole{"slave: " + line, StandingReplica}
		}
		roles[n.Name] = role
	}
	return roles
}

// setAside renames the log at path to path+".prev" (replacing an older
// one), so that the log a node writes holds only the lines of its current
// process: the role read from it (lastLockLine) never comes from a process
// that has since died, even before the new one writes its first line. A
// missing log is no error.
func setAside(path string) error {
	if err := os.Rename(path, path+".prev"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("set the previous log aside: %w", err)
	}
	return nil
}

// lastLockLine returns the message of the last log line about the store's
// lock ("... is locked by another server. This broker is now in slave mode
// waiting a lock to be acquired") since the process last started (its
// first line, "Using Persistence Adapter: ...", comes before the lock is
// tried; "... is starting" comes only once the lock is held), "" when
// none: a line from before a restart says nothing about the node now.
func lastLockLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "Using Persistence Adapter"):
			last = ""
		case strings.Contains(line, "slave mode") || strings.Contains(line, "lock"):
			last = line
		}
	}
	// "date | LEVEL | message | logger | thread": keep the message.
	if parts := strings.Split(last, " | "); len(parts) >= 3 {
		return strings.TrimSpace(parts[2])
	}
	return last
}
