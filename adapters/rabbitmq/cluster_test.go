package rabbitmq

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/compose/launch/launchtest"
)

// clusterLauncher returns the launcher of the RabbitMQ cluster and its
// address list; the cluster tests run only when MQBENCH_RABBITMQ_CLUSTER=1.
func clusterLauncher(t *testing.T) (*launch.Launcher, string) {
	t.Helper()
	return launchtest.Cluster(t, launch.RabbitMQ, "MQBENCH_RABBITMQ_CLUSTER")
}

// TestClusterDurability: on a cluster the durable profile declares quorum
// queues, and the broker's acceptance of the quorum redeclare plus the
// members read from the management API are the reading; the fast profile
// keeps classic queues.
func TestClusterDurability(t *testing.T) {
	l, addr := clusterLauncher(t)
	mgmt, err := l.ManagementURL(launch.RabbitMQ)
	if err != nil || mgmt == "" {
		t.Fatalf("the cluster's management URLs: %q, %v", mgmt, err)
	}
	for _, tc := range []struct {
		name         string
		profile      driver.Profile
		unreplicated bool // the failover scenario's negative control
		qtype        string
	}{
		{"durable", driver.Durable, false, "quorum"},
		{"fast", driver.Fast, false, "classic (none declared)"},
		{"durable unreplicated", driver.Durable, true, "classic (none declared)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			d, err := New(ctx, driver.Config{Addr: addr, Profile: tc.profile, ManagementURL: mgmt})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			dest := driver.Destination{Name: "mqbt-cluster-du-" + string(tc.profile) + "-" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""), Groups: []string{"g1", "g2"}, Unreplicated: tc.unreplicated}
			cleanup, err := d.Provision(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup(ctx)
			du, err := d.(driver.DurabilityReader).Durability(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			if du.Settings["x-queue-type"] != tc.qtype {
				t.Fatalf("x-queue-type %q, want %q (%+v)", du.Settings["x-queue-type"], tc.qtype, du)
			}
			if tc.qtype == "quorum" && (du.Replicas != 2 || !du.Synced || !du.Verified || !strings.HasPrefix(du.Settings["members"], "3 per queue")) {
				t.Fatalf("durable on 3 nodes: %+v, want 3 members read back, 2 replicas, synced, verified", du)
			}
			t.Logf("%s: %s", tc.profile, du.Promise)
		})
	}
}

// TestClusterNodeKill kills node1 (kill -9), where the clients connect
// first and where the quorum queue's leader was declared: the same
// producer and consumer reconnect to another node and carry on, and no
// confirmed message is lost.
func TestClusterNodeKill(t *testing.T) {
	l, addr := clusterLauncher(t)
	drivertest.NodeKill(t, drivertest.NodeKillHarness{
		Name: Name,
		New: func(ctx context.Context) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, Profile: driver.Durable})
		},
		Kill: func(ctx context.Context, _ driver.Destination) (string, error) {
			return "node1", l.KillNode(ctx, launch.RabbitMQ, "node1")
		},
		Heal: func(ctx context.Context) error { return l.Up(ctx, []string{launch.RabbitMQ}, io.Discard) },
	})
}
