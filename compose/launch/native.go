package launch

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// check is one endpoint of a broker and its handshake.
type check struct {
	port     int
	protocol string
	probe    func(ctx context.Context, addr string, timeout time.Duration) Handshake
	// nativeOnly marks a port the compose file does not publish.
	nativeOnly bool
}

// brokerSpec describes one broker in native mode.
type brokerSpec struct {
	name   string
	dir    string
	procs  []procSpec
	checks []check
	// extraPorts are other ports its processes hold; Down waits for them too.
	extraPorts []int
	// logs are tailed (relative to dir) when a start fails.
	logs []string
}

// kafkaClusterID is the fixed KRaft cluster id (base64url of
// "mqbench-kafka-01").
const kafkaClusterID = "bXFiZW5jaC1rYWZrYS0wMQ"

// rabbitNode is the Erlang node name: @localhost always resolves, so the
// machine's short hostname need not be in /etc/hosts.
const rabbitNode = "mqbench@localhost"

const probeTimeout = 5 * time.Second

func rocketNamesrvCheck(requireBroker bool) check {
	want := ""
	if requireBroker {
		want = net.JoinHostPort(host, strconv.Itoa(PortRocketMQBroker))
	}
	return check{PortRocketMQNamesrv, "rocketmq-remoting (name server)", func(ctx context.Context, addr string, t time.Duration) Handshake {
		return ProbeRocketMQNamesrv(ctx, addr, want, t)
	}, false}
}

// broker returns the spec of a known broker name.
func (l *Launcher) broker(name string) brokerSpec {
	dir := filepath.Join(l.home, name)
	switch name {
	case ActiveMQ:
		return brokerSpec{
			name: name, dir: dir,
			procs: []procSpec{{"activemq", "activemq.pid", []string{"activemq.jar"}}},
			checks: []check{
				{PortActiveMQStomp, "stomp", ProbeSTOMP, false},
				{PortActiveMQOpenWire, "openwire", ProbeOpenWire, false},
			},
			logs: []string{"logs/activemq.log", "logs/stdout.log"},
		}
	case RabbitMQ:
		return brokerSpec{
			name: name, dir: dir,
			procs:      []procSpec{{"rabbitmq", "rabbitmq.pid", []string{"beam", "rabbit"}}},
			checks:     []check{{PortRabbitMQ, "amqp-0-9-1", ProbeAMQP, false}},
			extraPorts: []int{25672},
			logs:       []string{"logs/" + rabbitNode + ".log", "logs/startup.log"},
		}
	case Kafka:
		return brokerSpec{
			name: name, dir: dir,
			procs: []procSpec{{"kafka", "kafka.pid", []string{"kafka.Kafka"}}},
			checks: []check{
				{PortKafka, "kafka (ApiVersions)", ProbeKafka, false},
				{PortKafkaController, "kafka controller (ApiVersions)", ProbeKafka, true},
			},
			logs: []string{"logs/server.log", "logs/stdout.log", "logs/format.log"},
		}
	case RocketMQ:
		return brokerSpec{
			name: name, dir: dir,
			procs: []procSpec{
				{"namesrv", "namesrv.pid", []string{"NamesrvStartup"}},
				{"broker", "broker.pid", []string{"BrokerStartup"}},
			},
			checks: []check{
				rocketNamesrvCheck(true),
				{PortRocketMQBroker, "rocketmq-remoting (broker)", ProbeRocketMQBroker, false},
			},
			extraPorts: []int{PortRocketMQBroker - 2, PortRocketMQBroker + 1},
			logs:       []string{"logs/namesrv.log", "logs/broker.log", "logs/namesrv.stdout.log", "logs/broker.stdout.log"},
		}
	}
	panic("launch: unknown broker " + name) // names are validated by checkNames
}

