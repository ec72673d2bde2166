package decoupling

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios/scenariotest"
	"github.com/mqbench/mqbench/scenarios/store/storetest"
)

// TestRunPostgres runs both modes with the orders and inventory databases
// on the PostgreSQL of MQBENCH_POSTGRES_URL: every accepted mq order is
// deducted exactly once and the stock agrees.
func TestRunPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := scenariotest.Env(t, scenariotest.Memory(t, memory.Options{}))
	c := smallConfig(Direct, MQ)
	c.DatabaseURL = storetest.PostgresURL(t, env.RunID)
	res, err := Scenario{}.Run(ctx, env, c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verdict.Pass {
		t.Fatalf("verdict failed: %v (notes %v)", res.Verdict.Violations, res.Notes)
	}
	if metric(t, res, "orders_mq") <= 0 || metric(t, res, "orders_lost_mq") != 0 || metric(t, res, "stock_consistent") != 1 {
		t.Fatalf("metrics %v", res.Metrics)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "databases: PostgreSQL at ") {
		t.Errorf("notes do not name PostgreSQL: %q", res.Notes)
	}
}
