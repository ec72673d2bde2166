package decoupling

import (
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// Headline implements present.Presenter: the orders the queue lost.
func (Scenario) Headline(r *result.Result) present.Figure {
	return present.Metric(r, MetricOrdersLostMQ, "orders lost (mq)", "")
}

// Scoring implements present.Presenter: the advice ranks by the order to
// deduction p99 over the whole run, outage included (end-to-end p99 when
// it is missing).
func (Scenario) Scoring(r *result.Result) present.Scoring {
	return present.Scoring{Latency: present.First(present.Metric(r, MetricE2EP99, MetricE2EP99, "ms"), present.EndToEndP99(r))}
}

// Charts implements present.Presenter: each per-second series, one line
// per broker.
func (Scenario) Charts() []present.Chart {
	var cs []present.Chart
	for _, k := range []string{SeriesBacklogSampled, SeriesDeductedMQ, SeriesDepth, SeriesInventoryUp,
		SeriesOrdersFailedDirect, SeriesOrdersFailedMQ, SeriesOrdersOKDirect, SeriesOrdersOKMQ} {
		cs = append(cs, present.Chart{Kind: present.LineChart, Title: k, XLabel: "seconds", YLabel: k, Lines: []present.Line{{Key: k}}})
	}
	return cs
}

// Accept implements present.Presenter: the queue loses no order, direct
// calls fail during the outage, a backlog builds and drains, and the stock
// matches the orders.
func (Scenario) Accept(r *result.Result, _ driver.Capabilities) error {
	m := func(n string) float64 { return r.Metrics[n].Value }
	var c present.Check
	c.Expect(m(MetricOrdersLostMQ) == 0, "orders lost (mq) %v, want 0", m(MetricOrdersLostMQ))
	c.Expect(m(MetricOrdersFailedDirect) > 0, "direct orders failed %v, want > 0 (the outage must show)", m(MetricOrdersFailedDirect))
	c.Expect(m(MetricBacklogPeak) > 0, "backlog peak %v, want > 0", m(MetricBacklogPeak))
	c.Expect(m(MetricStockConsistent) == 1, "stock consistent %v, want 1", m(MetricStockConsistent))
	return c.Err()
}
