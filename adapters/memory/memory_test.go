package memory

import (
	"context"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
)

// TestConformance runs the whole conformance suite against one shared
// broker, restarted through Broker.Restart.
func TestConformance(t *testing.T) {
	b := NewBroker(Options{TxCheckDelay: 20 * time.Millisecond})
	drivertest.Run(t, drivertest.Harness{
		Name: "memory",
		New: func(ctx context.Context, p driver.Profile) (driver.Driver, error) {
			d, err := b.Driver(driver.Config{Profile: p})
			if err != nil {
				return nil, err
			}
			return d, nil
		},
		Restart: func(context.Context) error { b.Restart(); return nil },
		Timeout: 10 * time.Second,
		Settle:  100 * time.Millisecond,
	})
}
