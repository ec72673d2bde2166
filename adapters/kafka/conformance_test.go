package kafka

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/compose/launch"
)

// TestConformance runs the shared suite against the Kafka broker at
// MQBENCH_KAFKA_ADDR (default DefaultAddr).
func TestConformance(t *testing.T) {
	addr := os.Getenv("MQBENCH_KAFKA_ADDR")
	if addr == "" {
		addr = DefaultAddr
	}
	first, _, _ := strings.Cut(addr, ",")
	drivertest.RequireBroker(t, Name, first)
	drivertest.Run(t, drivertest.Harness{
		Name: Name,
		New: func(ctx context.Context, p driver.Profile) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, Profile: p, Logger: testLogger(t)})
		},
		Restart: restartHook(),
	})
}

// restartHook restarts the broker through the launcher when
// MQBENCH_RESTART=1, else nil (the persistence test is then skipped).
func restartHook() func(context.Context) error {
	if os.Getenv("MQBENCH_RESTART") != "1" {
		return nil
	}
	return func(ctx context.Context) error {
		l, err := launch.New(launch.Options{})
		if err != nil {
			return err
		}
		return l.Restart(ctx, launch.Kafka, io.Discard)
	}
}
