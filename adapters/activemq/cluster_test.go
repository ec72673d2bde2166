package activemq

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

// clusterAddr is the STOMP address list of a shared-store master/slave
// group, from MQBENCH_ACTIVEMQ_CLUSTER; the cluster tests skip without it,
// and fail without it when MQBENCH_REQUIRE_CLUSTER=1.
func clusterAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("MQBENCH_ACTIVEMQ_CLUSTER")
	if addr == "" {
		if os.Getenv("MQBENCH_REQUIRE_CLUSTER") == "1" {
			t.Fatal("MQBENCH_REQUIRE_CLUSTER=1 but MQBENCH_ACTIVEMQ_CLUSTER names no cluster")
		}
		t.Skip("set MQBENCH_ACTIVEMQ_CLUSTER to a master/slave group's STOMP address list")
	}
	drivertest.RequireBroker(t, "activemq cluster", addr)
	return addr
}

// liveMaster returns the listed address that accepts connections: the
// master (a slave does not listen).
func liveMaster(t *testing.T, list string) string {
	t.Helper()
	for _, a := range strings.Split(list, ",") {
		if c, err := net.DialTimeout("tcp", a, 2*time.Second); err == nil {
			c.Close()
			return a
		}
	}
	t.Fatalf("no broker of %s listens", list)
	return ""
}

// TestClusterDurability checks that a driver on the list reaches the master
// and says that the listed brokers share one store.
func TestClusterDurability(t *testing.T) {
	addr := clusterAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := New(ctx, driver.Config{Addr: addr, Profile: driver.Durable})
	if err != nil {
		t.Fatalf("New(%s): %v", addr, err)
	}
	defer d.Close()
	du, err := d.(driver.DurabilityReader).Durability(ctx, driver.Destination{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if du.Settings["brokers"] != addr || du.Replicas != 1 || !strings.Contains(du.Promise, "share one store") {
		t.Errorf("durability %+v: want the listed brokers, 1 replica and the shared store named", du)
	}
}

// TestClusterMasterKill kills the master with SIGKILL while one producer and
// one consumer of the address list are in use: the slave takes the store's
// lock and opens its connectors, and the same producer and consumer carry
// on through it with every confirmed message delivered.
func TestClusterMasterKill(t *testing.T) {
	addr := clusterAddr(t)
	drivertest.NodeLoss(t, drivertest.NodeLossHarness{
		Name: "activemq",
		Open: func(ctx context.Context) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, Profile: driver.Durable, OpTimeout: 5 * time.Second})
		},
		Kill: func(ctx context.Context, t *testing.T) string {
			master := liveMaster(t, addr)
			_, port, _ := net.SplitHostPort(master)
			p, _ := strconv.Atoi(port)
			pid, err := drivertest.ListenerPID(p)
			if err != nil {
				t.Fatalf("find the master's process: %v", err)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill %d: %v", pid, err)
			}
			return "master " + master + " pid " + strconv.Itoa(pid)
		},
		Timeout: 90 * time.Second,
	})
}
