package peakshaving

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios/scenariotest"
	"github.com/mqbench/mqbench/scenarios/store/storetest"
)

// TestRunPostgres runs the flash sale with the sale service's database on
// the PostgreSQL of MQBENCH_POSTGRES_URL: nothing oversold, the stock sold
// out, every admitted request processed once.
func TestRunPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := scenariotest.Env(t, scenariotest.Memory(t, memory.Options{}))
	c := testConfig()
	c.DatabaseURL = storetest.PostgresURL(t, env.RunID)
	res, err := Scenario{}.Run(ctx, env, c)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res, c)
	if !strings.Contains(strings.Join(res.Notes, "\n"), "database: PostgreSQL at ") {
		t.Errorf("notes do not name PostgreSQL: %q", res.Notes)
	}
}
