package rabbitmq

import (
	"context"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
)

// TestStreamConformance runs the shared suite on the stream variant, against
// the same broker as TestConformance (a missing broker fails it under
// MQBENCH_REQUIRE_BROKERS=1). Persistence is not run: streams never fsync,
// so the variant does not declare Persistent (see streamPromise).
func TestStreamConformance(t *testing.T) {
	requireBroker(t)
	drivertest.Run(t, drivertest.Harness{
		Name: StreamName,
		New: func(ctx context.Context, p driver.Profile) (driver.Driver, error) {
			return NewStream(ctx, driver.Config{Addr: testAddr(), Profile: p})
		},
	})
}