// livePID returns the pid of p when its pid file names a live process whose
// command line matches.
func (l *Launcher) livePID(b brokerSpec, p procSpec) (int, bool) {
	pid := readPID(filepath.Join(b.dir, p.pidFile))
	if pid == 0 {
		return 0, false
	}
	return pid, processAlive(pid, append(slices.Clone(p.markers), b.dir))
}

func (l *Launcher) logTail(b brokerSpec) string {
	var parts []string
	for _, rel := range b.logs {
		p := filepath.Join(b.dir, rel)
		if t := tailFile(p, 15); t != "" {
			parts = append(parts, "--- last lines of "+p+"\n"+t)
		}
	}
	return strings.Join(parts, "\n")
}

// statusOne inspects one broker; it changes nothing.
func (l *Launcher) statusOne(ctx context.Context, name string, mode Mode) Status {
	b := l.broker(name)
	if mode == ModeCompose {
		b.checks = slices.DeleteFunc(slices.Clone(b.checks), func(c check) bool { return c.nativeOnly })
	}
	st := Status{Name: name, Mode: mode, Endpoints: make([]Endpoint, len(b.checks))}
	var missing []string
	if mode == ModeNative {
		for _, p := range b.procs {
			if pid, ok := l.livePID(b, p); ok {
				st.PIDs = append(st.PIDs, pid)
			} else {
				missing = append(missing, p.name)
			}
		}
		st.Managed = len(st.PIDs) > 0
		st.Running = len(missing) == 0
	}
	var wg sync.WaitGroup
	for i, c := range b.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.Endpoints[i] = Endpoint{Port: c.port, Protocol: c.protocol,
				Handshake: c.probe(ctx, net.JoinHostPort(host, strconv.Itoa(c.port)), probeTimeout)}
		}()
	}
	wg.Wait()
	st.Healthy = true
	answered := false
	for _, e := range st.Endpoints {
		st.Healthy = st.Healthy && e.Handshake.OK
		answered = answered || e.Handshake.OK
		if e.Handshake.Version != "" && st.Version == "" {
			st.Version = e.Handshake.Version
		}
	}
	switch {
	case mode == ModeNative && st.Managed && len(missing) > 0:
		st.Detail = "not running: " + strings.Join(missing, ", ")
	case mode == ModeNative && !st.Managed:
		st.Running = answered
		if answered {
			st.Detail = "not started by mqbench"
		}
	case mode == ModeCompose:
		st.Running = answered
	}
	if st.Version == "" && name == Kafka && len(st.PIDs) > 0 {
		st.Version = kafkaVersionOf(st.PIDs[0])
	}
	if st.Managed {
		st.Durability = l.durability(b)
	}
	return st
}

var kafkaJarRe = regexp.MustCompile(`kafka_2\.1[0-9]-([0-9][0-9A-Za-z.\-]*)\.jar`)

// kafkaVersionOf reads the Kafka release from the jar on a process's
// classpath (Kafka does not report it over the wire).
func kafkaVersionOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	if m := kafkaJarRe.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

var (
	flushRe       = regexp.MustCompile(`(?m)^flushDiskType=(\S+)`)
	journalSyncRe = regexp.MustCompile(`journalDiskSyncStrategy="([a-z]+)"`)
)

// durability reads the disk-sync setting from a broker's rendered config.
func (l *Launcher) durability(b brokerSpec) string {
	switch b.name {
	case RocketMQ:
		if c, err := os.ReadFile(filepath.Join(b.dir, "conf", "broker.conf")); err == nil {
			if m := flushRe.FindSubmatch(c); m != nil {
				return "flushDiskType=" + string(m[1])
			}
		}
	case ActiveMQ:
		if c, err := os.ReadFile(filepath.Join(b.dir, "conf", "activemq.xml")); err == nil {
			if m := journalSyncRe.FindSubmatch(c); m != nil {
				return "kahadb journal sync " + string(m[1])
			}
		}
	case Kafka:
		return "acks decide; fsync left to the OS"
	case RabbitMQ:
		return "persistent + confirms fsync"
	}
	return ""
}

