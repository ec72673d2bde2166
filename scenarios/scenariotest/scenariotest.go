// Package scenariotest holds what the scenarios' tests share: an in-memory
// driver closed with the test, a scenario Env with unique names and a
// scratch directory, and a run on the tests' PostgreSQL.
package scenariotest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/store/storetest"
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

// RunPostgres runs sc with cfg on a fresh in-memory driver, its databases on
// the PostgreSQL the tests use (storetest.PostgresURL: skipped without one,
// failed without one under MQBENCH_REQUIRE_BROKERS=1). setURL puts the
// database URL into cfg. The test fails if Run returns an error; the run is
// bounded by timeout.
func RunPostgres(t *testing.T, timeout time.Duration, sc scenarios.Scenario, cfg scenarios.Config, setURL func(url string)) *result.Result {
	t.Helper()
	env := Env(t, Memory(t, memory.Options{}))
	setURL(storetest.PostgresURL(t, env.RunID))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := sc.Run(ctx, env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
