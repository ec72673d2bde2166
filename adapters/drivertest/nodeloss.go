package drivertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// NodeLossHarness connects the node-loss test to one adapter and one
// replicated cluster.
type NodeLossHarness struct {
	// Name is the adapter name, used in destination names.
	Name string
	// Open opens a Durable driver on the cluster's address list.
	Open func(ctx context.Context) (driver.Driver, error)
	// Kill kills one node of the cluster without warning (SIGKILL), the one
	// that matters most (the master or leader the driver uses), and says
	// which one it killed.
	Kill func(ctx context.Context, t *testing.T) string
	// Timeout bounds the recovery after the kill and the drain. Zero means
	// 120s.
	Timeout time.Duration
}

// NodeLoss opens one producer and one consumer on a destination of its
// own, has batches confirmed, kills a node through h.Kill, and then keeps
// using the same producer and consumer: the producer must have a batch
// confirmed again within h.Timeout (through another node, without being
// reopened), and every message confirmed before, during or after the kill
// must reach the consumer (lost = 0). Sends that failed or whose outcome was
// unknown count as unconfirmed; they may arrive or not, and redeliveries may
// duplicate: both are logged, not failed. No call may block past netBound.
func NodeLoss(t *testing.T, h NodeLossHarness) {
	t.Helper()
	if h.Open == nil || h.Kill == nil {
		t.Fatal("drivertest: NodeLossHarness needs Open and Kill")
	}
	if h.Timeout <= 0 {
		h.Timeout = 120 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*h.Timeout)
	defer cancel()
	p, c := openNodeLossPair(ctx, t, h)
	l := &netLedger{id: "loss-" + randSuffix(), confirmed: map[int]bool{}}
	const batch = 10
	for range 5 {
		if n := l.send(ctx, t, p, batch); n != batch {
			t.Fatalf("baseline: %d of %d confirmed before the kill", n, batch)
		}
	}
	receiveSome(ctx, t, l, c)

	killed := h.Kill(ctx, t)
	t.Logf("killed %s", killed)
	begin := time.Now()
	recovered := false
	for time.Since(begin) < h.Timeout {
		sent := time.Now()
		n := l.send(ctx, t, p, batch)
		if took := time.Since(sent); took > netBound {
			t.Fatalf("Send blocked %v after %s was killed (bound %v)", took, killed, netBound)
		}
		receiveSome(ctx, t, l, c)
		if n == batch {
			recovered = true
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !recovered {
		t.Fatalf("the producer had no batch confirmed within %v after %s was killed", h.Timeout, killed)
	}
	t.Logf("producer confirmed a whole batch again %v after the kill", time.Since(begin).Round(time.Millisecond))
	for range 5 {
		l.send(ctx, t, p, batch)
	}
	drainNetLedger(ctx, t, l, c, "kill "+killed, h.Timeout)
}

// receiveSome receives once for at most a second and acks what came.
func receiveSome(ctx context.Context, t *testing.T, l *netLedger, c driver.Consumer) {
	begin := time.Now()
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	ds, err := c.Receive(rctx, 100)
	cancel()
	if took := time.Since(begin); took > netBound {
		t.Fatalf("Receive blocked %v (bound %v)", took, netBound)
	}
	l.received(t, ds)
	if err == nil && len(ds) > 0 {
		_ = c.Ack(ctx, ds) // may fail across the kill: then they come again
	}
}

// openNodeLossPair opens the driver, provisions a destination and returns a
// producer and a consumer on it, all closed when the test ends.
func openNodeLossPair(ctx context.Context, t *testing.T, h NodeLossHarness) (driver.Producer, driver.Consumer) {
	drv, err := h.Open(ctx)
	if err != nil {
		t.Fatalf("open driver on the cluster: %v", err)
	}
	t.Cleanup(func() { drv.Close() })
	dest := driver.Destination{Name: fmt.Sprintf("mqb-loss-%s-%s", h.Name, randSuffix()), Partitions: 2, Groups: []string{"g"}}
	cleanup, err := drv.Provision(ctx, dest)
	if err != nil {
		t.Fatalf("provision %s: %v", dest.Name, err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
		defer cancel()
		if err := cleanup(cctx); err != nil {
			t.Logf("cleanup %s: %v", dest.Name, err)
		}
	})
	p, err := drv.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatalf("new producer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := drv.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g", Prefetch: 100})
	if err != nil {
		t.Fatalf("new consumer: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return p, c
}

// ListenerPID returns the process that listens on TCP port (IPv4 or IPv6,
// any address), read from /proc: the socket's inode from /proc/net/tcp{,6},
// then the process holding it among /proc/*/fd. Linux only; 0 and an error
// when none does.
func ListenerPID(port int) (int, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			// fields: sl local_address rem_address st ... inode (10th)
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fs[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("no process listens on port %d", port)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			pid, err := strconv.Atoi(strings.Split(fd, "/")[2])
			if err == nil {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("port %d listens, but no process readable here holds the socket", port)
}
