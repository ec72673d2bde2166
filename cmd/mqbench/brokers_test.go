package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/mqbench/mqbench/adapters/activemq"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/brokers"
	"github.com/mqbench/mqbench/compose/launch"
)

// TestAdapterAndLaunchTablesAgree: the adapter table (adapters/brokers) and
// the launcher's (compose/launch, which must not import the adapters) are
// two explicit tables joined by name. Every adapter row names the launch
// spec it runs on (its own name, or for a variant such as rabbitmq-stream
// the broker it is a variant of); every launch spec has the adapter of its
// own name; each adapter's default address must be where the launcher makes
// its broker listen; and the CLI's adapter table must mark exactly the real
// adapters as external, each with its launch spec.
func TestAdapterAndLaunchTablesAgree(t *testing.T) {
	var own, all []string
	for _, b := range brokers.Real() {
		all = append(all, b.Name)
		s, ok := launch.Find(b.Launch)
		if !ok {
			t.Errorf("adapter %q runs on %q, which has no launch spec (compose/launch.Specs)", b.Name, b.Launch)
			continue
		}
		if s.Addr() != b.DefaultAddr {
			t.Errorf("%s: the adapter dials %s by default, the launcher listens on %s", b.Name, b.DefaultAddr, s.Addr())
		}
		if b.Variant() {
			if _, ok := launch.Find(b.Name); ok {
				t.Errorf("variant %q has a launch spec of its own: it must run on %q only", b.Name, b.Launch)
			}
			continue
		}
		own = append(own, b.Name)
	}
	// The ActiveMQ adapter reads the journal sync from the MBean and port
	// the launcher's activemq.xml and Jolokia agent serve.
	if activemq.KahaDBSettingsMBean != launch.KahaDBSettingsMBean || activemq.DefaultManagementPort != launch.PortActiveMQJolokia ||
		activemq.DefaultManagementPath != launch.JolokiaPath {
		t.Errorf("activemq adapter reads %s at :%d%s, the launcher serves %s at :%d%s", activemq.KahaDBSettingsMBean, activemq.DefaultManagementPort,
			activemq.DefaultManagementPath, launch.KahaDBSettingsMBean, launch.PortActiveMQJolokia, launch.JolokiaPath)
	}
	launchNames := launch.Names()
	slices.Sort(own)
	slices.Sort(launchNames)
	if !slices.Equal(own, launchNames) {
		t.Errorf("adapters that are not variants %v, launch table %v: want the same brokers", own, launchNames)
	}
	var external []string
	for _, a := range adapters() {
		if a.external {
			external = append(external, a.name)
			if b, ok := brokers.Find(a.name); !ok || a.launch != b.Launch {
				t.Errorf("CLI adapter %q runs on %q, the adapter table says %+v", a.name, a.launch, b)
			}
		}
	}
	slices.Sort(all)
	if !slices.Equal(external, all) {
		t.Errorf("CLI external adapters %v, want the real adapters %v", external, all)
	}
}

// TestVariantNames: a variant runs on its broker for up/down/status, and
// the matrix runs it only when it is named.
func TestVariantNames(t *testing.T) {
	if got := launchNames([]string{"rabbitmq-stream", " Kafka", "rabbitmq"}); !slices.Equal(got, []string{"rabbitmq", "kafka"}) {
		t.Errorf("launchNames = %v, want [rabbitmq kafka]", got)
	}
	all, err := parseMatrixBrokers("all")
	if err != nil || slices.Contains(all, "rabbitmq-stream") || !slices.Equal(all, launch.Names()) {
		t.Errorf("matrix all = %v, %v: want the launch table, without variants", all, err)
	}
	named, err := parseMatrixBrokers("rabbitmq-stream, kafka,rabbitmq-stream")
	if err != nil || !slices.Equal(named, []string{"kafka", "rabbitmq-stream"}) {
		t.Errorf("matrix named = %v, %v: want [kafka rabbitmq-stream]", named, err)
	}
	for _, bad := range []string{"memory", "pulsar", "kafka,,"} {
		if _, err := parseMatrixBrokers(bad); err == nil || !strings.Contains(err.Error(), "unknown broker") {
			t.Errorf("matrix --brokers %q: err %v, want unknown broker", bad, err)
		}
	}
}

