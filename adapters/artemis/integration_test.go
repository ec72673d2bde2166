package artemis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
)

// open connects to the broker under test (skipping or failing per
// drivertest.RequireBroker) and provisions a fresh destination with one
// group; the test ends with the driver closed.
func open(t *testing.T, profile driver.Profile) (*Driver, driver.Destination, func(context.Context) error) {
	t.Helper()
	drivertest.RequireBroker(t, Name, testAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := New(ctx, driver.Config{Addr: testAddr(), Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	var b [4]byte
	_, _ = rand.Read(b[:])
	dest := driver.Destination{Name: "mqbt-artemis-it-" + hex.EncodeToString(b[:]), Groups: []string{"g"}}
	cleanup, err := d.Provision(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	return d.(*Driver), dest, cleanup
}

// TestNackCopyIsRedelivered: Nack re-queues a copy (Artemis's STOMP NACK
// would discard the message), which comes back with the same body and key,
// flagged redelivered, and the original is gone.
func TestNackCopyIsRedelivered(t *testing.T) {
	d, dest, cleanup := open(t, driver.Durable)
	defer cleanup(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := p.Send(ctx, []driver.Message{{Key: []byte{0xff, 0}, Body: []byte("once")}}); err != nil {
		t.Fatal(err)
	}
	first, err := c.Receive(ctx, 1)
	if err != nil || len(first) != 1 || first[0].Redelivered {
		t.Fatalf("first delivery %+v, %v", first, err)
	}
	if err := c.Nack(ctx, first); err != nil {
		t.Fatal(err)
	}
	again, err := c.Receive(ctx, 1)
	if err != nil || len(again) != 1 {
		t.Fatalf("after Nack: %+v, %v", again, err)
	}
	if g := again[0]; string(g.Body) != "once" || string(g.Key) != "\xff\x00" || !g.Redelivered {
		t.Fatalf("re-queued copy body %q key %q redelivered %v", g.Body, g.Key, g.Redelivered)
	}
	if err := c.Ack(ctx, again); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Depth(ctx, dest, "g"); err != nil || n != 0 {
		t.Fatalf("depth after ack = %d, %v; want 0 (the original must not stay behind)", n, err)
	}
}

// TestCleanupDestroysQueues: the cleanup Provision returns destroys the
// group queues on the broker, so reading their depth fails afterwards.
func TestCleanupDestroysQueues(t *testing.T) {
	d, dest, cleanup := open(t, driver.Fast)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.Depth(ctx, dest, "g"); err != nil {
		t.Fatalf("depth of a provisioned queue: %v", err)
	}
	if err := cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Depth(ctx, dest, "g"); !errors.Is(err, errManagement) {
		t.Fatalf("depth after cleanup = %v, want the broker to say the queue is gone", err)
	}
	// Provision is idempotent and works again on the same name.
	again, err := d.Provision(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	if err := again(ctx); err != nil {
		t.Fatal(err)
	}
}
