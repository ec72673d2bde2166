package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTopologyFlags: --topology and address lists are checked before
// anything connects or starts, with one line naming the problem and exit 2.
func TestTopologyFlags(t *testing.T) {
	dir := t.TempDir()
	wl := filepath.Join(dir, "w.yaml")
	if err := os.WriteFile(wl, []byte("addr: 127.0.0.1:1,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--topology", "ring"}, `unknown topology "ring"`},
		{[]string{"up", "--topology", "cluster", "--brokers", "nosuch"}, `unknown broker "nosuch"`},
		{[]string{"matrix", "--topology", "mesh"}, `unknown topology "mesh"`},
		{[]string{"matrix", "--brokers", "kafka,rabbitmq", "--addr", "127.0.0.1:1"}, "exactly one broker"},
		{[]string{"matrix", "--brokers", "kafka", "--addr", "127.0.0.1:1,nohost"}, "invalid --addr"},
		{[]string{"run", "--broker", "kafka", "--scenario", "pubsub", "--topology", "x"}, `unknown topology "x"`},
		{[]string{"run", "--broker", "kafka", "--scenario", "pubsub", "--addr", "127.0.0.1:1,127.0.0.1:99999"}, "invalid --addr"},
		{[]string{"run", "--broker", "rabbitmq", "--scenario", "pubsub", "--workload", wl}, "invalid --addr"},
		{[]string{"run", "--broker", "memory", "--scenario", "pubsub", "--addr", "127.0.0.1:1,127.0.0.1:2"}, "does not apply"},
	} {
		code, _, errs := runCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestTopologyOf(t *testing.T) {
	ext := adapter{name: "kafka", external: true}
	for _, tc := range []struct {
		s    runSpec
		want string
	}{
		{runSpec{adapter: adapter{name: "memory"}}, ""},
		{runSpec{adapter: ext}, "single"},
		{runSpec{adapter: ext, topology: "cluster", addr: "127.0.0.1:29092,127.0.0.1:29093"}, "cluster"},
		{runSpec{adapter: ext, topology: "single", addr: "h1:1,h2:2"}, "cluster"},
		{runSpec{adapter: ext, topology: "single", addr: "h1:1"}, "single"},
	} {
		if got := topologyOf(tc.s); got != tc.want {
			t.Errorf("topologyOf(%q, %q) = %q, want %q", tc.s.topology, tc.s.addr, got, tc.want)
		}
	}
}
