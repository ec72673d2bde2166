package rocketmq

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

// clusterLauncher returns the launcher of the RocketMQ cluster and its
// address list; the cluster tests run only when MQBENCH_ROCKETMQ_CLUSTER=1.
func clusterLauncher(t *testing.T) (*launch.Launcher, string) {
	t.Helper()
	return launchtest.Cluster(t, launch.RocketMQ, "MQBENCH_ROCKETMQ_CLUSTER")
}

// TestClusterDurability reads back what a SEND_OK promises on the cluster:
// a synchronously flushing master in controller mode that waits for every
// replica of its sync state set, which the controller reports with all
// three replicas.
func TestClusterDurability(t *testing.T) {
	_, addr := clusterLauncher(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := open(ctx, driver.Config{Addr: addr, Profile: driver.Durable, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open %s: %v", addr, err)
	}
	defer d.Close()
	dest := uniqueDest(t, 2, "g")
	provision(t, d, dest)
	du, err := d.Durability(ctx, dest)
	if err != nil {
		t.Fatalf("Durability: %v", err)
	}
	t.Logf("durability: %+v", du)
	for k, want := range map[string]string{"enableControllerMode": "true", "allAckInSyncStateSet": "true",
		"brokerRole": "SYNC_MASTER", "flushDiskType": "SYNC_FLUSH", "minInSyncReplicas": "2", "replicas": "3"} {
		if got := du.Settings[k]; got != want {
			t.Errorf("setting %s = %q, want %q", k, got, want)
		}
	}
	if !du.Synced || !du.Verified || du.Replicas < 2 {
		t.Errorf("durability %+v: want synced, verified and at least 2 replicas", du)
	}
}

// TestClusterMasterKill kills the broker group's master (kill -9) while one
// producer and one consumer of the name-server list are in use: the
// controllers elect another replica, and the same producer and consumer
// carry on through it with every confirmed message delivered.
func TestClusterMasterKill(t *testing.T) {
	l, addr := clusterLauncher(t)
	drivertest.NodeKill(t, drivertest.NodeKillHarness{
		Name: "rocketmq",
		New: func(ctx context.Context) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, Profile: driver.Durable, Logger: testLogger(t)})
		},
		Kill: func(ctx context.Context, _ driver.Destination) (string, error) {
			// Replicas copy the master's topics and groups every few
			// seconds; give them a round before the master goes.
			time.Sleep(4 * time.Second)
			node, err := masterNode(ctx, l)
			if err != nil {
				return "", err
			}
			return node, l.KillNode(ctx, launch.RocketMQ, node)
		},
		Heal: func(ctx context.Context) error { return l.Up(ctx, []string{launch.RocketMQ}, io.Discard) },
		// The controllers elect within seconds; the client library
		// re-reads routes every 30 s.
		Recovery: 2 * time.Minute,
	})
}

// masterNode names the cluster node whose role, as the launcher's status
// reads it from the controllers, is master.
func masterNode(ctx context.Context, l *launch.Launcher) (string, error) {
	sts, err := l.Status(ctx, []string{launch.RocketMQ})
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
