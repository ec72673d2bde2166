package decoupling

import (
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/scenarios/scenariotest"
)

// TestRunPostgres runs both modes with the orders and inventory databases
// on the PostgreSQL of MQBENCH_POSTGRES_URL: every accepted mq order is
// deducted exactly once and the stock agrees.
func TestRunPostgres(t *testing.T) {
	c := smallConfig(Direct, MQ)
	res := scenariotest.RunPostgres(t, 2*time.Minute, Scenario{}, c, func(url string) { c.DatabaseURL = url })
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
