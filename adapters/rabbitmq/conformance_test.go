package rabbitmq

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/compose/launch"
)

// TestConformance runs the shared suite. The persistence test restarts the
// shared broker through compose/launch, so it only runs with
// MQBENCH_RESTART=1 (it is reported as skipped otherwise). On a cluster,
// $MQBENCH_RABBITMQ_MANAGEMENT_URL lists its management APIs, from which
// the durability read-back takes each quorum queue's members.
func TestConformance(t *testing.T) {
	requireBroker(t)
	h := drivertest.Harness{
		Name: Name,
		New: func(ctx context.Context, p driver.Profile) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: testAddr(), Profile: p, ManagementURL: os.Getenv("MQBENCH_RABBITMQ_MANAGEMENT_URL")})
		},
	}
	if os.Getenv("MQBENCH_RESTART") == "1" {
		h.Restart = func(ctx context.Context) error {
			l, err := launch.New(launch.Options{})
			if err != nil {
				return err
			}
			return l.Restart(ctx, launch.RabbitMQ, io.Discard)
		}
	}
	drivertest.Run(t, h)
}