// wantDurability is what durability reports for a broker started with the
// given flush option ("" when the option does not change it).
func wantDurability(name string, async bool) string {
	switch name {
	case RocketMQ:
		return map[bool]string{false: "flushDiskType=SYNC_FLUSH", true: "flushDiskType=ASYNC_FLUSH"}[async]
	case ActiveMQ:
		return map[bool]string{false: "kahadb journal sync always", true: "kahadb journal sync periodic"}[async]
	}
	return ""
}

// upOne starts one broker natively unless it already answers.
func (l *Launcher) upOne(ctx context.Context, name string, w *syncWriter) error {
	b := l.broker(name)
	st := l.statusOne(ctx, name, ModeNative)
	if st.Healthy && st.Running {
		if st.Managed {
			w.printf("%s: already running (pid %s, version %s)", name, joinInts(st.PIDs), nonEmpty(st.Version, "?"))
			if want := wantDurability(name, l.opts.AsyncFlush); want != "" && st.Durability != want {
				w.printf("%s: warning: it runs with %s, not %s; stop it (mqbench down --brokers %s) and start it again to change", name, st.Durability, want, name)
			}
		} else {
			w.printf("%s: already answering on port %s, not started by mqbench: reusing it", name, joinInts(st.Ports()))
		}
		return nil
	}
	if !st.Managed {
		var busy []int
		for _, p := range append(st.Ports(), b.extraPorts...) {
			if portBusy(ctx, host, p) {
				busy = append(busy, p)
			}
		}
		if len(busy) > 0 {
			return &StartError{Broker: name, Err: fmt.Errorf("port %s already in use by a program mqbench did not start (and it does not answer the %s handshake): stop it first", joinInts(busy), name)}
		}
	}
	begin := time.Now()
	w.printf("%s: starting (state in %s)", name, b.dir)
	if err := l.prepare(b); err != nil {
		return &StartError{Broker: name, Err: err}
	}
	var err error
	switch name {
	case ActiveMQ:
		err = l.startActiveMQ(ctx, b)
	case RabbitMQ:
		err = l.startRabbitMQ(ctx, b)
	case Kafka:
		err = l.startKafka(ctx, b, w)
	case RocketMQ:
		err = l.startRocketMQ(ctx, b, w)
	}
	if err != nil {
		return &StartError{Broker: name, Err: err, LogTail: l.logTail(b)}
	}
	st = l.statusOne(ctx, name, ModeNative)
	w.printf("%s: ready in %.1fs (pid %s, version %s, ports %s)", name, time.Since(begin).Seconds(), joinInts(st.PIDs), nonEmpty(st.Version, "?"), joinInts(st.Ports()))
	return nil
}

