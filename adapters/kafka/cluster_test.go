package kafka

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/compose/launch/launchtest"
)

// clusterLauncher returns the launcher of the Kafka cluster and its
// address list; the cluster tests run only when MQBENCH_KAFKA_CLUSTER=1.
func clusterLauncher(t *testing.T) (*launch.Launcher, string) {
	t.Helper()
	return launchtest.Cluster(t, launch.Kafka, "MQBENCH_KAFKA_CLUSTER")
}

// TestClusterDurability: on the cluster, what a durable confirm promises is
// read back from the broker: three replicas, min.insync.replicas=2, all in
// sync, flush.messages=1, so at least two replicas hold a confirmed
// message.
func TestClusterDurability(t *testing.T) {
	_, addr := clusterLauncher(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := New(ctx, driver.Config{Addr: addr, Profile: driver.Durable, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tt := range []struct {
		name         string
		unreplicated bool
		want         map[string]string
		replicas     int
	}{
		{"replicated", false, map[string]string{"replication.factor": "3", "min.insync.replicas": "2", "in.sync.replicas": "3", "flush.messages": "1", "acks": "all"}, 2},
		// the failover scenario's negative control
		{"unreplicated", true, map[string]string{"replication.factor": "1", "min.insync.replicas": "1", "in.sync.replicas": "1", "flush.messages": "1", "acks": "all"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dest := driver.Destination{Name: uniqueName("mqb-cluster-du"), Groups: []string{"g"}, Partitions: 2, Unreplicated: tt.unreplicated}
			cleanup, err := d.Provision(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup(ctx)
			du, err := d.(driver.DurabilityReader).Durability(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if du.Settings[k] != v {
					t.Errorf("read back %s=%q, want %q (all: %v)", k, du.Settings[k], v, du.Settings)
				}
			}
			if du.Replicas != tt.replicas || !du.Synced || !du.Verified {
				t.Errorf("durability %+v: want %d replicas, synced, verified", du, tt.replicas)
			}
			t.Logf("promise: %s", du.Promise)
		})
	}
}

func TestClusterNodeKill(t *testing.T) {
	l, addr := clusterLauncher(t)
	drivertest.NodeKill(t, drivertest.NodeKillHarness{
		Name: Name,
		New: func(ctx context.Context) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, Profile: driver.Durable, Logger: testLogger(t)})
		},
		Kill: func(ctx context.Context, dest driver.Destination) (string, error) {
			node, err := partitionLeader(ctx, addr, dest.Name)
			if err != nil {
				return "", err
			}
			return node, l.KillNode(ctx, launch.Kafka, node)
		},
		Heal: func(ctx context.Context) error { return l.Up(ctx, []string{launch.Kafka}, io.Discard) },
	})
}

// partitionLeader names the launcher node (node<id>) leading partition 0
// of topic.
func partitionLeader(ctx context.Context, addr, topic string) (string, error) {
	c := &kafkago.Client{Addr: kafkago.TCP(strings.Split(addr, ",")...), Timeout: 10 * time.Second}
	md, err := c.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return "", err
	}
	if len(md.Topics) != 1 || len(md.Topics[0].Partitions) == 0 {
		return "", io.ErrUnexpectedEOF
	}
	return "node" + strconv.Itoa(md.Topics[0].Partitions[0].Leader.ID), nil
}
