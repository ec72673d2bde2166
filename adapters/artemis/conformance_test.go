package artemis

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/compose/launch"
)

// testAddr is the broker under test: $MQBENCH_ARTEMIS_ADDR or DefaultAddr.
func testAddr() string {
	if a := os.Getenv("MQBENCH_ARTEMIS_ADDR"); a != "" {
		return a
	}
	return DefaultAddr
}

// TestConformance runs the shared conformance suite against the real broker
// at testAddr. The persistence test restarts the broker with restartHook, or
// is skipped when there is none.
func TestConformance(t *testing.T) {
	addr := testAddr()
	drivertest.RequireBroker(t, Name, addr)
	drivertest.Run(t, drivertest.Harness{
		Name: Name,
		New: func(ctx context.Context, p driver.Profile) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, Profile: p})
		},
		Restart: restartHook(),
		// A restart replays the journal; on a busy 2-core machine Artemis
		// took over 30 s to answer again.
		Timeout: 90 * time.Second,
	})
}

// restartHook returns how tests restart the broker at testAddr keeping its
// data, or nil. With MQBENCH_RESTART=1 it is the native launcher's Restart
// (only for a broker mqbench started, in $MQBENCH_HOME). Else, when
// MQBENCH_ARTEMIS_RESTART_CMD is set, it runs that shell command (for a
// private instance).
func restartHook() func(ctx context.Context) error {
	if os.Getenv("MQBENCH_RESTART") == "1" {
		return func(ctx context.Context) error {
			l, err := launch.New(launch.Options{})
			if err != nil {
				return err
			}
			return l.Restart(ctx, launch.Artemis, io.Discard)
		}
	}
	if cmd := os.Getenv("MQBENCH_ARTEMIS_RESTART_CMD"); cmd != "" {
		return func(ctx context.Context) error {
			c := exec.CommandContext(ctx, "sh", "-c", cmd)
			c.WaitDelay = time.Second
			out, err := c.CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %w: %s", cmd, err, out)
			}
			return nil
		}
	}
	return nil
}
