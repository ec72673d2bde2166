package drivertest

import (
	"context"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// NodeKillHarness connects NodeKill to a replicated cluster of one broker.
type NodeKillHarness struct {
	// Name is the adapter name, used in destination names.
	Name string
	// New opens a durable driver on the cluster (every node listed in its
	// address).
	New func(ctx context.Context) (driver.Driver, error)
	// Kill kills one node of the cluster with SIGKILL, preferably the one
	// that hurts most for dest (the node leading it, or the one the
	// clients are connected to), and returns its name.
	Kill func(ctx context.Context, dest driver.Destination) (string, error)
	// Heal starts the killed node again; it runs when the test ends, also
	// after a failure.
	Heal func(ctx context.Context) error
	// Recovery bounds how long the producer and the consumer may take to
	// carry on after the kill, and the final drain. Zero means 3 minutes.
	Recovery time.Duration
}

// nodeKillBatch is the size of each Send of NodeKill.
const nodeKillBatch = 20

// NodeKill checks that one producer and one consumer, opened once on a
// cluster, carry on through the surviving nodes after one node is killed
// (kill -9), without being reopened: sends after the kill are confirmed
// again, messages sent after the kill are delivered, and no confirmed
// message is lost (a send whose outcome the cut left unknown counts as
// unconfirmed; it may or may not arrive). Duplicates are logged, not
// failed: at-least-once delivery allows them.
func NodeKill(t *testing.T, h NodeKillHarness) {
	recovery := h.Recovery
	if recovery <= 0 {
		recovery = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*recovery+2*time.Minute)
	defer cancel()
	d, err := h.New(ctx)
	if err != nil {
		t.Fatalf("open driver: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	s := &suite{h: Harness{Name: h.Name}}
	dest := s.newDest("nodekill", 1, 1)
	s.provision(t, d, dest)
	p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatalf("new producer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: dest.Groups[0], Prefetch: 100})
	if err != nil {
		t.Fatalf("new consumer: %v", err)
	}
	t.Cleanup(func() { c.Close() })

	l := &netLedger{id: randSuffix(), confirmed: map[int]bool{}}
	for range 5 {
		if n := l.send(ctx, t, p, nodeKillBatch); n != nodeKillBatch {
			t.Fatalf("before the kill: %d of %d sends confirmed", n, nodeKillBatch)
		}
	}
	receiveSome(ctx, t, l, c)
	node, err := h.Kill(ctx, dest)
	if err != nil {
		t.Fatalf("kill a node: %v", err)
	}
	t.Cleanup(func() {
		hctx, hcancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer hcancel()
		if err := h.Heal(hctx); err != nil {
			t.Errorf("restart node %s: %v", node, err)
		}
	})
	t.Logf("killed %s after %d messages", node, l.sent)
	firstAfter := l.sent
	recovered, deadline := 0, time.Now().Add(recovery)
	for recovered < 5 && time.Now().Before(deadline) {
		if n := l.send(ctx, t, p, nodeKillBatch); n == nodeKillBatch {
			recovered++
		} else {
			recovered = 0
		}
		receiveSome(ctx, t, l, c)
	}
	if recovered < 5 {
		t.Fatalf("the producer did not recover within %v of killing %s: %d messages sent, %d confirmed", recovery, node, l.sent, len(l.confirmed))
	}
	drainNetLedger(ctx, t, l, c, "kill "+node, recovery, func() string { return queueDepth(ctx, d, dest, dest.Groups[0]) })
	after := 0
	for i := range l.seen {
		if i >= firstAfter && l.confirmed[i] {
			after++
		}
	}
	if after == 0 {
		t.Fatalf("the consumer received none of the messages confirmed after killing %s", node)
	}
	t.Logf("kill %s: %d confirmed messages sent after the kill delivered to the same consumer", node, after)
}

// receiveSome receives once (bounded to a second) and acks what came.
func receiveSome(ctx context.Context, t *testing.T, l *netLedger, c driver.Consumer) {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	ds, err := c.Receive(rctx, 100)
	cancel()
	if err != nil {
		return // the consumer reconnects; the caller's deadline bounds the wait
	}
	l.received(t, ds)
	if err := c.Ack(ctx, ds); err != nil {
		t.Logf("ack: %v (they may come again)", err)
	}
}
