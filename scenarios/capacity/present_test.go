package capacity

import (
	"math"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// acceptedResult is a fake result of a run that found its maximum at 4000
// msg/s in five search steps (2000, 3000, 4500 failed, 3750, 4000 — not
// the bisection's exact path, but consistent) and three curve steps.
func acceptedResult() *result.Result {
	r := &result.Result{
		Accounting: result.Accounting{Sent: 90000, Confirmed: 90000, Received: 90000, Deliveries: 90000, Groups: 1, Complete: true},
		Latency:    result.Latencies{"end_to_end": {Count: 8000, P99: 31}},
		Verdict:    result.Verdict{Pass: true},
	}
	for n, v := range map[string]float64{
		MaxSustainableMsgs: 4000, FailedAboveMsgs: 4500, LatencyObjectiveMs: 50, Steps: 8, SearchSteps: 5,
		PublishOnlyMsgs: 5200, DrainOnlyMsgs: 9100, HarnessCeilingMsgs: 150000,
		HarnessFloorE2EP99: 2.5, HarnessFloorPublishP99: 1.5,
	} {
		r.SetMetric(n, v, "")
	}
	for pct, p99 := range map[int]float64{10: 4, 50: 6, 80: 12, 100: 30} {
		r.SetMetric(CurveMetric(CurveRate, pct), 40*float64(pct), "msg/s")
		r.SetMetric(CurveMetric(CurveE2EP99, pct), p99, "ms")
		r.SetMetric(CurveMetric(CurvePublishP99, pct), p99/2, "ms")
		r.SetMetric(CurveMetric(CurveSustained, pct), 1, "bool")
	}
	rates := []float64{2000, 3000, 4500, 3750, 4000, 400, 2000, 3200}
	r.Series = map[string][]float64{SeriesStepRate: rates, SeriesStepSustained: {1, 1, 0, 1, 1, 1, 1, 1}, SeriesStepCurve: {0, 0, 0, 0, 0, 1, 1, 1}}
	for _, k := range stepSeries() {
		if r.Series[k] == nil {
			r.Series[k] = make([]float64, len(rates))
		}
	}
	return r
}

func TestAccept(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(r *result.Result)
		wantErr string
	}{
		{"accepted", func(*result.Result) {}, ""},
		{"no maximum", func(r *result.Result) { r.SetMetric(MaxSustainableMsgs, 0, "msg/s") }, "max sustainable 0 msg/s, want > 0"},
		{"maximum missing", func(r *result.Result) { delete(r.Metrics, MaxSustainableMsgs) }, "max sustainable 0 msg/s"},
		{"a message lost", func(r *result.Result) { r.Accounting.Lost = 1 }, "accounting lost 1"},
		{"interrupted", func(r *result.Result) { r.Accounting.Complete = false }, "complete false"},
		{"a step missing from a series", func(r *result.Result) {
			r.Series[SeriesStepE2EP99] = r.Series[SeriesStepE2EP99][:7]
		}, "series step_e2e_p99_ms has 7 values, want one per step (8)"},
		{"a step not counted", func(r *result.Result) { r.SetMetric(Steps, 9, "count") }, "series step_rate has 8 values, want one per step (9)"},
		{"CPU series short", func(r *result.Result) { r.Series[SeriesStepCPU] = []float64{1, 2} }, "series step_cpu_s_per_million has 2 values"},
		{"no search step", func(r *result.Result) { r.SetMetric(SearchSteps, 0, "count") }, "0 search steps of 8 steps"},
		{"maximum not among the steps", func(r *result.Result) { r.Series[SeriesStepSustained][4] = 0 }, "no sustained search step at the maximum 4000"},
		{"failed below the maximum", func(r *result.Result) { r.SetMetric(FailedAboveMsgs, 3500, "msg/s") }, "lowest failed rate 3500"},
		{"maximum over the objective", func(r *result.Result) { r.SetMetric(CurveMetric(CurveE2EP99, 100), 51, "ms") }, "curve_e2e_p99_ms at the maximum 51 ms"},
		{"maximum point missing", func(r *result.Result) { delete(r.Metrics, CurveMetric(CurvePublishP99, 100)) }, "curve_publish_p99_ms at the maximum 0 ms (present false)"},
		{"maximum not sustained", func(r *result.Result) { r.SetMetric(CurveMetric(CurveSustained, 100), 0, "bool") }, "not marked sustained"},
		{"no harness ceiling", func(r *result.Result) { delete(r.Metrics, HarnessCeilingMsgs) }, "harness_ceiling_msgs = 0 (present false)"},
		{"no harness floor", func(r *result.Result) { delete(r.Metrics, HarnessFloorE2EP99) }, "harness_floor_e2e_p99_ms = 0"},
		{"publish-only not measured", func(r *result.Result) { r.SetMetric(PublishOnlyMsgs, 0, "msg/s") }, "publish_only_msgs = 0 (present true)"},
		{"drain-only not measured", func(r *result.Result) { delete(r.Metrics, DrainOnlyMsgs) }, "drain_only_msgs"},
		{"empty result", func(r *result.Result) { *r = result.Result{} }, "max sustainable 0 msg/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := acceptedResult()
			tt.mutate(r)
			err := Scenario{}.Accept(r, driver.Capabilities{})
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Accept: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestFigures(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *result.Result)
		got    func(r *result.Result) present.Figure
		ok     bool
		value  float64
		label  string
	}{
		{"headline", func(*result.Result) {}, Scenario{}.Headline, true, 4000, "max sustainable"},
		{"headline without a maximum", func(r *result.Result) { delete(r.Metrics, MaxSustainableMsgs) }, Scenario{}.Headline, false, 0, "max sustainable"},
		{"throughput", func(*result.Result) {}, throughputOf, true, 4000, "max sustainable"},
		{"throughput NaN", func(r *result.Result) { r.SetMetric(MaxSustainableMsgs, math.NaN(), "msg/s") }, throughputOf, false, 0, "max sustainable"},
		{"latency at the maximum", func(*result.Result) {}, latencyOf, true, 30, "end-to-end p99 at the maximum"},
		{"latency without the curve point", func(r *result.Result) { delete(r.Metrics, CurveMetric(CurveE2EP99, 100)) }, latencyOf, true, 31, "end-to-end p99"},
		{"no latency at all", func(r *result.Result) { *r = result.Result{} }, latencyOf, false, 0, "end-to-end p99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := acceptedResult()
			tt.mutate(r)
			g := tt.got(r)
			if g.Ok != tt.ok || g.Label != tt.label || (tt.ok && g.Value != tt.value) {
				t.Fatalf("got %+v, want ok %v value %v label %q", g, tt.ok, tt.value, tt.label)
			}
			if g.Label == "max sustainable" && g.Unit != "msg/s" {
				t.Fatalf("unit %q, want msg/s", g.Unit)
			}
		})
	}
}

