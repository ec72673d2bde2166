package artemis

import (
	"context"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// NewProducer opens a producer on dest's multicast address with its own
// STOMP connection. The connection is made here (bounded by ctx and the
// operation timeout) and again on a later Send if it dies. The producer is
// stompclient's, sending as the package comment describes.
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
		Destination: dest.Name,
		Headers:     []string{hdrDestinationType, multicast},
		Dial:        d.connect,
		Profile:     d.profile,
		Window:      window,
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
