// Package launchtest gives the adapters' cluster tests the replicated
// cluster that `mqbench up --topology cluster` started.
package launchtest

import (
	"os"
	"testing"

	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/compose/launch"
)

// Cluster returns the native launcher of broker's cluster, started by
// `mqbench up --topology cluster --brokers <broker>` in $MQBENCH_HOME, and
// its address list (what the adapter dials: RocketMQ's name servers). The
// tests it guards run only when the environment variable on is "1" (they
// kill nodes), and are skipped otherwise, saying how to run them. A
// cluster no node of which answers fails the test under
// MQBENCH_REQUIRE_BROKERS=1 and skips it otherwise (drivertest.RequireBroker).
func Cluster(t *testing.T, broker, on string) (*launch.Launcher, string) {
	t.Helper()
	if os.Getenv(on) != "1" {
		t.Skipf("set %s=1 with the cluster of `mqbench up --topology cluster --brokers %s` in $MQBENCH_HOME", on, broker)
	}
	l, err := launch.New(launch.Options{Topology: launch.TopologyCluster, Mode: launch.ModeNative})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := l.Addr(broker)
	if err != nil {
		t.Fatal(err)
	}
	drivertest.RequireBroker(t, broker, addr)
	return l, addr
}
