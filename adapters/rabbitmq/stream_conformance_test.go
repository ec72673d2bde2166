package rabbitmq

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
)

// TestStreamConformance runs the shared suite on the stream variant, against
// the same broker as TestConformance (a missing broker fails it under
// MQBENCH_REQUIRE_BROKERS=1). Persistence is not run: streams never fsync,
// so the variant does not declare Persistent (see streamPromise).
func TestStreamConformance(t *testing.T) {
	requireBroker(t)
	drivertest.Run(t, drivertest.Harness{
		Name: StreamName,
		New: func(ctx context.Context, p driver.Profile) (driver.Driver, error) {
			return NewStream(ctx, driver.Config{Addr: testAddr(), Profile: p})
		},
	})
}

// TestStreamPositionIsTheDrivers: what a group's position means on streams
// over AMQP 0.9.1. A consumer reopened on the same Driver resumes after what
// it acked (the suite's Ack test); a new Driver knows no position, so the
// same group reads the stream again from its first message: duplicates,
// never loss.
func TestStreamPositionIsTheDrivers(t *testing.T) {
	requireBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	open := func() driver.Driver {
		d, err := NewStream(ctx, driver.Config{Addr: testAddr()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		return d
	}
	d1 := open()
	dest := driver.Destination{Name: "mqbt-stream-pos-" + strconv.FormatInt(time.Now().UnixNano(), 36), Groups: []string{"g"}}
	cleanup, err := d1.Provision(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cleanup(context.Background()) })
	p, err := d1.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msgs := make([]driver.Message, 5)
	for i := range msgs {
		msgs[i] = driver.Message{Key: []byte("k"), Body: []byte{byte(i)}}
	}
	if err := p.Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	readAll := func(d driver.Driver) []byte {
		c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var got []byte
		for len(got) < len(msgs) {
			ds, err := c.Receive(ctx, 10)
			if err != nil {
				t.Fatalf("receive after %d: %v", len(got), err)
			}
			for _, d := range ds {
				got = append(got, d.Body...)
			}
			if err := c.Ack(ctx, ds); err != nil {
				t.Fatal(err)
			}
		}
		return got
	}
	if got := readAll(d1); string(got) != "\x00\x01\x02\x03\x04" {
		t.Fatalf("first read %v, want 0-4", got)
	}
	if got := readAll(open()); string(got) != "\x00\x01\x02\x03\x04" {
		t.Fatalf("a new Driver read %v, want 0-4 again (it knows no position)", got)
	}
}

// TestStreamNetFaults runs the network faults (drivertest.NetFaults) on the
// stream variant: a consumer that lost its connection resubscribes at its
// group's position, so every confirmed message still arrives.
func TestStreamNetFaults(t *testing.T) {
	requireBroker(t)
	drivertest.NetFaults(t, drivertest.NetHarness{
		Name:     StreamName,
		Upstream: testHostPort(t),
		New: func(ctx context.Context, addr string, op time.Duration) (driver.Driver, error) {
			return NewStream(ctx, driver.Config{Addr: addr, OpTimeout: op})
		},
	})
}
