package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// TestDownUp: while down, sends fail with ErrDown and nothing is
// delivered; unacked deliveries come back redelivered after Up; with lose,
// what waited is gone for good, without it everything arrives.
func TestDownUp(t *testing.T) {
	for _, tt := range []struct {
		name string
		lose bool
		want []string // bodies received after Up, in order
	}{
		{"kept", false, []string{"a", "b", "c"}},
		{"lost", true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b := NewBroker(Options{})
			d, err := b.Driver(driver.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			dest := driver.Destination{Name: "down", Groups: []string{"g"}}
			if _, err := d.Provision(ctx, dest); err != nil {
				t.Fatal(err)
			}
			p, _ := d.NewProducer(ctx, dest, driver.ProducerOptions{})
			c, _ := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
			send := func(body string) error {
				return p.Send(ctx, []driver.Message{{Body: []byte(body)}})
			}
			for _, s := range []string{"a", "b", "c"} {
				if err := send(s); err != nil {
					t.Fatal(err)
				}
			}
			ds, err := c.Receive(ctx, 1) // "a" held unacked across the outage
			if err != nil || len(ds) != 1 || string(ds[0].Body) != "a" {
				t.Fatalf("receive before down: %v %v", ds, err)
			}
			b.Down(tt.lose)
			if !b.IsDown() {
				t.Fatal("IsDown false after Down")
			}
			if err := send("x"); !errors.Is(err, ErrDown) {
				t.Fatalf("send while down: %v, want ErrDown", err)
			}
			if err := c.Ack(ctx, ds); !errors.Is(err, ErrDown) {
				t.Fatalf("ack while down: %v, want ErrDown", err)
			}
			short, cancelShort := context.WithTimeout(ctx, 30*time.Millisecond)
			got, err := c.Receive(short, 10)
			cancelShort()
			if len(got) != 0 || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("receive while down: %d deliveries, %v", len(got), err)
			}
			b.Up()
			b.Up() // idempotent
			if err := send("d"); err != nil {
				t.Fatalf("send after up: %v", err)
			}
			want := append(append([]string(nil), tt.want...), "d")
			var bodies []string
			for len(bodies) < len(want) {
				ds, err := c.Receive(ctx, 10)
				if err != nil {
					t.Fatalf("receive after up: %v (got %v)", err, bodies)
				}
				for _, dl := range ds {
					bodies = append(bodies, string(dl.Body))
					if string(dl.Body) == "a" && !dl.Redelivered {
						t.Error("the delivery held across the outage is not marked redelivered")
					}
				}
				if err := c.Ack(ctx, ds); err != nil {
					t.Fatal(err)
				}
			}
			if len(bodies) != len(want) {
				t.Fatalf("after up got %v, want %v", bodies, want)
			}
			for i := range want {
				if bodies[i] != want[i] {
					t.Fatalf("after up got %v, want %v", bodies, want)
				}
			}
		})
	}
}
