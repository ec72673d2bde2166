package peakshaving

import (
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// Headline implements present.Presenter: the items sold beyond the stock.
func (Scenario) Headline(r *result.Result) present.Figure {
	return present.Metric(r, MetricOversold, "oversold", "")
}

// Scoring implements present.Presenter: the advice ranks by the p99
// response time of an admitted request (end-to-end p99 when it is
// missing).
func (Scenario) Scoring(r *result.Result) present.Scoring {
	return present.Scoring{Latency: present.First(present.Metric(r, MetricAcceptP99, MetricAcceptP99, "ms"), present.EndToEndP99(r))}
}

// Charts implements present.Presenter: per broker, the input against the
// processing rate, and the queue depth against the threshold.
func (Scenario) Charts() []present.Chart {
	return []present.Chart{
		{Kind: present.LineChart, Title: "input against processing", XLabel: "seconds", YLabel: "per second", PerBroker: true,
			Lines: []present.Line{{Key: SeriesInputPerS, Label: "input (requests/s)"}, {Key: SeriesProcessedPerS, Label: "processed (orders/s)"}}},
		{Kind: present.LineChart, Title: "queue depth against the threshold", XLabel: "seconds", YLabel: "messages", PerBroker: true,
			Lines: []present.Line{{Key: SeriesQueueDepth, Label: "queue depth"}, {Key: SeriesThreshold, Label: "threshold", Dashed: true}}},
	}
}

// Accept implements present.Presenter: nothing oversold, some requests
// rejected at once, every request either accepted or rejected, as many
// sold as stock and admissions allow, and the broker admits the sale
// exactly when it can reject over a maximum length.
func (Scenario) Accept(r *result.Result, caps driver.Capabilities) error {
	m := func(n string) float64 { return r.Metrics[n].Value }
	var c present.Check
	c.Expect(m(MetricOversold) == 0, "oversold %v, want 0", m(MetricOversold))
	c.Expect(m(MetricRejected) > 0, "rejected %v, want > 0", m(MetricRejected))
	c.Expect(m(MetricAccepted)+m(MetricRejected) == m(MetricRequests), "accepted %v + rejected %v, want requests %v",
		m(MetricAccepted), m(MetricRejected), m(MetricRequests))
	want := min(m(MetricStockInitial), m(MetricAccepted))
	c.Expect(m(MetricSold) == want, "sold %v, want %v (min of stock %v and accepted)", m(MetricSold), want, m(MetricStockInitial))
	c.Expect(caps.MaxLengthReject == (m(MetricAdmissionBroker) == 1), "admission by broker %v, but the broker's max-length reject is %v",
		m(MetricAdmissionBroker), caps.MaxLengthReject)
	return c.Err()
}
