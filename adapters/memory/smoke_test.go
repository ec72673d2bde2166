package memory

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := New(ctx, driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dest := driver.Destination{Name: "smoke", Groups: []string{"a", "b"}, MaxLength: 3}
	cleanup, err := d.Provision(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup(ctx)
	p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []driver.Message{{Key: []byte("k"), Body: []byte("1")}, {Key: []byte("k"), Body: []byte("2")}, {Key: []byte("k"), Body: []byte("3")}, {Key: []byte("k"), Body: []byte("4")}}
	err = p.Send(ctx, msgs)
	if !errors.Is(err, driver.ErrRejected) || !driver.Confirmed(err, 4, 2) || driver.Confirmed(err, 4, 3) {
		t.Fatalf("send: %v", err)
	}
	for _, g := range dest.Groups {
		c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: g})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := c.Receive(ctx, 10)
		if err != nil || len(ds) != 3 || !bytes.Equal(ds[2].Body, []byte("3")) {
			t.Fatalf("receive %s: %d %v", g, len(ds), err)
		}
		if err := c.Nack(ctx, ds[:1]); err != nil {
			t.Fatal(err)
		}
		again, err := c.Receive(ctx, 10)
		if err != nil || len(again) != 1 || !again[0].Redelivered || string(again[0].Body) != "1" {
			t.Fatalf("redelivery: %v", err)
		}
		if err := c.Ack(ctx, append(ds[1:], again...)); err != nil {
			t.Fatal(err)
		}
		if err := c.Ack(ctx, ds[1:2]); err == nil {
			t.Fatal("double ack accepted")
		}
		c.Close()
	}
}
