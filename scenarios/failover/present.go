package failover

import (
	"fmt"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// Headline implements present.Presenter: the longest time producers or
// consumers went unserved after a fault.
func (Scenario) Headline(r *result.Result) present.Figure {
	return unavailability(r)
}

// unavailability is the longer of the producer and consumer
// unavailability, in s.
func unavailability(r *result.Result) present.Figure {
	p := present.Metric(r, MetricProducerUnavailable, "unavailable", "s")
	c := present.Metric(r, MetricConsumerUnavailable, "unavailable", "s")
	if c.Ok && (!p.Ok || c.Value > p.Value) {
		return c
	}
	return p
}

// Scoring implements present.Presenter: the availability criterion is the
// longest unavailability (lower is better, under the reliability weight,
// beside the loss and duplicates every result's reliability score counts);
// the time until the received rate was back at the target counts under
// the latency weight, and the deciding latency is the end-to-end p99
// during the fault. No throughput: the rate is fixed.
func (Scenario) Scoring(r *result.Result) present.Scoring {
	return present.Scoring{
		Latency: present.Metric(r, MetricE2EP99During, "end-to-end p99 during the fault", "ms"),
		Extra: []present.Criterion{
			{Figure: withLabel(unavailability(r), "availability (longest unavailability)"), LowerIsBetter: true, Weight: "reliability"},
			{Figure: present.Metric(r, MetricRateBackS, "rate back at target", "s"), LowerIsBetter: true, Weight: "latency"},
		},
	}
}

func withLabel(f present.Figure, label string) present.Figure {
	f.Label = label
	return f
}

// Charts implements present.Presenter: the high-availability section.
// Across brokers the unavailability windows, the loss and duplicates side
// by side, and the p99 latencies before, during and after; per broker the
// received rate over time with the target and the seconds a node was down
// marked.
func (Scenario) Charts() []present.Chart {
	return []present.Chart{
		{Kind: present.BarChart, Title: "unavailability windows", YLabel: "seconds", Bars: []present.Bar{
			{Label: "producers unavailable", Metric: MetricProducerUnavailable},
			{Label: "consumers unavailable", Metric: MetricConsumerUnavailable},
			{Label: "rate back at target", Metric: MetricRateBackS},
			{Label: "node start", Metric: MetricStartS},
			{Label: "node back in sync", Metric: MetricInSyncS}}},
		{Kind: present.BarChart, Title: "loss and duplicates", YLabel: "messages", Bars: []present.Bar{
			{Label: "lost", Metric: MetricLost},
			{Label: "duplicated", Metric: MetricDuplicated},
			{Label: "reordered", Metric: MetricReordered}}}, // unconfirmed sends are in the findings and the accounting: their scale would hide a few lost
		{Kind: present.BarChart, Title: "p99 before, during and after the fault", YLabel: "ms", Bars: []present.Bar{
			{Label: "publish before", Metric: MetricPublishP99Before},
			{Label: "publish during", Metric: MetricPublishP99During},
			{Label: "publish after", Metric: MetricPublishP99After},
			{Label: "end-to-end before", Metric: MetricE2EP99Before},
			{Label: "end-to-end during", Metric: MetricE2EP99During},
			{Label: "end-to-end after", Metric: MetricE2EP99After}}},
		{Kind: present.LineChart, Title: "received rate, node down marked", XLabel: "seconds", YLabel: "msg/s", PerBroker: true,
			Lines: []present.Line{{Key: SeriesReceived, Label: "received"}, {Key: SeriesTarget, Label: "target", Dashed: true},
				{Key: SeriesNodeDown, Label: "node down", Dashed: true}}},
	}
}

// Accept implements present.Presenter: on every broker's replicated
// cluster a fault happened, nothing confirmed was lost, producers and
// consumers were served again before the faulted node itself came back
// (a failover, not a wait), and the node rejoined.
func (Scenario) Accept(r *result.Result, _ driver.Capabilities) error {
	m := func(n string) float64 { return r.Metrics[n].Value }
	var c present.Check
	c.Expect(m(MetricFaults) >= 1, "faults %v, want at least 1", m(MetricFaults))
	c.Expect(r.Accounting.Lost == 0, "lost %d, want 0", r.Accounting.Lost)
	c.Expect(r.Accounting.Confirmed > 0, "confirmed %d, want > 0", r.Accounting.Confirmed)
	c.Expect(m(MetricProducerRecovered) == 1, "producers never served again after a fault")
	c.Expect(m(MetricConsumerRecovered) == 1, "consumers never served again after a fault")
	c.Expect(m(MetricUntilRestart) == 0, "unavailable until the faulted node restarted: no failover")
	c.Expect(m(MetricRejoined) == 1, "a faulted node did not rejoin")
	return c.Err()
}

// NotMeasured implements present.Unmeasured: what a report with no
// failover result says.
func (Scenario) NotMeasured() string {
	return "availability not measured: failover runs only on a cluster topology (--topology cluster)"
}

// Findings implements present.Finder: what the fault did, in plain words.
func (Scenario) Findings(r *result.Result) []string {
	get := func(n string) (float64, bool) { m, ok := r.Metrics[n]; return m.Value, ok }
	var out []string
	if faults, ok := get(MetricFaults); !ok || faults == 0 {
		return nil
	}
	prod, _ := get(MetricProducerUnavailable)
	cons, _ := get(MetricConsumerUnavailable)
	s := fmt.Sprintf("producers unavailable %.1f s, consumers %.1f s", prod, cons)
	if v, _ := get(MetricRolling); v == 1 {
		s += " (longest over the rolling restart)"
	}
	if v, _ := get(MetricUntilRestart); v == 1 {
		s += ": no failover, they waited for the faulted node to start again"
	}
	out = append(out, s)
	a := r.Accounting
	out = append(out, fmt.Sprintf("lost %d, duplicated %d, reordered %d, unconfirmed %d", a.Lost, a.Duplicated, a.Reordered, a.Unconfirmed))
	if back, ok := get(MetricRateBackS); ok {
		out = append(out, fmt.Sprintf("received rate back at the target %.1f s after the fault", back))
	} else {
		out = append(out, "the received rate was not back at the target before the load ended")
	}
	if sync, ok := get(MetricInSyncS); ok {
		out = append(out, fmt.Sprintf("the restarted node was back in sync %.1f s after its start", sync))
	}
	for _, n := range r.Notes {
		if strings.Contains(n, "not back in sync") || strings.HasPrefix(n, lastSendErrNote) {
			out = append(out, n)
		}
	}
	return out
}