// prepare creates the broker's directories and writes its config files.
func (l *Launcher) prepare(b brokerSpec) error {
	for _, d := range []string{"conf", "data", "logs"} {
		if err := os.MkdirAll(filepath.Join(b.dir, d), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	files, err := brokerFiles(b.name, b.dir, l.opts.AsyncFlush)
	if err != nil {
		return err
	}
	if b.name == RabbitMQ {
		files = append(files, renderedFile{path: "conf/enabled_plugins", data: []byte("[].\n")})
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(b.dir, f.path), f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// waitReady polls until every check answers, a process of procs dies, ctx
// ends or Options.StartTimeout passes.
func (l *Launcher) waitReady(ctx context.Context, b brokerSpec, procs []procSpec, checks []check) error {
	deadline := time.Now().Add(l.opts.StartTimeout)
	for {
		for _, p := range procs {
			if _, ok := l.livePID(b, p); !ok {
				return fmt.Errorf("%s process exited during start", p.name)
			}
		}
		var failing []string
		for _, c := range checks {
			h := c.probe(ctx, net.JoinHostPort(host, strconv.Itoa(c.port)), 3*time.Second)
			if !h.OK {
				failing = append(failing, fmt.Sprintf("port %d: %s", c.port, h.Detail))
			}
		}
		if len(failing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no handshake within %s: %s", l.opts.StartTimeout, strings.Join(failing, "; "))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for handshake: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// startProc spawns argv as process p of b unless it already runs.
func (l *Launcher) startProc(b brokerSpec, p procSpec, logName string, env, argv []string) error {
	if _, ok := l.livePID(b, p); ok {
		return nil
	}
	_, err := spawn(b.dir, filepath.Join(b.dir, "logs", logName), filepath.Join(b.dir, p.pidFile), env, argv)
	return err
}

func jvmCommon() []string {
	return []string{"-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true", "-XX:+ExitOnOutOfMemoryError"}
}

func (l *Launcher) startActiveMQ(ctx context.Context, b brokerSpec) error {
	java, err := l.java(ctx)
	if err != nil {
		return err
	}
	d := b.dir
	argv := append([]string{java, "-Xms128m", "-Xmx512m"}, jvmCommon()...)
	argv = append(argv,
		"-Dactivemq.home="+activemqHome, "-Dactivemq.base="+d,
		"-Dactivemq.conf="+d+"/conf", "-Dactivemq.data="+d+"/data",
		"-Dactivemq.classpath="+d+"/conf", "-Djava.io.tmpdir="+d+"/data/tmp",
		"-Dlog4j.configuration=file:"+d+"/conf/log4j.properties",
		"-jar", activemqJar, "start", "xbean:file:"+d+"/conf/activemq.xml")
	if err := os.MkdirAll(d+"/data/tmp", 0o755); err != nil {
		return fmt.Errorf("create tmp dir: %w", err)
	}
	if err := l.startProc(b, b.procs[0], "stdout.log", nil, argv); err != nil {
		return err
	}
	return l.waitReady(ctx, b, b.procs, b.checks)
}

// rabbitEnv confines a RabbitMQ node to the broker directory and loopback.
func rabbitEnv(dir string) []string {
	return []string{
		"HOME=" + dir, // the Erlang cookie lives here
		"RABBITMQ_NODENAME=" + rabbitNode,
		"RABBITMQ_USE_LONGNAME=false",
		"RABBITMQ_MNESIA_BASE=" + dir + "/data",
		"RABBITMQ_LOG_BASE=" + dir + "/logs",
		"RABBITMQ_PID_FILE=" + dir + "/rabbitmq.pid",
		"RABBITMQ_CONFIG_FILE=" + dir + "/conf/rabbitmq.conf",
		"RABBITMQ_ADVANCED_CONFIG_FILE=" + dir + "/conf/advanced.config",
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + dir + "/conf/enabled_plugins",
		"RABBITMQ_DIST_PORT=25672",
		"ERL_EPMD_ADDRESS=" + host,
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
	}
}

func (l *Launcher) startRabbitMQ(ctx context.Context, b brokerSpec) error {
	p := b.procs[0]
	pidPath := filepath.Join(b.dir, p.pidFile)
	if _, ok := l.livePID(b, p); !ok {
		_ = os.Remove(pidPath) // stale
		logPath := filepath.Join(b.dir, "logs", "startup.log")
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open log: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		cmd := exec.CommandContext(cctx, rabbitmqServerBin, "-detached")
		cmd.Dir = b.dir
		cmd.Env = append(os.Environ(), rabbitEnv(b.dir)...)
		cmd.Stdout, cmd.Stderr = f, f
		err = cmd.Run()
		cancel()
		f.Close()
		if err != nil {
			return fmt.Errorf("rabbitmq-server -detached: %w", err)
		}
		// The node writes its pid file early in boot.
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
	}
	return l.waitReady(ctx, b, b.procs, b.checks)
}

func (l *Launcher) startKafka(ctx context.Context, b brokerSpec, w *syncWriter) error {
	java, err := l.java(ctx)
	if err != nil {
		return err
	}
	cp, err := l.classpath(ctx, b.dir, "kafka "+KafkaVersion, w)
	if err != nil {
		return err
	}
	d := b.dir
	logCfg := "-Dlog4j2.configurationFile=" + d + "/conf/log4j2.properties"
	if !fileExists(filepath.Join(d, "data", "meta.properties")) {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		out, err := exec.CommandContext(fctx, java, "-Xmx256m", logCfg, "-cp", cp,
			"kafka.tools.StorageTool", "format", "-t", kafkaClusterID, "-c", d+"/conf/server.properties", "--ignore-formatted").CombinedOutput()
		cancel()
		_ = os.WriteFile(filepath.Join(d, "logs", "format.log"), out, 0o644)
		if err != nil {
			return fmt.Errorf("format KRaft storage: %w: %s", err, lastLines(string(out), 10))
		}
	}
	argv := append([]string{java, "-Xms256m", "-Xmx1g"}, jvmCommon()...)
	argv = append(argv, logCfg, "-Dkafka.logs.dir="+d+"/logs", "-cp", cp, "kafka.Kafka", d+"/conf/server.properties")
	if err := l.startProc(b, b.procs[0], "stdout.log", nil, argv); err != nil {
		return err
	}
	return l.waitReady(ctx, b, b.procs, b.checks)
}

func (l *Launcher) startRocketMQ(ctx context.Context, b brokerSpec, w *syncWriter) error {
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

// downOne stops the processes of one broker mqbench started (in reverse
// start order) and waits until its ports are free. With kill it sends
// SIGKILL at once and does not wait for ports.
func (l *Launcher) downOne(ctx context.Context, name string, w *syncWriter, kill bool) error {
	b := l.broker(name)
	stopped := 0
	for i := len(b.procs) - 1; i >= 0; i-- {
		p := b.procs[i]
		pid, ok := l.livePID(b, p)
		if !ok {
			continue
		}
		if err := stopPID(ctx, pid, append(slices.Clone(p.markers), b.dir), l.opts.StopTimeout, kill); err != nil {
			return fmt.Errorf("stop %s (pid %d): %w", p.name, pid, err)
		}
		stopped++
		_ = os.Remove(filepath.Join(b.dir, p.pidFile))
	}
	if kill {
		if stopped == 0 {
			return fmt.Errorf("%s: no process started by mqbench is running", name)
		}
		w.printf("%s: killed", name)
		return nil
	}
	if name == RabbitMQ && stopped > 0 {
		stopEPMD(ctx)
	}
	var ports []int
	for _, c := range b.checks {
		ports = append(ports, c.port)
	}
	ports = append(ports, b.extraPorts...)
	if stopped == 0 {
		if st := l.statusOne(ctx, name, ModeNative); st.Running {
			w.printf("%s: not started by mqbench (no pid file in %s): left running", name, b.dir)
			return nil
		}
		w.printf("%s: not running", name)
		return nil
	}
	if busy := waitPortsFree(ctx, host, ports, 15*time.Second); len(busy) > 0 {
		return fmt.Errorf("stopped, but port %s still answers", joinInts(busy))
	}
	w.printf("%s: stopped", name)
	return nil
}

// stopEPMD stops the Erlang port mapper RabbitMQ started, unless another
// Erlang node still uses it. Best effort, bounded to 10 s.
func stopEPMD(ctx context.Context) {
	epmd, err := exec.LookPath("epmd")
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	env := append(os.Environ(), "ERL_EPMD_ADDRESS="+host)
	names := exec.CommandContext(ctx, epmd, "-names")
	names.Env = env
	out, err := names.Output()
	if err != nil || strings.Contains(string(out), "\nname ") {
		return
	}
	k := exec.CommandContext(ctx, epmd, "-kill")
	k.Env = env
	_ = k.Run()
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