func TestParseBrokerArgs(t *testing.T) {
	for _, tc := range []struct {
		cmd      string
		args     []string
		code     int
		done     bool
		names    []string
		mode     launch.Mode
		async    bool
		json     bool
		errHas   string
		start    time.Duration
		stop     time.Duration
		homeWant string
	}{
		{cmd: "up", names: launch.Names(), mode: launch.ModeAuto, start: 3 * time.Minute},
		{cmd: "up", args: []string{"--brokers", "kafka,rocketmq", "--mode", "native", "--async-flush", "--timeout", "90s", "--home", "/tmp/h"},
			names: []string{"kafka", "rocketmq"}, mode: launch.ModeNative, async: true, start: 90 * time.Second, homeWant: "/tmp/h"},
		{cmd: "down", args: []string{"--brokers=rabbitmq", "--timeout=5s"}, names: []string{"rabbitmq"}, mode: launch.ModeAuto, stop: 5 * time.Second},
		{cmd: "up", args: []string{"--brokers", "rabbitmq-stream"}, names: []string{"rabbitmq"}, mode: launch.ModeAuto, start: 3 * time.Minute},
		{cmd: "status", args: []string{"--json", "--mode", "compose"}, names: launch.Names(), mode: launch.ModeCompose, json: true},
		{cmd: "up", args: []string{"--help"}, code: exitOK, done: true, errHas: "usage: mqbench up"},
		{cmd: "status", args: []string{"-h"}, code: exitOK, done: true, errHas: "handshake"},
		{cmd: "up", args: []string{"--brokers", "pulsar"}, code: exitUsage, done: true, errHas: `unknown broker "pulsar"`},
		{cmd: "up", args: []string{"--mode", "podman"}, code: exitUsage, done: true, errHas: "unknown mode"},
		{cmd: "up", args: []string{"--timeout", "0s"}, code: exitUsage, done: true, errHas: "must be positive"},
		{cmd: "up", args: []string{"--nope"}, code: exitUsage, done: true, errHas: "flag provided but not defined"},
		{cmd: "down", args: []string{"--async-flush"}, code: exitUsage, done: true, errHas: "not defined"},
		{cmd: "status", args: []string{"kafka"}, code: exitUsage, done: true, errHas: `unexpected argument "kafka"`},
	} {
		t.Run(tc.cmd+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			a, code, done := parseBrokerArgs(tc.cmd, tc.args, &stdout, &stderr)
			if code != tc.code || done != tc.done {
				t.Fatalf("code=%d done=%v, want %d %v; stderr:\n%s", code, done, tc.code, tc.done, stderr.String())
			}
			if tc.errHas != "" && !strings.Contains(stdout.String()+stderr.String(), tc.errHas) {
				t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", tc.errHas, stdout.String(), stderr.String())
			}
			if tc.code == exitOK && done && !strings.Contains(stdout.String(), "usage: mqbench "+tc.cmd) {
				t.Errorf("help not on stdout: %q", stdout.String())
			}
			if done {
				return
			}
			if !slices.Equal(a.names, tc.names) || a.opts.Mode != tc.mode || a.opts.AsyncFlush != tc.async ||
				a.jsonOutput != tc.json || a.opts.StartTimeout != tc.start || a.opts.StopTimeout != tc.stop || a.opts.Home != tc.homeWant {
				t.Errorf("parsed %+v", a)
			}
		})
	}
}

func TestBrokerCommandsUsageExitCodes(t *testing.T) {
	for _, tc := range []struct {
		fn   func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) int
		args []string
		want int
	}{
		{func(ctx context.Context, a []string, o, e *bytes.Buffer) int { return cmdUp(ctx, a, o, e) }, []string{"--brokers", "x"}, exitUsage},
		{func(ctx context.Context, a []string, o, e *bytes.Buffer) int { return cmdDown(ctx, a, o, e) }, []string{"extra"}, exitUsage},
		{func(ctx context.Context, a []string, o, e *bytes.Buffer) int { return cmdStatus(ctx, a, o, e) }, []string{"--mode=x"}, exitUsage},
		{func(ctx context.Context, a []string, o, e *bytes.Buffer) int { return cmdStatus(ctx, a, o, e) }, []string{"--help"}, exitOK},
	} {
		var o, e bytes.Buffer
		if got := tc.fn(context.Background(), tc.args, &o, &e); got != tc.want {
			t.Errorf("%v: exit %d, want %d (stderr %s)", tc.args, got, tc.want, e.String())
		}
	}
}

