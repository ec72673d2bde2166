package activemq

import (
	"context"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// NewProducer opens a producer on dest's virtual topic with its own STOMP
// connection. The connection is made here (bounded by ctx and the
// operation timeout) and again on a later Send if it dies. The producer is
// stompclient's, sending as the package comment describes; every send
// ActiveMQ refuses is noted for BlockEvents.
func (d *Driver) NewProducer(ctx context.Context, dest driver.Destination, opts driver.ProducerOptions) (driver.Producer, error) {
	if err := checkDest(dest); err != nil {
		return nil, err
	}
	window := opts.MaxInFlight
	if window <= 0 {
		window = DefaultMaxInFlight
	}
	var p *stompclient.Producer
	p, err := stompclient.NewProducer(ctx, stompclient.ProducerConfig{
		Broker:      Name,
		Destination: topicDest(dest.Name),
		Dial:        d.connect,
		Profile:     d.profile,
		Window:      window,
		OnSend:      func(err error) { d.refused.note(err, time.Now()) },
		OnClose:     func() { d.untrack(p) },
	})
	if err != nil {
		return nil, err
	}
	if err := d.track(p); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}
