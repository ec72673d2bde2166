package artemis

import (
	"context"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
)

// TestNetFaults puts a TCP proxy between the adapter and the broker and
// injects latency, resets, a black hole and an outage (see
// drivertest.NetFaults). The broker itself is never touched.
func TestNetFaults(t *testing.T) {
	drivertest.RequireBroker(t, Name, testAddr())
	drivertest.NetFaults(t, drivertest.NetHarness{
		Name:     Name,
		Upstream: testAddr(),
		New: func(ctx context.Context, addr string, op time.Duration) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, OpTimeout: op})
		},
	})
}