func throughputOf(r *result.Result) present.Figure { return Scenario{}.Scoring(r).Throughput }
func latencyOf(r *result.Result) present.Figure    { return Scenario{}.Scoring(r).Latency }

// TestCharts checks the charts name what the scenario writes: the curve
// reads the four curve points and marks the maximum, and every metric and
// series a chart names is one of the scenario's.
func TestCharts(t *testing.T) {
	r := acceptedResult()
	kinds := map[present.Kind]int{}
	for _, c := range (Scenario{}).Charts() {
		kinds[c.Kind]++
		switch c.Kind {
		case present.CurveChart:
			pts, max, marked := c.Curve.Read(r)
			want := []present.XY{{X: 400, Y: 4}, {X: 2000, Y: 6}, {X: 3200, Y: 12}, {X: 4000, Y: 30}}
			if len(pts) != len(want) {
				t.Fatalf("curve points %v, want %v", pts, want)
			}
			for i := range want {
				if pts[i] != want[i] {
					t.Fatalf("curve points %v, want %v", pts, want)
				}
			}
			if !marked || max != (present.XY{X: 4000, Y: 30}) {
				t.Fatalf("mark %v %v, want the maximum (4000, 30)", max, marked)
			}
		case present.BarChart:
			for _, b := range c.Bars {
				if _, ok := r.Metrics[b.Metric]; !ok {
					t.Errorf("bar %q names metric %q, which the scenario does not write", b.Label, b.Metric)
				}
			}
		case present.LineChart:
			if !c.PerBroker {
				t.Errorf("%q: the step chart is per broker", c.Title)
			}
			for _, l := range c.Lines {
				if _, ok := r.Series[l.Key]; !ok {
					t.Errorf("line %q names series %q, which the scenario does not write", l.Label, l.Key)
				}
			}
		}
	}
	if kinds[present.CurveChart] != 1 || kinds[present.BarChart] != 1 || kinds[present.LineChart] != 1 {
		t.Fatalf("chart kinds %v, want one curve, one bar and one line chart", kinds)
	}
}
