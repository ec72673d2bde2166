// Package drivertest is the conformance suite every adapter runs against its
// real broker (and the memory driver runs in every `go test`).
package drivertest

import (
	"context"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Harness connects the suite to one driver.
type Harness struct {
	// New opens a driver connected to the broker under test with profile.
	New func(ctx context.Context, profile driver.Profile) (driver.Driver, error)
	// Restart stops and starts the broker keeping its data. Nil skips the
	// persistence test (it is then reported as skipped, never passed).
	Restart func(ctx context.Context) error
	// Timeout bounds each wait for a delivery. Zero means 30s.
	Timeout time.Duration
}

// Run runs the whole conformance suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	t.Skip("conformance suite not written yet")
}
