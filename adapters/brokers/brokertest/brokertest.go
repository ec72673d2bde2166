// Package brokertest connects tests to the real brokers of the broker table,
// skipping when a broker is absent unless MQBENCH_REQUIRE_BROKERS=1, when
// absence fails the test.
package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/brokers"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
)

// Connect returns a driver connected to b with profile, closed when the test
// ends. It skips (or fails, with MQBENCH_REQUIRE_BROKERS=1) when nothing
// listens at b.Addr(), and fails when the broker listens but the adapter
// cannot connect within a bounded preflight.
func Connect(t *testing.T, b brokers.Broker, profile driver.Profile) driver.Driver {
	t.Helper()
	addr := b.Addr()
	drivertest.RequireBroker(t, b.Name, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := b.New(ctx, driver.Config{Addr: addr, Profile: profile, OpTimeout: 15 * time.Second})
	if err != nil {
		t.Fatalf("connect %s at %s: %v", b.Name, addr, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Prefix returns a destination prefix unique to this test run.
func Prefix(tag string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return tag + "-" + hex.EncodeToString(b[:])
}

// Quiet returns a logger that discards everything.
func Quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