// TestDownInEmptyHomeStopsNothing: a state directory without pid files owns
// no process, so down must leave every broker (possibly shared) running.
func TestDownInEmptyHomeStopsNothing(t *testing.T) {
	home := t.TempDir()
	var out, errb bytes.Buffer
	if code := cmdDown(context.Background(), []string{"--mode", "native", "--home", home}, &out, &errb); code != exitOK {
		t.Fatalf("down exit %d: %s", code, errb.String())
	}
	for _, n := range launch.Names() {
		if !strings.Contains(out.String(), n+": not") {
			t.Errorf("down output lacks a line for %s:\n%s", n, out.String())
		}
	}
	if strings.Contains(out.String(), "stopped") {
		t.Errorf("down in an empty state dir stopped something:\n%s", out.String())
	}
}

func TestStatusJSONAndExitCode(t *testing.T) {
	var out, errb bytes.Buffer
	code := cmdStatus(context.Background(), []string{"--mode", "native", "--home", t.TempDir(), "--json"}, &out, &errb)
	var st []launch.Status
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out.String())
	}
	if len(st) != len(launch.Names()) {
		t.Fatalf("status lists %d brokers, want %d", len(st), len(launch.Names()))
	}
	healthy := true
	for _, s := range st {
		healthy = healthy && s.Healthy
		if len(s.Endpoints) == 0 {
			t.Errorf("%s: no endpoints", s.Name)
		}
		// The one port a native broker opens beyond loopback is named.
		notes := strings.Join(s.Notes, "\n")
		if exposed := strings.Contains(notes, "10912"); exposed != (s.Name == launch.RocketMQ) {
			t.Errorf("%s: notes %q: want RocketMQ's HA port 10912 named, and only there", s.Name, notes)
		}
	}
	if want := map[bool]int{true: exitOK, false: exitUnreachable}[healthy]; code != want {
		t.Errorf("exit %d with all healthy=%v, want %d", code, healthy, want)
	}
}

func TestWriteStatusTable(t *testing.T) {
	st := []launch.Status{
		{Name: "kafka", Mode: launch.ModeNative, Managed: true, Running: true, Healthy: true, PIDs: []int{42}, Version: "4.1.1",
			Endpoints: []launch.Endpoint{{Port: 9092, Protocol: "kafka (ApiVersions)", Handshake: launch.Handshake{OK: true, Detail: "ApiVersions: 60 APIs"}}}},
		{Name: "rabbitmq", Mode: launch.ModeNative, Running: true, Healthy: true, Version: "3.10.8",
			Endpoints: []launch.Endpoint{{Port: 5672, Protocol: "amqp-0-9-1", Handshake: launch.Handshake{OK: true}}}},
		{Name: "rocketmq", Mode: launch.ModeNative, Managed: true, PIDs: []int{7}, Detail: "not running: broker", Notes: []string{"port 10912 (HA) listens on every interface"},
			Endpoints: []launch.Endpoint{{Port: 9876, Handshake: launch.Handshake{Detail: "connection refused"}}}},
		{Name: "activemq", Mode: launch.ModeNative,
			Endpoints: []launch.Endpoint{{Port: 61613, Handshake: launch.Handshake{Detail: "refused"}}}},
	}
	var b bytes.Buffer
	writeStatusTable(&b, st)
	out := b.String()
	for _, want := range []string{
		"BROKER", "kafka", "healthy", "4.1.1", "42", "9092",
		"healthy (not started by mqbench)", "unhealthy", "stopped",
		"kafka 9092 kafka (ApiVersions): ok ApiVersions: 60 APIs",
		"rocketmq 9876 : FAIL connection refused", "rocketmq: not running: broker",
		"rocketmq: note: port 10912 (HA) listens on every interface",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
