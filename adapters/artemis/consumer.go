package artemis

import (
	"context"
	"strconv"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// NewConsumer subscribes to opts.Group's queue of dest (its fully qualified
// queue name) on its own STOMP connection, with ack:client-individual and a
// consumer window of 4 KiB per message of Prefetch. It returns once the
// broker confirmed the subscription. The consumer is stompclient's: it
// re-subscribes on a new connection when its connection dies; Nack
// re-queues a copy (same body, key and persistence) to the fully qualified
// queue in a transaction and acknowledges the original after its COMMIT,
// because Artemis's own STOMP NACK discards the message (it is handled as
// an ACK) and Artemis applies an ACK inside a transaction at once, not at
// COMMIT (TransactionalAck false).
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
		Broker:            Name,
		Queue:             fqqn(dest.Name, opts.Group),
		Dial:              d.connect,
		Subscribe:         []string{hdrSubscription, multicast, hdrWindow, strconv.Itoa(prefetch * windowPerMessage)},
		Requeue:           []string{hdrDestinationType, multicast},
		DefaultPersistent: "false",
		Log:               d.cfg.Log(),
		OnClose:           func() { d.untrack(cs) },
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
