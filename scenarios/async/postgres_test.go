package async

import (
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/scenarios/scenariotest"
)

// TestRunPostgres runs every mode with the users and notification databases
// on the PostgreSQL of MQBENCH_POSTGRES_URL: every registration written,
// every confirmed one notified exactly once.
func TestRunPostgres(t *testing.T) {
	c := smallConfig(Serial, MQ)
	res := scenariotest.RunPostgres(t, 2*time.Minute, Scenario{}, c, func(url string) { c.DatabaseURL = url })
	if !res.Verdict.Pass {
		t.Fatalf("verdict failed: %v (notes %v)", res.Verdict.Violations, res.Notes)
	}
	regs := metric(t, res, "registrations")
	if e, s := metric(t, res, "emails_sent"), metric(t, res, "sms_sent"); regs <= 0 || e != regs || s != regs {
		t.Fatalf("registrations %v, emails_sent %v, sms_sent %v", regs, e, s)
	}
	if metric(t, res, "double_sends") != 0 || metric(t, res, "service_db_errors") != 0 {
		t.Fatalf("metrics %v", res.Metrics)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "databases: PostgreSQL at ") {
		t.Errorf("notes do not name PostgreSQL: %q", res.Notes)
	}
}
