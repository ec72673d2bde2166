package capacity

import (
	"math"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// curvePercents returns the points of the latency–throughput curve, in
// percent of the maximum: CurveFractions, then the maximum's own step.
func curvePercents() []int {
	var out []int
	for _, f := range CurveFractions() {
		out = append(out, int(math.Round(100*f)))
	}
	return append(out, 100)
}

// Headline implements present.Presenter: the maximum sustainable rate.
func (Scenario) Headline(r *result.Result) present.Figure {
	return present.Metric(r, MaxSustainableMsgs, "max sustainable", "msg/s")
}

// Scoring implements present.Presenter. Throughput is the maximum
// sustainable rate: what the scenario measures. The deciding latency is
// the end-to-end p99 at that maximum (the curve's 100% point, which is the
// maximum's own step; the end-to-end p99 of the result, the same step,
// when the point is missing): each broker is judged at its own full load,
// so a lower figure is more headroom under the objective where it
// matters.
func (Scenario) Scoring(r *result.Result) present.Scoring {
	return present.Scoring{
		Latency:    present.First(present.Metric(r, CurveMetric(CurveE2EP99, 100), "end-to-end p99 at the maximum", "ms"), present.EndToEndP99(r)),
		Throughput: present.Metric(r, MaxSustainableMsgs, "max sustainable", "msg/s"),
	}
}

// Charts implements present.Presenter: the latency–throughput curves of
// every broker on one chart (end-to-end p99 on a log axis against the
// steps' rates, each broker's maximum marked), the harness ceiling,
// publish-only, drain-only and maximum sustainable rates side by side,
// and per broker the rate each step received against its target, step by
// step.
func (Scenario) Charts() []present.Chart {
	var pts []present.Point
	for _, pct := range curvePercents() {
		pts = append(pts, present.Point{X: CurveMetric(CurveRate, pct), Y: CurveMetric(CurveE2EP99, pct)})
	}
	return []present.Chart{
		{Kind: present.CurveChart, Title: "latency against throughput (steps at 10, 50, 80 and 100% of the maximum)",
			XLabel: "throughput (msg/s, the step's target rate)", YLabel: "end-to-end p99 (ms, log scale)",
			Curve: present.Curve{Points: pts, Max: pts[len(pts)-1], MaxLabel: "max"}},
		// The ceiling comes first: it is the tallest group, and the legend
		// sits top right.
		{Kind: present.BarChart, Title: "mqbench's own ceiling, publish-only, drain-only and maximum sustainable rates", YLabel: "msg/s",
			Bars: []present.Bar{{Label: "harness ceiling", Metric: HarnessCeilingMsgs}, {Label: "publish-only", Metric: PublishOnlyMsgs},
				{Label: "drain-only", Metric: DrainOnlyMsgs}, {Label: "max sustainable", Metric: MaxSustainableMsgs}}},
		{Kind: present.LineChart, Title: "received against target, step by step", XLabel: "step (search, then curve)", YLabel: "msg/s", PerBroker: true,
			// The dashed target last, so it shows over a received line that meets it.
			Lines: []present.Line{{Key: SeriesStepReceived, Label: "received"}, {Key: SeriesStepRate, Label: "target", Dashed: true}}},
	}
}

// stepSeries are the step_* series every step writes (the CPU series only
// when the broker's CPU was read for every step).
func stepSeries() []string {
	return []string{SeriesStepStart, SeriesStepRate, SeriesStepReceived, SeriesStepP99, SeriesStepE2EP99, SeriesStepSchedule,
		SeriesStepBacklog, SeriesStepMissing, SeriesStepSustained, SeriesStepCurve}
}

// Accept implements present.Presenter, for a run with the CLI's
// environment (a reference broker, so the harness ceiling and floor are
// measured): a maximum was found and its own step was sustained (within
// the objective, and a search step at exactly that rate in the series),
// nothing confirmed was lost and the accounting is complete, every step
// is in every step series, the publish-only, drain-only and harness
// ceiling rates and the harness floor were measured, and a lowest failed
// rate, when there is one, lies above the maximum.
func (Scenario) Accept(r *result.Result, _ driver.Capabilities) error {
	m := func(n string) (float64, bool) { v, ok := r.Metrics[n]; return v.Value, ok }
	var c present.Check
	a := r.Accounting
	c.Expect(a.Lost == 0 && a.Complete && a.Confirmed > 0, "accounting lost %d, complete %v, confirmed %d: want 0 lost of a complete, non-empty run", a.Lost, a.Complete, a.Confirmed)
	top, _ := m(MaxSustainableMsgs)
	c.Expect(top > 0, "max sustainable %v msg/s, want > 0", top)
	if failed, ok := m(FailedAboveMsgs); ok {
		c.Expect(failed > top, "lowest failed rate %v msg/s, want above the maximum %v", failed, top)
	}
	acceptSteps(&c, r, top)
	obj, okObj := m(LatencyObjectiveMs)
	for _, p := range []string{CurveE2EP99, CurvePublishP99} {
		v, ok := m(CurveMetric(p, 100))
		c.Expect(ok && okObj && v <= obj, "%s at the maximum %v ms (present %v), want at most the objective %v ms", p, v, ok, obj)
	}
	sus, _ := m(CurveMetric(CurveSustained, 100))
	c.Expect(sus == 1, "the maximum's step is not marked sustained (%s = %v)", CurveMetric(CurveSustained, 100), sus)
	for _, n := range []string{PublishOnlyMsgs, DrainOnlyMsgs, HarnessCeilingMsgs, HarnessFloorE2EP99, HarnessFloorPublishP99} {
		v, ok := m(n)
		c.Expect(ok && v > 0, "%s = %v (present %v), want measured (> 0)", n, v, ok)
	}
	return c.Err()
}

// acceptSteps checks the step accounting: the Steps metric counts every
// step, every step series holds one value per step, and a sustained
// search step ran at the maximum top.
func acceptSteps(c *present.Check, r *result.Result, top float64) {
	steps, search := r.Metrics[Steps].Value, r.Metrics[SearchSteps].Value
	c.Expect(search >= 1 && search <= steps, "%v search steps of %v steps, want at least 1 and at most all", search, steps)
	keys := stepSeries()
	if _, ok := r.Series[SeriesStepCPU]; ok {
		keys = append(keys, SeriesStepCPU)
	}
	for _, k := range keys {
		c.Expect(float64(len(r.Series[k])) == steps, "series %s has %d values, want one per step (%v)", k, len(r.Series[k]), steps)
	}
	rates, sus, curve := r.Series[SeriesStepRate], r.Series[SeriesStepSustained], r.Series[SeriesStepCurve]
	found := false
	for i := range rates {
		found = found || (i < len(sus) && i < len(curve) && rates[i] == top && sus[i] == 1 && curve[i] == 0)
	}
	c.Expect(found, "no sustained search step at the maximum %v msg/s in the step series", top)
}
