package launch

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseNames(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"", Names(), ""},
		{"all", Names(), ""},
		{"ALL", Names(), ""},
		{"kafka", []string{"kafka"}, ""},
		{"rocketmq, Kafka", []string{"kafka", "rocketmq"}, ""},
		{"kafka,kafka", []string{"kafka"}, ""},
		{"kafka,all", Names(), ""},
		{"kafka,,rabbitmq", nil, "empty broker name"},
		{"pulsar", nil, `unknown broker "pulsar" (valid: activemq, rabbitmq, kafka, rocketmq, artemis, or all)`},
	} {
		got, err := ParseNames(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseNames(%q) error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseNames(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeAuto, "auto": ModeAuto, "Native": ModeNative, "compose": ModeCompose} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMode("docker"); err == nil || !strings.Contains(err.Error(), "valid: auto, compose, native") {
		t.Errorf("ParseMode(docker) error %v", err)
	}
}

func TestNewDefaults(t *testing.T) {
	t.Setenv("MQBENCH_HOME", "rel/home")
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(l.Home()) || !strings.HasSuffix(l.Home(), "rel/home") {
		t.Errorf("Home() = %q, want absolute MQBENCH_HOME", l.Home())
	}
	if l.opts.StartTimeout <= 0 || l.opts.StopTimeout <= 0 || l.opts.Mode != ModeAuto {
		t.Errorf("defaults not applied: %+v", l.opts)
	}
	t.Setenv("MQBENCH_HOME", "")
	if h, err := DefaultHome(); err == nil && !strings.HasSuffix(h, "/mqbench") {
		t.Errorf("DefaultHome() = %q, want <cache>/mqbench", h)
	}
	if _, err := New(Options{Mode: "podman"}); err == nil {
		t.Error("New accepted mode podman")
	}
}

func TestComposeArgs(t *testing.T) {
	got := ComposeArgs("/x/docker-compose.yml", "up", []string{"kafka", "rocketmq"})
	want := []string{"compose", "-f", "/x/docker-compose.yml", "-p", "mqbench", "--profile", "kafka", "--profile", "rocketmq", "up", "-d", "--wait", "--wait-timeout", "300"}
	if !slices.Equal(got, want) {
		t.Errorf("up args %q, want %q", got, want)
	}
	got = ComposeArgs("f.yml", "down", []string{"activemq"})
	if got[len(got)-1] != "down" || slices.Contains(got, "-v") {
		t.Errorf("down args %q: want a plain down that keeps volumes", got)
	}
}

func renderedMap(t *testing.T, name string, async bool) map[string]string {
	t.Helper()
	files, err := brokerFiles(name, "/state/"+name, async)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, f := range files {
		m[f.path] = string(f.data)
	}
	return m
}

func TestBrokerFiles(t *testing.T) {
	for _, tc := range []struct {
		broker string
		async  bool
		file   string
		want   []string
		absent []string
	}{
		{ActiveMQ, false, "conf/activemq.xml", []string{
			`uri="stomp://127.0.0.1:61613?transport.tcpNoDelay=true"`,
			`uri="tcp://127.0.0.1:61616?transport.tcpNoDelay=true"`,
			`journalDiskSyncStrategy="always"`, `persistent="true"`, `<kahaDB xmlns="http://activemq.apache.org/schema/core" id="kahadb" directory="/state/activemq/data/kahadb"`, `persistenceAdapter="#kahadb"`, `dataDirectory="/state/activemq/data"`,
			`<entry key="` + KahaDBSettingsMBean + `" value-ref="kahadb"/>`, "getJournalDiskSyncStrategy,isEnableJournalDiskSyncs",
		}, []string{"{{", "${activemq.data}"}},
		{ActiveMQ, false, "conf/jolokia.properties", []string{"host=127.0.0.1\n", "port=8161\n", "agentContext=/api/jolokia\n",
			"policyLocation=file:///state/activemq/conf/jolokia-access.xml\n"}, nil},
		{ActiveMQ, false, "conf/jolokia-access.xml", []string{"<command>read</command>"}, []string{"<command>write", "<command>exec"}},
		{ActiveMQ, true, "conf/activemq.xml", []string{`journalDiskSyncStrategy="periodic"`}, []string{`"always"`}},
		{ActiveMQ, false, "conf/log4j2.properties", []string{"appender.file.fileName = /state/activemq/logs/activemq.log"}, nil},
		{ActiveMQ, false, "pom.xml", []string{
			"<artifactId>activemq-broker</artifactId><version>" + ActiveMQVersion + "</version>",
			"<artifactId>activemq-parent</artifactId><version>" + ActiveMQVersion + "</version><type>pom</type><scope>import</scope>",
			"activemq-console", "activemq-stomp", "activemq-kahadb-store", "activemq-spring", "spring-context", "log4j-slf4j2-impl",
			"<artifactId>jolokia-agent-jvm</artifactId><version>" + JolokiaVersion + "</version><classifier>javaagent</classifier>",
		}, []string{"{{"}},
		{RabbitMQ, false, "conf/rabbitmq.conf", []string{"listeners.tcp.default = 127.0.0.1:5672", "loopback_users.guest = true"}, nil},
		{Kafka, false, "conf/server.properties", []string{
			"process.roles=broker,controller", "controller.quorum.voters=1@127.0.0.1:9093",
			"listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
			"advertised.listeners=PLAINTEXT://127.0.0.1:9092", "log.dirs=/state/kafka/data",
			"offsets.topic.replication.factor=1", "transaction.state.log.min.isr=1",
			"share.coordinator.state.topic.replication.factor=1", "group.initial.rebalance.delay.ms=0",
		}, nil},
		{Kafka, false, "pom.xml", []string{"<artifactId>kafka_2.13</artifactId><version>" + KafkaVersion + "</version>", "log4j-slf4j2-impl", "<artifactId>reload4j</artifactId>"}, nil},
		{Kafka, false, "conf/log4j2.properties", []string{"appender.file.fileName = /state/kafka/logs/server.log"}, nil},
		{RocketMQ, false, "conf/broker.conf", []string{
			"flushDiskType=SYNC_FLUSH", "brokerIP1=127.0.0.1", "namesrvAddr=127.0.0.1:9876", "listenPort=10911",
			"autoCreateTopicEnable=true", "storePathRootDir=/state/rocketmq/data/store",
			"mappedFileSizeCommitLog=134217728", "diskMaxUsedSpaceRatio=95", "rocketmqHome=/state/rocketmq",
		}, nil},
		{RocketMQ, true, "conf/broker.conf", []string{"flushDiskType=ASYNC_FLUSH"}, []string{"=SYNC_FLUSH"}},
		{RocketMQ, false, "conf/namesrv.conf", []string{"listenPort=9876", "bindAddress=127.0.0.1"}, nil},
		{RocketMQ, false, "conf/broker.logback.xml", []string{"<file>/state/rocketmq/logs/broker.log</file>"}, []string{"HH:mm:ss,"}},
		{Artemis, false, "instance/etc/broker.xml", []string{
			`<acceptor name="stomp">tcp://127.0.0.1:61623?`, `<acceptor name="core">tcp://127.0.0.1:61626?`,
			"<journal-datasync>true<", "<journal-sync-transactional>true<", "<journal-sync-non-transactional>true<",
			"<persistence-enabled>true<", "<security-enabled>false<", "<journal-directory>/state/artemis/data/journal<",
			"<max-delivery-attempts>-1<", "<address-full-policy>PAGE<",
		}, []string{"{{", "0.0.0.0"}},
		{Artemis, true, "instance/etc/broker.xml", []string{"<journal-datasync>true<", "<journal-sync-non-transactional>false<", "<journal-sync-transactional>false<"}, []string{"-transactional>true<"}},
		{Artemis, false, "instance/etc/bootstrap.xml", []string{`<server configuration="file:/state/artemis/instance/etc/broker.xml"/>`}, []string{"<web", "jolokia"}},
		{RocketMQ, false, "pom.xml", []string{"<artifactId>rocketmq-broker</artifactId><version>" + RocketMQVersion + "</version>", "rocketmq-namesrv"}, nil},
	} {
		got, ok := renderedMap(t, tc.broker, tc.async)[tc.file]
		if !ok {
			t.Errorf("%s: no %s rendered", tc.broker, tc.file)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s %s (async=%v) lacks %q:\n%s", tc.broker, tc.file, tc.async, w, got)
			}
		}
		for _, a := range tc.absent {
			if strings.Contains(got, a) {
				t.Errorf("%s %s (async=%v) contains %q", tc.broker, tc.file, tc.async, a)
			}
		}
	}
	if _, err := brokerFiles("pulsar", "/x", false); err == nil {
		t.Error("brokerFiles accepted an unknown broker")
	}
}

