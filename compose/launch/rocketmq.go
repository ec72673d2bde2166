package launch

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"
)

// RocketMQ is Apache RocketMQ (a name server and one master broker), from
// Maven Central jars.
const RocketMQ = "rocketmq"

// RocketMQVersion is the release native mode runs; the compose file pins the
// same (5.5.1's name server, client and tools do not resolve from Maven
// Central).
const RocketMQVersion = "5.5.0"

// RocketMQ ports: the name server and the broker (the same in native and
// compose mode), and the two the broker derives from its listenPort: the
// "fast" (VIP) channel at listenPort-2 and HA replication at listenPort+1.
const (
	PortRocketMQNamesrv = 9876
	PortRocketMQBroker  = 10911
	portRocketMQFast    = PortRocketMQBroker - 2
	portRocketMQHA      = PortRocketMQBroker + 1
)

var flushRe = regexp.MustCompile(`(?m)^flushDiskType=(\S+)`)

// rocketmqFlush is the broker's flushDiskType: SEND_OK only after the commit
// log is on disk (durable profile), or flushed in the background (fast).
func rocketmqFlush(asyncFlush bool) string {
	if asyncFlush {
		return "ASYNC_FLUSH"
	}
	return "SYNC_FLUSH"
}

func rocketmqSpec() Spec {
	conf := func(file, key string) bind {
		return bind{file: file, setting: regexp.MustCompile(`(?m)^` + key + `=([^:\s]+)`)}
	}
	withPort := func(b bind, port int, role string) bind { b.port, b.role = port, role; return b }
	return Spec{
		Name: RocketMQ, Title: "RocketMQ", Version: RocketMQVersion, ClientPort: PortRocketMQNamesrv,
		procs: []procSpec{
			{"namesrv", "namesrv.pid", []string{"NamesrvStartup"}},
			{"broker", "broker.pid", []string{"BrokerStartup"}},
		},
		checks: []check{
			rocketNamesrvCheck(true),
			{PortRocketMQBroker, "rocketmq-remoting (broker)", ProbeRocketMQBroker, false},
		},
		extraPorts: []int{portRocketMQFast, portRocketMQHA},
		binds: []bind{
			withPort(conf("conf/namesrv.conf", "bindAddress"), PortRocketMQNamesrv, "name server"),
			withPort(conf("conf/broker.conf", "bindAddress"), PortRocketMQBroker, "broker"),
			// The fast channel is a copy of the broker's server config.
			withPort(conf("conf/broker.conf", "bindAddress"), portRocketMQFast, "broker fast channel"),
			{port: portRocketMQHA, role: "HA replication", exposed: "RocketMQ " + RocketMQVersion +
				" binds it to the wildcard address and has no setting to change that (only what it advertises, brokerIP2); " +
				"nothing connects to it with one broker"},
			withPort(conf("conf/broker.conf", "brokerIP1"), 0, "advertised broker address"),
			withPort(conf("conf/broker.conf", "brokerIP2"), 0, "advertised HA address"),
			withPort(conf("conf/broker.conf", "namesrvAddr"), 0, "name server the broker registers with"),
		},
		logs:  []string{"logs/namesrv.log", "logs/broker.log", "logs/namesrv.stdout.log", "logs/broker.stdout.log"},
		java:  true,
		maven: true,
		files: func(dir string, asyncFlush bool) []configFile {
			return []configFile{
				{tmpl: "rocketmq-pom.xml", path: "pom.xml", data: map[string]any{"Version": RocketMQVersion}},
				{tmpl: "rocketmq-namesrv.conf", path: "conf/namesrv.conf", data: map[string]any{"Host": host, "NamesrvPort": PortRocketMQNamesrv, "Home": dir}},
				{tmpl: "rocketmq-broker.conf", path: "conf/broker.conf", data: map[string]any{
					"Host": host, "NamesrvPort": PortRocketMQNamesrv, "Port": PortRocketMQBroker,
					"Home": dir, "StoreDir": dir + "/data/store", "FlushDiskType": rocketmqFlush(asyncFlush),
				}},
				{tmpl: "rocketmq-logback.xml", path: "conf/namesrv.logback.xml", data: map[string]any{"LogFile": dir + "/logs/namesrv.log"}},
				{tmpl: "rocketmq-logback.xml", path: "conf/broker.logback.xml", data: map[string]any{"LogFile": dir + "/logs/broker.log"}},
			}
		},
		start:   startRocketMQ,
		cluster: rocketmqClusterSpec,
		durability: func(dir string) string {
			if v := readSetting(dir, "conf/broker.conf", flushRe); v != "" {
				return "flushDiskType=" + v
			}
			return ""
		},
		wantDurability: func(asyncFlush bool) string { return "flushDiskType=" + rocketmqFlush(asyncFlush) },
	}
}

// rocketNamesrvCheck is the name server's handshake; with requireBroker it
// also requires the broker to be registered.
func rocketNamesrvCheck(requireBroker bool) check {
	want := ""
	if requireBroker {
		want = net.JoinHostPort(host, strconv.Itoa(PortRocketMQBroker))
	}
	return check{PortRocketMQNamesrv, "rocketmq-remoting (name server)", func(ctx context.Context, addr string, t time.Duration) Handshake {
		return ProbeRocketMQNamesrv(ctx, addr, want, t)
	}, false}
}

func startRocketMQ(ctx context.Context, l *Launcher, b instance, w *syncWriter) error {
	java, err := l.java(ctx)
	if err != nil {
		return err
	}
	d := b.dir
	if r, err := diskUsedRatio(d); err == nil && r >= 0.90 {
		return fmt.Errorf("the disk holding %s is %.0f%% full: the RocketMQ broker refuses every write at 90%% (a hard limit), free space or set MQBENCH_HOME to another disk", d, r*100)
	} else if err == nil && r >= 0.80 {
		w.printf("rocketmq: warning: the disk holding %s is %.0f%% full; the broker refuses writes at 90%%", d, r*100)
	}
	cp, err := l.classpath(ctx, d, "rocketmq "+RocketMQVersion, w)
	if err != nil {
		return err
	}
	common := append(jvmCommon(),
		"--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
		"--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
		"-Duser.home="+d, "-Drocketmq.home.dir="+d)
	ns := append([]string{java, "-Xms128m", "-Xmx256m"}, common...)
	ns = append(ns, "-Drmq.logback.configurationFile="+d+"/conf/namesrv.logback.xml",
		"-cp", cp, "org.apache.rocketmq.namesrv.NamesrvStartup", "-c", d+"/conf/namesrv.conf")
	if err := l.startProc(b, b.procs[0], "namesrv.stdout.log", nil, ns); err != nil {
		return err
	}
	if err := l.waitReady(ctx, b, b.procs[:1], []check{rocketNamesrvCheck(false)}); err != nil {
		return fmt.Errorf("name server: %w", err)
	}
	br := append([]string{java, "-Xms256m", "-Xmx1g", "-XX:MaxDirectMemorySize=1g"}, common...)
	br = append(br, "-Drmq.logback.configurationFile="+d+"/conf/broker.logback.xml",
		"-cp", cp, "org.apache.rocketmq.broker.BrokerStartup", "-c", d+"/conf/broker.conf")
	if err := l.startProc(b, b.procs[1], "broker.stdout.log", nil, br); err != nil {
		return err
	}
	return l.waitReady(ctx, b, b.procs, b.checks)
}
