package transaction

import (
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/scenarios/scenariotest"
)

// TestRunPostgres runs the outbox mode, with injected failures and consumer
// crashes, on two databases in the PostgreSQL of MQBENCH_POSTGRES_URL (the
// same database, separate schemas): no duplicate applied, the stock and the
// history consistent.
func TestRunPostgres(t *testing.T) {
	c := testConfig(ModeOutbox)
	res := scenariotest.RunPostgres(t, 3*time.Minute, Scenario{}, c, func(url string) {
		c.OrderDatabaseURL, c.InventoryDatabaseURL = url, url
	})
	checkConsistent(t, res)
	if metric(t, res, "failures_injected") == 0 || metric(t, res, "duplicates_delivered") == 0 {
		t.Fatalf("faults not injected: %v", res.Metrics)
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "order database: PostgreSQL at ") || !strings.Contains(notes, "inventory database: PostgreSQL at ") {
		t.Errorf("notes do not name PostgreSQL: %q", res.Notes)
	}
}
