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
)

// RabbitMQ is RabbitMQ from the Debian package, run as a node of its own
// whose state lives in the state directory.
const RabbitMQ = "rabbitmq"

// RabbitMQ ports: AMQP (the same in native and compose mode), the Erlang
// distribution port and epmd's.
const (
	PortRabbitMQ     = 5672
	portRabbitMQDist = 25672
	portEPMD         = 4369
)

// rabbitmqServerBin is the Debian package's server script (the /usr/sbin
// wrapper switches to the rabbitmq user, which cannot write a state
// directory under a home directory).
const rabbitmqServerBin = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// rabbitNode is the Erlang node name: @localhost always resolves, so the
// machine's short hostname need not be in /etc/hosts.
const rabbitNode = "mqbench@localhost"

func rabbitmqSpec() Spec {
	return Spec{
		Name: RabbitMQ, Title: "RabbitMQ", ClientPort: PortRabbitMQ,
		procs:      []procSpec{{"rabbitmq", "rabbitmq.pid", []string{"beam", "rabbit"}}},
		checks:     []check{{PortRabbitMQ, "amqp-0-9-1", ProbeAMQP, false}},
		extraPorts: []int{portRabbitMQDist},
		binds: []bind{
			{port: PortRabbitMQ, role: "AMQP", file: "conf/rabbitmq.conf", setting: regexp.MustCompile(`(?m)^listeners\.tcp\.default\s*=\s*([^:\s]+):`)},
			{port: portRabbitMQDist, role: "Erlang distribution", file: envFile, setting: regexp.MustCompile(`inet_dist_use_interface (\{[0-9,]+\})`)},
			{port: portEPMD, role: "epmd", file: envFile, setting: regexp.MustCompile(`(?m)^ERL_EPMD_ADDRESS=(\S+)$`)},
		},
		logs: []string{"logs/" + rabbitNode + ".log", "logs/startup.log"},
		apt:  []aptPackage{{rabbitmqServerBin, "rabbitmq-server"}},
		files: func(string, bool) []configFile {
			return []configFile{
				{tmpl: "rabbitmq.conf", path: "conf/rabbitmq.conf", data: map[string]any{
					"Host": host, "Port": PortRabbitMQ, "MemoryHighWatermark": "2GiB", "DiskFreeLimit": "1GB", "ManagementPort": 0,
				}},
				{path: "conf/enabled_plugins", raw: []byte("[].\n")},
			}
		},
		env:            rabbitEnv,
		start:          startRabbitMQ,
		afterStop:      stopEPMD,
		durability:     func(string) string { return "persistent + confirms fsync" },
		wantDurability: func(bool) string { return "" },
		cluster:        rabbitmqClusterSpec,
	}
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
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(portRabbitMQDist),
		"ERL_EPMD_ADDRESS=" + host,
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {" + strings.ReplaceAll(host, ".", ",") + "}",
	}
}

func startRabbitMQ(ctx context.Context, l *Launcher, b instance, _ *syncWriter) error {
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
		cmd.Env = append(os.Environ(), b.env(b.dir)...)
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