func TestDurabilityReadsRenderedConfig(t *testing.T) {
	for _, async := range []bool{false, true} {
		l, err := New(Options{Home: t.TempDir(), Mode: ModeNative, AsyncFlush: async})
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{
			RocketMQ: map[bool]string{false: "flushDiskType=SYNC_FLUSH", true: "flushDiskType=ASYNC_FLUSH"}[async],
			ActiveMQ: map[bool]string{false: "kahadb journal sync always", true: "kahadb journal sync periodic"}[async],
			Artemis: map[bool]string{
				false: "journal-sync-non-transactional=true journal-sync-transactional=true journal-datasync=true",
				true:  "journal-sync-non-transactional=false journal-sync-transactional=false journal-datasync=true",
			}[async],
		} {
			b := l.broker(name)
			if err := l.prepare(b); err != nil {
				t.Fatal(err)
			}
			if got := b.durability(b.dir); got != want || got != b.wantDurability(async) {
				t.Errorf("%s async=%v durability %q, want %q (wantDurability %q)", name, async, got, want, b.wantDurability(async))
			}
		}
	}
}

func TestMissingPackages(t *testing.T) {
	pkgs := []aptPackage{{"/a", "pa"}, {"/b", "pb"}, {"/c", "pa"}}
	have := map[string]bool{"/b": true}
	got := missingPackages(pkgs, func(p string) bool { return have[p] })
	if !slices.Equal(got, []string{"pa"}) {
		t.Errorf("missingPackages = %v, want [pa]", got)
	}
	have["/a"], have["/c"] = true, true
	if got := missingPackages(pkgs, func(p string) bool { return have[p] }); len(got) != 0 {
		t.Errorf("missingPackages = %v, want none", got)
	}
}

