package activemq

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/compose/launch/launchtest"
)

// clusterLauncher returns the launcher of the ActiveMQ cluster and its
// address list; the cluster tests run only when MQBENCH_ACTIVEMQ_CLUSTER=1.
func clusterLauncher(t *testing.T) (*launch.Launcher, string) {
	t.Helper()
	return launchtest.Cluster(t, launch.ActiveMQ, "MQBENCH_ACTIVEMQ_CLUSTER")
}

// TestClusterDurability: a driver on the list reaches the master, and its
// promise names the listed brokers and their one shared store; with the
// launcher's management URLs (one Jolokia agent per node) the journal sync
// is read back from the master, without them nothing is read.
func TestClusterDurability(t *testing.T) {
	l, addr := clusterLauncher(t)
	mgmt, err := l.ManagementURL(launch.ActiveMQ)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mgmt       string
		verified         bool
		promise, sources string
	}{
		{"each node's agent", mgmt, true, "journalDiskSyncStrategy=always", "Jolokia (http://127.0.0.1:6266"},
		{"no management URL", "", false, "needs --management", "no management URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d, err := New(ctx, driver.Config{Addr: addr, Profile: driver.Durable, ManagementURL: tc.mgmt})
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
			if du.Verified != tc.verified || du.Synced != tc.verified || !strings.Contains(du.Promise, tc.promise) || !strings.Contains(du.Source, tc.sources) {
				t.Errorf("durability %+v: want verified and synced %v, the promise with %q, the source with %q", du, tc.verified, tc.promise, tc.sources)
			}
		})
	}
}

// TestClusterMasterKill kills the master (kill -9) while one producer and
// one consumer of the address list are in use: the slave takes the store's
// lock and opens its connectors, and the same producer and consumer carry
// on through it with every confirmed message delivered.
func TestClusterMasterKill(t *testing.T) {
	l, addr := clusterLauncher(t)
	drivertest.NodeKill(t, drivertest.NodeKillHarness{
		Name: Name,
		New: func(ctx context.Context) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, Profile: driver.Durable, OpTimeout: 5 * time.Second})
		},
		Kill: func(ctx context.Context, _ driver.Destination) (string, error) {
			node, err := masterNode(ctx, l)
			if err != nil {
				return "", err
			}
			return node, l.KillNode(ctx, launch.ActiveMQ, node)
		},
		Heal:     func(ctx context.Context) error { return l.Up(ctx, []string{launch.ActiveMQ}, io.Discard) },
		Recovery: time.Minute,
	})
}

// masterNode names the node whose role, as the launcher's status reads it
// (the one whose STOMP port answers), is master.
func masterNode(ctx context.Context, l *launch.Launcher) (string, error) {
	sts, err := l.Status(ctx, []string{launch.ActiveMQ})
	if err != nil {
		return "", err
	}
	var roles []string
	for _, st := range sts {
		for _, n := range st.Nodes {
			if strings.HasPrefix(n.Role, "master") {
				return n.Name, nil
			}
			roles = append(roles, n.Name+"="+strconv.Quote(n.Role))
		}
	}
	return "", fmt.Errorf("no node is master: %s", strings.Join(roles, ", "))
}
