package rocketmq

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/compose/launch"
)

// TestConformance runs the shared suite against the RocketMQ name server at
// MQBENCH_ROCKETMQ_ADDR (default 127.0.0.1:9876). The persistence test
// restarts the shared broker through compose/launch, so it runs only with
// MQBENCH_RESTART=1 (it is reported as skipped otherwise).
func TestConformance(t *testing.T) {
	addr := brokerAddr()
	drivertest.RequireBroker(t, "rocketmq", addr)
	h := drivertest.Harness{
		Name: "rocketmq",
		New: func(ctx context.Context, p driver.Profile) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, Profile: p, Logger: testLogger(t)})
		},
		// The transaction check-back comes after the broker's
		// transactionTimeOut (6 s) plus up to transactionCheckInterval
		// (30 s in 5.x, 60 s in 4.x).
		Timeout: 90 * time.Second,
	}
	if os.Getenv("MQBENCH_RESTART") == "1" {
		h.Restart = func(ctx context.Context) error {
			l, err := launch.New(launch.Options{})
			if err != nil {
				return err
			}
			return l.Restart(ctx, launch.RocketMQ, io.Discard)
		}
	}
	drivertest.Run(t, h)
}
