package transaction

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios/scenariotest"
	"github.com/mqbench/mqbench/scenarios/store/storetest"
)

// TestRunPostgres runs the outbox mode, with injected failures and consumer
// crashes, on two databases in the PostgreSQL of MQBENCH_POSTGRES_URL (the
// same database, separate schemas): no duplicate applied, the stock and the
// history consistent.
func TestRunPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := scenariotest.Env(t, scenariotest.Memory(t, memory.Options{}))
	c := testConfig(ModeOutbox)
	c.OrderDatabaseURL = storetest.PostgresURL(t, env.RunID)
	c.InventoryDatabaseURL = c.OrderDatabaseURL
	res, err := Scenario{}.Run(ctx, env, c)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, res)
	if metric(t, res, "failures_injected") == 0 || metric(t, res, "duplicates_delivered") == 0 {
		t.Fatalf("faults not injected: %v", res.Metrics)
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "order database: PostgreSQL at ") || !strings.Contains(notes, "inventory database: PostgreSQL at ") {
		t.Errorf("notes do not name PostgreSQL: %q", res.Notes)
	}
}
