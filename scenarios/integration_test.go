package scenarios_test

import (
	"context"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/brokers"
	"github.com/mqbench/mqbench/adapters/brokers/brokertest"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/async"
	"github.com/mqbench/mqbench/scenarios/decoupling"
	"github.com/mqbench/mqbench/scenarios/peakshaving"
	"github.com/mqbench/mqbench/scenarios/pubsub"
	"github.com/mqbench/mqbench/scenarios/transaction"
)

// acceptance are the --quick checks each scenario must pass on every real
// broker, beyond its own verdict.
var acceptance = []struct {
	sc    scenarios.Scenario
	check func(t *testing.T, caps driver.Capabilities, m func(string) float64, r *result.Result)
}{
	{pubsub.Scenario{}, func(t *testing.T, _ driver.Capabilities, _ func(string) float64, r *result.Result) {
		a := r.Accounting
		if a.Sent == 0 || a.Confirmed != a.Sent || a.Lost != 0 || a.Received != a.Confirmed {
			t.Errorf("accounting %+v", a)
		}
	}},
	{async.Scenario{}, func(t *testing.T, _ driver.Capabilities, m func(string) float64, _ *result.Result) {
		if !(m("response_p50_ms_mq") < m("response_p50_ms_parallel") && m("response_p50_ms_parallel") < m("response_p50_ms_serial")) {
			t.Errorf("p50 mq %.2f, parallel %.2f, serial %.2f: want mq < parallel < serial",
				m("response_p50_ms_mq"), m("response_p50_ms_parallel"), m("response_p50_ms_serial"))
		}
		if m("registrations") == 0 || m("emails_sent") != m("registrations") || m("sms_sent") != m("registrations") {
			t.Errorf("registrations %v, emails %v, sms %v", m("registrations"), m("emails_sent"), m("sms_sent"))
		}
	}},
	{decoupling.Scenario{}, func(t *testing.T, _ driver.Capabilities, m func(string) float64, _ *result.Result) {
		if m("orders_lost_mq") != 0 || m("orders_failed_direct") <= 0 || m("backlog_peak") <= 0 || m("stock_consistent") != 1 {
			t.Errorf("lost %v, failed direct %v, backlog peak %v, stock consistent %v",
				m("orders_lost_mq"), m("orders_failed_direct"), m("backlog_peak"), m("stock_consistent"))
		}
	}},
	{peakshaving.Scenario{}, func(t *testing.T, caps driver.Capabilities, m func(string) float64, _ *result.Result) {
		if m("oversold") != 0 || m("rejected") <= 0 || m("accepted")+m("rejected") != m("requests") || m("sold") != min(m("stock_initial"), m("accepted")) {
			t.Errorf("oversold %v rejected %v accepted %v requests %v sold %v stock %v",
				m("oversold"), m("rejected"), m("accepted"), m("requests"), m("sold"), m("stock_initial"))
		}
		if caps.MaxLengthReject != (m("admission_broker") == 1) {
			t.Errorf("admission by broker %v, but the broker's max-length reject is %v", m("admission_broker"), caps.MaxLengthReject)
		}
	}},
	{transaction.Scenario{}, func(t *testing.T, caps driver.Capabilities, m func(string) float64, _ *result.Result) {
		if m("orders") == 0 || m("duplicates_applied") != 0 || m("outbox_remaining") != 0 || m("history_rows") != m("orders") || m("consistent") != 1 {
			t.Errorf("orders %v dup applied %v outbox %v history %v consistent %v",
				m("orders"), m("duplicates_applied"), m("outbox_remaining"), m("history_rows"), m("consistent"))
		}
		if caps.NativeTransaction != (m("native") == 1) {
			t.Errorf("native mode %v on a broker whose native transactions are %v", m("native"), caps.NativeTransaction)
		}
	}},
}

// TestScenariosOnRealBrokers runs every scenario's --quick configuration
// against every real broker (all of them must answer with
// MQBENCH_REQUIRE_BROKERS=1) and checks the verdict and the acceptance
// figures.
func TestScenariosOnRealBrokers(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	for _, b := range brokers.Real() {
		t.Run(b.Name, func(t *testing.T) {
			d := brokertest.Connect(t, b, driver.Durable)
			caps := d.Info().Capabilities
			for _, a := range acceptance {
				t.Run(a.sc.Name(), func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
					defer cancel()
					env := scenarios.Env{Driver: d, Profile: driver.Durable, RunID: uint64(time.Now().UnixNano()),
						Prefix: brokertest.Prefix(a.sc.Name()), WorkDir: t.TempDir(), Log: brokertest.Quiet()}
					res, err := a.sc.Run(ctx, env, a.sc.DefaultConfig(true))
					if err != nil {
						t.Fatalf("run: %v", err)
					}
					if !res.Verdict.Pass {
						t.Errorf("verdict failed: %v; notes %q", res.Verdict.Violations, res.Notes)
					}
					m := func(n string) float64 { return res.Metrics[n].Value }
					a.check(t, caps, m, res)
					if t.Failed() {
						t.Logf("metrics: %v", res.Metrics)
					}
				})
			}
		})
	}
}