func TestJavaMajor(t *testing.T) {
	for out, want := range map[string]int{
		`openjdk version "17.0.13" 2024-10-15`:   17,
		`openjdk version "25" 2025-09-16`:        25,
		`java version "1.8.0_402"`:               8,
		`openjdk version "21.0.2-ea" 2024-01-16`: 21,
		`garbage`:                                0,
	} {
		if got := javaMajor(out); got != want {
			t.Errorf("javaMajor(%q) = %d, want %d", out, got, want)
		}
	}
}

func TestJavaMissingIsClearError(t *testing.T) {
	l, err := New(Options{Home: t.TempDir(), Java: filepath.Join(t.TempDir(), "no-java")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.java(context.Background()); err == nil || !strings.Contains(err.Error(), "-version failed") {
		t.Errorf("java() with a missing binary: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	t.Setenv("JAVA_HOME", "")
	l2, _ := New(Options{Home: t.TempDir()})
	if _, err := l2.java(context.Background()); err == nil || !strings.Contains(err.Error(), "install a Java 17+") {
		t.Errorf("java() without java on PATH: %v", err)
	}
	if _, err := l2.maven(); err == nil || !strings.Contains(err.Error(), "install Maven") {
		t.Errorf("maven() without mvn on PATH: %v", err)
	}
}

func TestClasspathComplete(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jar")
	if err := os.WriteFile(a, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for cp, want := range map[string]bool{
		"":                                    false,
		a:                                     true,
		a + ":" + filepath.Join(dir, "b.jar"): false,
		a + "\n":                              true,
	} {
		if got := classpathComplete(cp); got != want {
			t.Errorf("classpathComplete(%q) = %v, want %v", cp, got, want)
		}
	}
}

func TestTailFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 100 {
		b.WriteString("line ")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString("\n")
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(tailFile(p, 3), "\n")
	if len(got) != 3 || got[2] != "line "+strings.Repeat("x", 99%7) {
		t.Errorf("tailFile = %q", got)
	}
	if tailFile(filepath.Join(t.TempDir(), "missing"), 3) != "" {
		t.Error("tailFile of a missing file is not empty")
	}
}

func TestSpawnStopAndPIDFile(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dir := t.TempDir()
	pidPath := filepath.Join(dir, "x.pid")
	pid, err := spawn(dir, filepath.Join(dir, "logs", "x.log"), pidPath, nil, []string{sleep, "300"})
	if err != nil {
		t.Fatal(err)
	}
	if readPID(pidPath) != pid {
		t.Fatalf("pid file holds %d, want %d", readPID(pidPath), pid)
	}
	// Right after fork the child's command line is still the test's until
	// it execs: wait (bounded) for it to become "sleep 300".
	alive := false
	for deadline := time.Now().Add(10 * time.Second); !alive && time.Now().Before(deadline); {
		if alive = processAlive(pid, []string{"sleep", "300"}); !alive {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !alive {
		t.Fatal("spawned process not alive")
	}
	if processAlive(pid, []string{"kafka.Kafka"}) {
		t.Error("processAlive ignores the command-line markers")
	}
	if err := stopPID(context.Background(), pid, []string{"sleep"}, 10*time.Second, false); err != nil {
		t.Fatal(err)
	}
	if processAlive(pid, []string{"sleep"}) {
		t.Error("process alive after stopPID")
	}
	if processAlive(0, nil) || processAlive(1, []string{"no-such-marker-xyz"}) {
		t.Error("processAlive true for pid 0 or a mismatching pid 1")
	}
}

func TestReadPID(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]int{"123\n": 123, "  42 ": 42, "abc": 0, "": 0, "1": 0, "-5": 0} {
		p := filepath.Join(dir, "p")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := readPID(p); got != want {
			t.Errorf("readPID(%q) = %d, want %d", content, got, want)
		}
	}
	if readPID(filepath.Join(dir, "missing")) != 0 {
		t.Error("readPID of a missing file is not 0")
	}
}

func TestLockIsExclusive(t *testing.T) {
	l, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := l.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := l.lock(ctx); err == nil {
		t.Fatal("second lock succeeded while the first is held")
	}
	unlock()
	unlock2, err := l.lock(context.Background())
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func TestPIDsAndDownWithoutProcesses(t *testing.T) {
	l, err := New(Options{Home: t.TempDir(), Mode: ModeNative})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.PIDs(Kafka); err == nil {
		t.Error("PIDs succeeded with nothing started")
	}
	if _, err := l.PIDs("pulsar"); err == nil {
		t.Error("PIDs accepted an unknown broker")
	}
	if err := l.Kill(context.Background(), Kafka); err == nil {
		t.Error("Kill succeeded with nothing started")
	}
	if _, err := l.Status(context.Background(), []string{"nope"}); err == nil {
		t.Error("Status accepted an unknown broker")
	}
}

// TestFailedStartReportsLogTail: a broker process that dies during start
// ends the wait at once, and the StartError carries its log's last lines.
func TestFailedStartReportsLogTail(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	l, err := New(Options{Home: t.TempDir(), StartTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b := instance{Spec: Spec{
		Name:   "fake",
		procs:  []procSpec{{"fake", "fake.pid", []string{"mqbench-fake-broker"}}},
		checks: []check{{port, "stomp", ProbeSTOMP, false}},
		logs:   []string{"logs/stdout.log"},
	}, dir: filepath.Join(l.Home(), "fake")}
	if err := l.startProc(b, b.procs[0], "stdout.log", nil, []string{sh, "-c", "echo mqbench-fake-broker: cannot bind; sleep 1; exit 1", "mqbench-fake-broker", b.dir}); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.livePID(b, b.procs[0]); !ok {
		t.Fatal("fake broker not seen alive right after start")
	}
	begin := time.Now()
	err = l.waitReady(context.Background(), b, b.procs, b.checks)
	if err == nil || !strings.Contains(err.Error(), "exited during start") {
		t.Fatalf("waitReady = %v, want the process exit reported", err)
	}
	if time.Since(begin) > 30*time.Second {
		t.Errorf("waitReady waited for its full timeout instead of noticing the exit")
	}
	se := &StartError{Broker: "fake", Err: err, LogTail: l.logTail(b)}
	if !strings.Contains(se.Error(), "cannot bind") || !strings.Contains(se.Error(), "fake did not come up") {
		t.Errorf("StartError lacks the log tail:\n%s", se.Error())
	}
}

// TestComposeModeStatus: compose mode probes only the published ports and
// reports no pids (they belong to containers).
func TestComposeModeStatus(t *testing.T) {
	l, err := New(Options{Home: t.TempDir(), Mode: ModeCompose})
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Status(context.Background(), []string{Kafka, RocketMQ})
	if err != nil {
		t.Fatal(err)
	}
	if got := st[0].Ports(); !slices.Equal(got, []int{PortKafka}) {
		t.Errorf("kafka compose ports %v, want [9092]", got)
	}
	if got := st[1].Ports(); !slices.Equal(got, []int{PortRocketMQNamesrv, PortRocketMQBroker}) {
		t.Errorf("rocketmq compose ports %v", got)
	}
	for _, s := range st {
		if s.Mode != ModeCompose || s.Managed || len(s.PIDs) != 0 || s.Durability != "" {
			t.Errorf("compose status %+v: want no pids, not managed", s)
		}
	}
}
