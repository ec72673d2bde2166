package launch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// Kafka is Apache Kafka in KRaft mode (one process, broker and controller),
// from Maven Central jars.
const Kafka = "kafka"

// KafkaVersion is the release native mode runs; the compose file pins the
// same.
const KafkaVersion = "4.4.0"

// Kafka ports: the client listener (the same in native and compose mode) and
// the KRaft controller (native mode only).
const (
	PortKafka           = 9092
	PortKafkaController = 9093
)

// kafkaClusterID is the fixed KRaft cluster id (base64url of
// "mqbench-kafka-01").
const kafkaClusterID = "bXFiZW5jaC1rYWZrYS0wMQ"

var kafkaJarRe = regexp.MustCompile(`kafka_2\.1[0-9]-([0-9][0-9A-Za-z.\-]*)\.jar`)

func kafkaSpec() Spec {
	listener := func(name string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^listeners=.*\b` + name + `://([^:,\s]+):`)
	}
	return Spec{
		Name: Kafka, Title: "Kafka", Version: KafkaVersion, ClientPort: PortKafka,
		procs: []procSpec{{"kafka", "kafka.pid", []string{"kafka.Kafka"}}},
		checks: []check{
			{PortKafka, "kafka (ApiVersions)", ProbeKafka, false},
			{PortKafkaController, "kafka controller (ApiVersions)", ProbeKafka, true},
		},
		binds: []bind{
			{port: PortKafka, role: "client listener", file: "conf/server.properties", setting: listener("PLAINTEXT")},
			{port: PortKafkaController, role: "KRaft controller", file: "conf/server.properties", setting: listener("CONTROLLER")},
			{role: "advertised listener", file: "conf/server.properties", setting: regexp.MustCompile(`(?m)^advertised\.listeners=PLAINTEXT://([^:,\s]+):`)},
			{role: "controller quorum voter", file: "conf/server.properties", setting: regexp.MustCompile(`(?m)^controller\.quorum\.voters=1@([^:,\s]+):`)},
		},
		logs:  []string{"logs/server.log", "logs/stdout.log", "logs/format.log"},
		java:  true,
		maven: true,
		files: func(dir string, _ bool) []configFile {
			return []configFile{
				{tmpl: "kafka-pom.xml", path: "pom.xml", data: map[string]any{"Version": KafkaVersion}},
				{tmpl: "kafka-server.properties", path: "conf/server.properties", data: map[string]any{
					"Host": host, "Port": PortKafka, "ControllerPort": PortKafkaController, "DataDir": dir + "/data",
				}},
				{tmpl: "kafka-log4j2.properties", path: "conf/log4j2.properties", data: map[string]any{"LogFile": dir + "/logs/server.log"}},
			}
		},
		start: startKafka,
		durability: func(string) string {
			return "per topic: the durable profile creates topics with flush.messages=1 (broker default: page cache)"
		},
		wantDurability: func(bool) string { return "" },
		version:        kafkaVersionOf,
		cluster:        kafkaClusterSpec,
	}
}

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

func startKafka(ctx context.Context, l *Launcher, b instance, w *syncWriter) error {
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
