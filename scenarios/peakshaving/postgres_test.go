package peakshaving

import (
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/scenarios/scenariotest"
)

// TestRunPostgres runs the flash sale with the sale service's database on
// the PostgreSQL of MQBENCH_POSTGRES_URL: nothing oversold, the stock sold
// out, every admitted request processed once.
func TestRunPostgres(t *testing.T) {
	c := testConfig()
	res := scenariotest.RunPostgres(t, 2*time.Minute, Scenario{}, c, func(url string) { c.DatabaseURL = url })
	checkInvariants(t, res, c)
	if !strings.Contains(strings.Join(res.Notes, "\n"), "database: PostgreSQL at ") {
		t.Errorf("notes do not name PostgreSQL: %q", res.Notes)
	}
}
