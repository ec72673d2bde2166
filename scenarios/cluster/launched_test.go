package cluster

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// fakeControl is a launcher's node table in memory.
type fakeControl struct {
	mu    sync.Mutex
	nodes []Node
	calls []string
}

func (f *fakeControl) Nodes(context.Context) ([]Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Node(nil), f.nodes...), nil
}

func (f *fakeControl) set(name string, running bool, role string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.nodes {
		if f.nodes[i].Name == name {
			f.nodes[i].Running, f.nodes[i].Role = running, role
		}
	}
}

func (f *fakeControl) do(op, node string, running bool) error {
	f.mu.Lock()
	f.calls = append(f.calls, op+" "+node)
	f.mu.Unlock()
	f.set(node, running, "")
	return nil
}

func (f *fakeControl) Kill(_ context.Context, n string) error  { return f.do("kill", n, false) }
func (f *fakeControl) Stop(_ context.Context, n string) error  { return f.do("stop", n, false) }
func (f *fakeControl) Start(_ context.Context, n string) error { return f.do("start", n, true) }

// fakeReplicas answers what a broker's metadata would.
type fakeReplicas struct {
	mu     sync.Mutex
	leader string
	isr    []string
	err    error
}

func (f *fakeReplicas) Replicas(context.Context, driver.Destination) (string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader, append([]string(nil), f.isr...), f.err
}

func threeNodes() *fakeControl {
	return &fakeControl{nodes: []Node{
		{Name: "node1", Addr: "127.0.0.1:19192", Running: true},
		{Name: "node2", Addr: "127.0.0.1:19193", Running: true, Role: RoleLeader},
		{Name: "node3", Addr: "127.0.0.1:19194", Running: true},
	}}
}

// TestLaunchedLeader: the broker's leader address names a node (by port
// on loopback); without a replica reader the launcher's role decides.
func TestLaunchedLeader(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		rr      driver.ReplicaReader
		want    string
		wantErr string
	}{
		{"metadata, advertised as localhost", &fakeReplicas{leader: "localhost:19194"}, "node3", ""},
		{"metadata names no node", &fakeReplicas{leader: "127.0.0.1:9999"}, "", "no node's client address"},
		{"metadata fails", &fakeReplicas{err: errors.New("leader not available")}, "", "leader not available"},
		{"launcher role", nil, "node2", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Launched(threeNodes(), tt.rr)
			got, err := c.Leader(ctx, driver.Destination{Name: "d"})
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("leader %q, %v; want %q, %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestLaunchedWaitInSync: a restarted node is in sync once the broker
// lists it among the in-sync replicas; until then WaitInSync waits, and
// gives up with ctx.
func TestLaunchedWaitInSync(t *testing.T) {
	ctl := threeNodes()
	rr := &fakeReplicas{leader: "127.0.0.1:19193", isr: []string{"127.0.0.1:19193", "127.0.0.1:19194"}}
	c := Launched(ctl, rr)
	ctx := context.Background()
	if err := c.Kill(ctx, "node1"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 3*PollEvery)
	err := c.WaitInSync(short, "node1", driver.Destination{Name: "d"})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait on a dead node: %v, want the deadline", err)
	}
	_ = c.Start(ctx, "node1")
	done := make(chan error, 1)
	go func() { done <- c.WaitInSync(ctx, "node1", driver.Destination{Name: "d"}) }()
	select {
	case err := <-done:
		t.Fatalf("in sync before the broker said so: %v", err)
	case <-time.After(2 * PollEvery):
	}
	rr.mu.Lock()
	rr.isr = append(rr.isr, "localhost:19192")
	rr.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := c.WaitInSync(ctx, "node9", driver.Destination{}); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("unknown node: %v", err)
	}
	if got := strings.Join(ctl.calls, ","); got != "kill node1,start node1" {
		t.Fatalf("calls %s", got)
	}
}

// TestLaunchedStandbys: the broker's in-sync replicas other than its
// leader, running; without a replica reader, the running followers (a
// node without a role, such as a name server, is none).
func TestLaunchedStandbys(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		rr    *fakeReplicas
		roles map[string]string
		down  string
		want  string
	}{
		{"replica reader", &fakeReplicas{leader: "127.0.0.1:19193", isr: []string{"127.0.0.1:19192", "127.0.0.1:19193", "127.0.0.1:19194"}}, nil, "", "node1,node3"},
		{"replica reader, one down", &fakeReplicas{leader: "127.0.0.1:19193", isr: []string{"127.0.0.1:19192", "127.0.0.1:19193", "127.0.0.1:19194"}}, nil, "node3", "node1"},
		{"replica reader, out of sync", &fakeReplicas{leader: "localhost:19193", isr: []string{"localhost:19193"}}, nil, "", ""},
		{"roles", nil, map[string]string{"node1": RoleFollower, "node2": RoleLeader, "node3": ""}, "", "node1"},
		{"roles, follower down", nil, map[string]string{"node1": RoleFollower, "node2": RoleLeader, "node3": RoleFollower}, "node1", "node3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctl := threeNodes()
			for n, role := range tt.roles {
				ctl.set(n, true, role)
			}
			if tt.down != "" {
				ctl.set(tt.down, false, RoleDown)
			}
			var rr driver.ReplicaReader
			if tt.rr != nil {
				rr = tt.rr
			}
			got, err := Launched(ctl, rr).Standbys(ctx, driver.Destination{Name: "d"})
			if err != nil || strings.Join(got, ",") != tt.want {
				t.Fatalf("Standbys = %v, %v; want %q", got, err, tt.want)
			}
		})
	}
	_, err := Launched(threeNodes(), &fakeReplicas{err: errors.New("metadata timeout")}).Standbys(ctx, driver.Destination{Name: "d"})
	if err == nil || !strings.Contains(err.Error(), "metadata timeout") {
		t.Fatalf("err %v, want the broker's error", err)
	}
}

// TestLaunchedSyncing: without a replica reader, a running replica the
// launcher reports as still catching up is not in sync until it is a
// follower.
func TestLaunchedSyncing(t *testing.T) {
	ctl := threeNodes()
	ctl.set("node1", true, RoleSyncing)
	l := Launched(ctl, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*PollEvery)
	defer cancel()
	if err := l.WaitInSync(ctx, "node1", driver.Destination{Name: "d"}); err == nil {
		t.Fatal("a syncing node counted as in sync")
	}
	ctl.set("node1", true, RoleFollower)
	if err := l.WaitInSync(context.Background(), "node1", driver.Destination{Name: "d"}); err != nil {
		t.Fatalf("a follower: %v", err)
	}
}
