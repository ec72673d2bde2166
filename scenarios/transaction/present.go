package transaction

import (
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// Headline implements present.Presenter: the p99 time from an order to
// its stock deduction.
func (Scenario) Headline(r *result.Result) present.Figure {
	return present.Metric(r, MetricTTCP99, "time to consistency p99", "ms")
}

// Scoring implements present.Presenter: the advice ranks by the p99 time
// to consistency (end-to-end p99 when it is missing).
func (Scenario) Scoring(r *result.Result) present.Scoring {
	return present.Scoring{Latency: present.First(present.Metric(r, MetricTTCP99, MetricTTCP99, "ms"), present.EndToEndP99(r))}
}

// Charts implements present.Presenter: each per-second series, one line
// per broker.
func (Scenario) Charts() []present.Chart {
	var cs []present.Chart
	for _, k := range []string{SeriesConsistentPerS, SeriesOrdersPerS, SeriesPendingOrders, SeriesTTCMax} {
		cs = append(cs, present.Chart{Kind: present.LineChart, Title: k, XLabel: "seconds", YLabel: k, Lines: []present.Line{{Key: k}}})
	}
	return cs
}

// Accept implements present.Presenter: orders were placed, none applied
// twice, the message table emptied, one history row per order, the stock
// consistent, and the native mode used exactly where the broker has
// transactional messages.
func (Scenario) Accept(r *result.Result, caps driver.Capabilities) error {
	m := func(n string) float64 { return r.Metrics[n].Value }
	var c present.Check
	c.Expect(m(MetricOrders) > 0, "orders %v, want > 0", m(MetricOrders))
	c.Expect(m(MetricDuplicatesApplied) == 0, "duplicates applied %v, want 0", m(MetricDuplicatesApplied))
	c.Expect(m(MetricOutboxRemaining) == 0, "outbox remaining %v, want 0", m(MetricOutboxRemaining))
	c.Expect(m(MetricHistoryRows) == m(MetricOrders), "history rows %v, want orders %v", m(MetricHistoryRows), m(MetricOrders))
	c.Expect(m(MetricConsistent) == 1, "consistent %v, want 1", m(MetricConsistent))
	c.Expect(caps.NativeTransaction == (m(MetricNative) == 1), "native mode %v on a broker whose native transactions are %v",
		m(MetricNative), caps.NativeTransaction)
	return c.Err()
}
