package scenariotest

import (
	"context"
	"errors"

	"github.com/mqbench/mqbench/adapters/driver"
)

// FlakyConsumer is a driver.Consumer that fails its first FailReceives
// Receives and FailAcks Acks the way a consumer on a dropped connection
// does, then delivers Bodies one at a time and blocks until ctx ends when
// none are left. Nack is unsupported. Like any Consumer, it is for one
// goroutine.
type FlakyConsumer struct {
	FailReceives, FailAcks int
	Bodies                 [][]byte
	Acked                  int // deliveries acked successfully
}

// Receive implements driver.Consumer.
func (f *FlakyConsumer) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
	if f.FailReceives > 0 {
		f.FailReceives--
		return nil, errors.New("connection reset")
	}
	if len(f.Bodies) == 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	d := &driver.Delivery{Body: f.Bodies[0]}
	f.Bodies = f.Bodies[1:]
	return []*driver.Delivery{d}, nil
}

// Ack implements driver.Consumer.
func (f *FlakyConsumer) Ack(ctx context.Context, ds []*driver.Delivery) error {
	if f.FailAcks > 0 {
		f.FailAcks--
		return errors.New("ack on a dead connection")
	}
	f.Acked += len(ds)
	return nil
}

// Nack implements driver.Consumer: unsupported.
func (f *FlakyConsumer) Nack(ctx context.Context, ds []*driver.Delivery) error {
	return errors.ErrUnsupported
}

// Close implements driver.Consumer.
func (f *FlakyConsumer) Close() error { return nil }
