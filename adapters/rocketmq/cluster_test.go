package rocketmq

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
)

// clusterAddr is the name-server list of a replicated RocketMQ cluster
// (controller mode, one broker group of three replicas), from
// MQBENCH_ROCKETMQ_CLUSTER; the cluster tests skip without it, and fail
// without it under MQBENCH_REQUIRE_BROKERS=1 only when
// MQBENCH_REQUIRE_CLUSTER=1 (CI brings a cluster up for them alone).
func clusterAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("MQBENCH_ROCKETMQ_CLUSTER")
	if addr == "" {
		if os.Getenv("MQBENCH_REQUIRE_CLUSTER") == "1" {
			t.Fatal("MQBENCH_REQUIRE_CLUSTER=1 but MQBENCH_ROCKETMQ_CLUSTER names no cluster")
		}
		t.Skip("set MQBENCH_ROCKETMQ_CLUSTER to a replicated cluster's name-server list")
	}
	drivertest.RequireBroker(t, "rocketmq cluster", addr)
	return addr
}

func openCluster(ctx context.Context, t *testing.T, addr string) *Driver {
	t.Helper()
	d, err := open(ctx, driver.Config{Addr: addr, Profile: driver.Durable, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open %s: %v", addr, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestClusterDurability reads back what a SEND_OK promises on the cluster:
// a synchronously flushing master in controller mode that waits for every
// replica of its sync state set, which holds more than one replica.
func TestClusterDurability(t *testing.T) {
	addr := clusterAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := openCluster(ctx, t, addr)
	dest := uniqueDest(t, 2, "g")
	provision(t, d, dest)
	du, err := d.Durability(ctx, dest)
	if err != nil {
		t.Fatalf("Durability: %v", err)
	}
	t.Logf("durability: %+v", du)
	for k, want := range map[string]string{"enableControllerMode": "true", "allAckInSyncStateSet": "true",
		"brokerRole": "SYNC_MASTER", "flushDiskType": "SYNC_FLUSH"} {
		if got := du.Settings[k]; got != want {
			t.Errorf("setting %s = %q, want %q", k, got, want)
		}
	}
	if !du.Synced || !du.Verified || du.Replicas < 2 {
		t.Errorf("durability %+v: want synced, verified and at least 2 replicas", du)
	}
	if n, _ := strconv.Atoi(du.Settings["replicas"]); n != 3 {
		t.Errorf("the controller lists %q replicas, want 3", du.Settings["replicas"])
	}
}

// TestClusterMasterKill kills the broker group's master with SIGKILL while
// one producer and one consumer of the name-server list are in use: the
// controller elects another replica, and the same producer and consumer
// carry on through it with every confirmed message delivered.
func TestClusterMasterKill(t *testing.T) {
	addr := clusterAddr(t)
	drivertest.NodeLoss(t, drivertest.NodeLossHarness{
		Name: "rocketmq",
		Open: func(ctx context.Context) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, Profile: driver.Durable, Logger: testLogger(t)})
		},
		Kill: func(ctx context.Context, t *testing.T) string {
			d := openCluster(ctx, t, addr)
			masters := d.masters()
			if len(masters) != 1 {
				t.Fatalf("want one broker group, the name servers list %d", len(masters))
			}
			// Replicas copy the master's topics and groups every few
			// seconds; give them one round before the master goes.
			time.Sleep(4 * time.Second)
			return killListener(t, masters[0].addr)
		},
		Timeout: 120 * time.Second,
	})
}

// killListener sends SIGKILL to the process listening on addr's port.
func killListener(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	p, _ := strconv.Atoi(port)
	pid, err := drivertest.ListenerPID(p)
	if err != nil {
		t.Fatalf("find the process of %s: %v", addr, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
	return strings.Join([]string{"master", addr, "pid", strconv.Itoa(pid)}, " ")
}
