package activemq

import (
	"context"
	"strconv"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// NewConsumer subscribes to opts.Group's queue of dest on its own STOMP
// connection, with ack:client-individual and activemq.prefetchSize
// (opts.Prefetch, or DefaultPrefetch). It returns once the broker confirmed
// the subscription. The consumer is stompclient's: it re-subscribes on a
// new connection when its connection dies, and its Nack re-queues a copy
// in a transaction (see the package comment for why ActiveMQ's own NACK is
// not used).
func (d *Driver) NewConsumer(ctx context.Context, dest driver.Destination, opts driver.ConsumerOptions) (driver.Consumer, error) {
	if err := checkGroup(dest, opts.Group); err != nil {
		return nil, err
	}
	prefetch := opts.Prefetch
	if prefetch <= 0 {
		prefetch = DefaultPrefetch
	}
	var cs *stompclient.Consumer
	cs, err := stompclient.NewConsumer(ctx, stompclient.ConsumerConfig{
		Broker:    Name,
		Queue:     groupQueue(dest.Name, opts.Group),
		Dial:      d.connect,
		Subscribe: []string{hdrPrefetch, strconv.Itoa(prefetch)},
		// ActiveMQ applies a transaction's ACKs at its COMMIT.
		TransactionalAck: true,
		Log:              d.cfg.Log(),
		OnClose:          func() { d.untrack(cs) },
	})
	if err != nil {
		return nil, err
	}
	if err := d.track(cs); err != nil {
		_ = cs.Close()
		return nil, err
	}
	return cs, nil
}
