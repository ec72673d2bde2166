package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// TestBlockEvents: a Send waiting for the flow limit shows as an open
// period, closed once consumers make room; a Send that never waited adds
// none; one that gave up (ctx) is closed too.
func TestBlockEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := NewBroker(Options{FlowLimit: 10 * (msgOverhead + 2)})
	dest := driver.Destination{Name: "flowev", Groups: []string{"g"}}
	d, p := setup(t, b, driver.Durable, dest)
	if err := p.Send(ctx, bodies(11, 'a')); err != nil { // over the limit now, no wait
		t.Fatal(err)
	}
	if evs := d.BlockEvents(); len(evs) != 0 {
		t.Fatalf("events %+v before any Send waited", evs)
	}
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	if err := p.Send(short, bodies(1, 'b')); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send over the flow limit: %v", err)
	}
	sent := make(chan error, 1)
	go func() { sent <- p.Send(ctx, bodies(1, 'c')) }()
	for len(d.BlockEvents()) < 2 { // wait for the second Send to block
		time.Sleep(time.Millisecond)
	}
	evs := d.BlockEvents()
	if evs[0].Open() || !evs[1].Open() || evs[1].Source != "flow limit" || evs[1].Reason == "" {
		t.Fatalf("events %+v: want the given-up Send closed and the waiting one open", evs)
	}
	c, _ := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	ds, err := c.Receive(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	c.Ack(ctx, ds)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	evs = d.BlockEvents()
	if len(evs) != 2 || evs[1].Open() || evs[1].End.Before(evs[1].Start) {
		t.Fatalf("events %+v after the Send went through", evs)
	}
	var _ driver.BlockReporter = d
}
