// Package scenariotest holds what the scenarios' tests share: an in-memory
// driver closed with the test, and a scenario Env with unique names and a
// scratch directory.
package scenariotest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios"
)

// Memory returns a fresh in-memory driver with opts, closed when the test
// ends.
func Memory(t *testing.T, opts memory.Options) driver.Driver {
	t.Helper()
	d, err := memory.Constructor(opts)(context.Background(), driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Env returns a durable-profile Env on d with a run id, a destination
// prefix derived from the test's name, a scratch directory and a silent
// logger.
func Env(t *testing.T, d driver.Driver) scenarios.Env {
	t.Helper()
	return scenarios.Env{
		Driver: d, Profile: driver.Durable, RunID: uint64(time.Now().UnixNano()),
		Prefix: "t" + strings.ReplaceAll(t.Name(), "/", "-"), WorkDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler),
	}
}
