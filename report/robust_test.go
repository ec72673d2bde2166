package report

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/catalog"

	"gonum.org/v1/plot/plotter"
)

// TestChartsWithThinDataNeverPanic feeds the chart renderers data a valid
// result can hold (one sample, one second, zeros) and data an in-memory
// result can (NaN, ±Inf, overflowing ranges). Before the fix these
// panicked in gonum/plot ("Values must be greater than 0 for a log
// scale", "illegal range"), failed the whole report (NaN data point), or
// looped forever choosing ticks.
func TestChartsWithThinDataNeverPanic(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	line := func(log bool, xys ...plotter.XY) func() (string, error) {
		return func() (string, error) {
			h, err := lineChart("t", "x", "y", []series{{name: "a", xys: xys}}, log)
			return string(h), err
		}
	}
	bar := func(vals ...float64) func() (string, error) {
		return func() (string, error) {
			h, err := barChart("t", "y", []string{"a", "b", "c"}, []string{"x"}, [][]float64{vals})
			return string(h), err
		}
	}
	const drawn, thin, omitted = "drawn", "thin", "omitted"
	tests := []struct {
		name string
		draw func() (string, error)
		want string
	}{
		{"no points", line(false), omitted},
		{"one point", line(false, plotter.XY{X: 0, Y: 1}), thin},
		{"one percentile on the log axis", line(true, plotter.XY{X: 1, Y: 1}), thin},
		{"two percentiles at one x", line(true, plotter.XY{X: 1, Y: 1}, plotter.XY{X: 1, Y: 2}), thin},
		{"x at 0 on the log axis", line(true, plotter.XY{X: 0, Y: 1}, plotter.XY{X: 1, Y: 2}), thin},
		{"two percentiles", line(true, plotter.XY{X: 1, Y: 1}, plotter.XY{X: 2, Y: 2}), drawn},
		{"all zero", line(false, plotter.XY{X: 0, Y: 0}, plotter.XY{X: 1, Y: 0}), drawn},
		{"NaN dropped", line(false, plotter.XY{X: 0, Y: nan}, plotter.XY{X: 1, Y: 0}, plotter.XY{X: 2, Y: 1}), drawn},
		{"only NaN", line(false, plotter.XY{X: 0, Y: nan}, plotter.XY{X: 1, Y: nan}), thin},
		{"Inf", line(false, plotter.XY{X: 0, Y: inf}, plotter.XY{X: 1, Y: -inf}), thin},
		{"overflowing range", line(false, plotter.XY{X: 0, Y: 1e308}, plotter.XY{X: 1, Y: -1e308}), thin},
		{"huge constant", line(false, plotter.XY{X: 0, Y: 1e300}, plotter.XY{X: 1, Y: 1e300}), thin},
		{"bars all zero", bar(0, 0, 0), drawn},
		{"bars with NaN", bar(nan, 1, 2), drawn},
		{"bars only NaN", bar(nan, nan, inf), thin},
		{"bars overflowing", bar(1e308, -1e308, 0), drawn},
		{"bars none", func() (string, error) { h, err := barChart("t", "y", nil, nil, nil); return string(h), err }, omitted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := tt.draw()
			if err != nil {
				t.Fatalf("err %v, want a chart or a placeholder", err)
			}
			got := drawn
			switch {
			case h == "":
				got = omitted
			case strings.Contains(h, notEnoughData):
				got = thin
			}
			if got != tt.want {
				t.Fatalf("got %s, want %s: %.200s", got, tt.want, h)
			}
			if got != omitted && !strings.HasPrefix(h, `<svg class="chart"`) {
				t.Fatalf("not an inline chart: %.100s", h)
			}
		})
	}
}

// thinResult is a valid result of scenario s as a run with --duration 1ms
// leaves it: one latency sample with its histogram, one second of
// timeline, no scenario metrics or series.
func thinResult(s, broker string) *result.Result {
	return &result.Result{SchemaVersion: result.SchemaVersion, ID: "thin-" + s + "-" + broker, Scenario: s,
		Broker: result.Broker{Name: broker}, Profile: driver.Durable, Status: result.StatusComplete, Verdict: result.Verdict{Pass: true},
		Latency:    result.Latencies{"end_to_end": fixtureLatency(1, 1, 1), "publish": {Count: 1, P50: 0.5, P90: 0.5, P99: 0.5, P999: 0.5}},
		Timeline:   []result.Second{{T: 0, Sent: 1, Confirmed: 1, Received: 1}},
		Accounting: result.Accounting{Sent: 1, Confirmed: 1, Received: 1, Deliveries: 1, Complete: true},
		Throughput: result.Throughput{SentPerS: 1000, ReceivedPerS: 1000},
	}
}

// TestRenderThinResults renders, for every scenario of the table and one
// it does not know, results too thin to chart. Before the fix the one
// sample panicked the log percentile axis: `mqbench run --duration 1ms`
// and `mqbench report` on its directory crashed.
func TestRenderThinResults(t *testing.T) {
	names := append(catalogNames(), "unknown-scenario")
	tests := []struct {
		name   string
		mutate func(r *result.Result)
	}{
		{"one sample", func(*result.Result) {}},
		{"nothing measured", func(r *result.Result) {
			r.Latency, r.Timeline, r.Throughput = nil, nil, result.Throughput{}
			r.Accounting = result.Accounting{}
		}},
		{"empty series and zero counts", func(r *result.Result) {
			r.Latency["end_to_end"] = &result.Latency{}
			r.Series = map[string][]float64{"queue_depth": {}, "inventory_up": {0}, "step_rate": {0}, "step_received": {}}
			for _, m := range []string{"curve_rate_msgs_100", "curve_e2e_p99_ms_100", "curve_rate_msgs_50", "curve_e2e_p99_ms_50", "max_sustainable_msgs"} {
				r.SetMetric(m, 0, "")
			}
		}},
		{"non-finite figures", func(r *result.Result) {
			r.Series = map[string][]float64{"input_per_s": {math.NaN(), math.Inf(1)}, "inventory_up": {math.NaN()}, "step_rate": {math.NaN(), 1}}
			r.SetMetric("response_p50_ms_mq", math.NaN(), "ms")
			r.SetMetric("curve_rate_msgs_100", math.Inf(1), "msg/s")
			r.SetMetric("curve_e2e_p99_ms_100", math.NaN(), "ms")
			r.SetMetric("curve_rate_msgs_50", 5, "msg/s")
			r.SetMetric("curve_e2e_p99_ms_50", -1, "ms")
			r.Throughput.ReceivedPerS = math.Inf(1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs []*result.Result
			for _, s := range names {
				for _, b := range []string{"a", "b"} {
					r := thinResult(s, b)
					tt.mutate(r)
					rs = append(rs, r)
				}
			}
			var buf bytes.Buffer
			if err := Render(&buf, rs, Options{Scenarios: catalog.Presentations()}); err != nil {
				t.Fatal(err)
			}
			if tt.name == "one sample" && !strings.Contains(buf.String(), notEnoughData) {
				t.Error("a one-sample latency chart does not say " + notEnoughData)
			}
		})
	}
}

// TestScoresAreFinite ranks the fixtures under weights the CLI rejects but
// Options can carry. Before the fix latency=1e308,throughput=1e308 summed
// to +Inf and every score was NaN.
func TestScoresAreFinite(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		w    Weights
	}{
		{"huge", Weights{Latency: 1e308, Throughput: 1e308}},
		{"max float", Weights{math.MaxFloat64, math.MaxFloat64, math.MaxFloat64, math.MaxFloat64}},
		{"infinite", Weights{Latency: inf, Reliability: 1}},
		{"NaN", Weights{Latency: nan, Reliability: 1}},
		{"negative", Weights{Latency: -5, Reliability: 1}},
		{"all zero after cleaning", Weights{Latency: nan, Cost: -1}},
		{"tiny", Weights{Latency: 5e-324, Throughput: 5e-324}},
	}
	brokers := []string{"activemq", "kafka", "rabbitmq", "rocketmq"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var per []Advice
			for _, s := range catalogNames() {
				var rs []*result.Result
				for _, r := range fixtures() {
					if r.Scenario == s {
						rs = append(rs, r)
					}
				}
				a := Advise(s, presenterFor(s), rs, brokers, tt.w)
				per = append(per, a)
				for _, rk := range a.Ranking {
					if !(rk.Score >= 0 && rk.Score <= 1) {
						t.Errorf("%s/%s: score %v, want within 0..1", s, rk.Broker, rk.Score)
					}
				}
				if strings.Contains(a.Reason, "NaN") {
					t.Errorf("%s: reason %q", s, a.Reason)
				}
			}
			for _, rk := range Overall(per, brokers).Ranking {
				if !(rk.Score >= 0 && rk.Score <= 1) {
					t.Errorf("overall %s: score %v", rk.Broker, rk.Score)
				}
			}
		})
	}
}

// TestCurveChartRobust feeds the curve chart (y on a log axis) what a
// capacity result can hold: no point, one point, a latency of 0 or below
// (a log axis panics on it), NaN and ±Inf, a constant latency (gonum
// widens an empty range by ±1, below 0), and a range of many decades.
func TestCurveChartRobust(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	pts := func(xys ...float64) plotter.XYs {
		var out plotter.XYs
		for i := 0; i+1 < len(xys); i += 2 {
			out = append(out, plotter.XY{X: xys[i], Y: xys[i+1]})
		}
		return out
	}
	mark := func(x, y float64, xys plotter.XYs) curve {
		return curve{name: "a", xys: xys, max: plotter.XY{X: x, Y: y}, marked: true, label: "max"}
	}
	const drawn, thin, omitted = "drawn", "thin", "omitted"
	tests := []struct {
		name string
		cs   []curve
		want string
	}{
		{"no curve", nil, omitted},
		{"no point", []curve{{name: "a"}}, omitted},
		{"one point", []curve{{name: "a", xys: pts(1, 1)}}, thin},
		{"only a mark", []curve{mark(1, 1, nil)}, thin},
		{"two points at one x", []curve{{name: "a", xys: pts(1, 1, 1, 2)}}, thin},
		{"a zero latency dropped", []curve{{name: "a", xys: pts(1, 0, 2, 3)}}, thin},
		{"all latencies zero", []curve{{name: "a", xys: pts(1, 0, 2, 0, 3, 0)}}, thin},
		{"negative latencies", []curve{{name: "a", xys: pts(1, -1, 2, -5)}}, thin},
		{"NaN and Inf", []curve{{name: "a", xys: pts(nan, 1, 2, inf, 3, nan, -inf, 2)}}, thin},
		{"overflowing x", []curve{{name: "a", xys: pts(1e308, 1, -1e308, 2)}}, thin},
		{"a denormal latency", []curve{{name: "a", xys: pts(1, 5e-324, 2, 1e-300)}}, thin},
		{"two points", []curve{{name: "a", xys: pts(1, 1, 2, 3)}}, drawn},
		{"constant latency", []curve{{name: "a", xys: pts(1, 0.5, 2, 0.5)}}, drawn},
		{"many decades", []curve{{name: "a", xys: pts(1, 1e-9, 2, 1e15, 3, 1)}}, drawn},
		{"mark at zero latency dropped", []curve{mark(2, 0, pts(1, 1, 2, 3))}, drawn},
		{"mark NaN dropped", []curve{mark(nan, nan, pts(1, 1, 2, 3))}, drawn},
		{"mark off the curve", []curve{mark(5, 40, pts(1, 1, 2, 3))}, drawn},
		{"one point each at two x", []curve{{name: "a", xys: pts(1, 1)}, mark(2, 2, nil)}, drawn},
		{"negative throughput", []curve{{name: "a", xys: pts(-2, 1, -1, 3)}}, drawn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := curveChart("t", "x", "y", tt.cs)
			if err != nil {
				t.Fatalf("err %v, want a chart or a placeholder", err)
			}
			got := drawn
			switch {
			case h == "":
				got = omitted
			case strings.Contains(string(h), notEnoughData):
				got = thin
			case strings.Contains(string(h), "cannot draw"):
				got = "panicked"
			}
			if got != tt.want {
				t.Fatalf("got %s, want %s: %.300s", got, tt.want, h)
			}
			if got != omitted && !strings.HasPrefix(string(h), `<svg class="chart"`) {
				t.Fatalf("not an inline chart: %.100s", h)
			}
		})
	}
}

// TestLogTicks keeps every tick of a log axis above 0 and within the
// range, and their number bounded.
func TestLogTicks(t *testing.T) {
	tests := []struct {
		min, max float64
		want     []float64 // nil: only check the bounds
	}{
		{1, 100, []float64{1, 2, 5, 10, 20, 50, 100}},
		{3, 4, []float64{3, 4}}, // no 1-2-5 value inside: the ends
		{1.2, 60, []float64{2, 5, 10, 20, 50}},
		{1e-9, 1e15, nil},
		{5e-324, 1e-300, nil},
		{0, 1, []float64{}},
		{-1, 1, []float64{}},
		{math.NaN(), 1, []float64{}},
		{1, math.Inf(1), []float64{}},
	}
	for _, tt := range tests {
		ts := logTicks{}.Ticks(tt.min, tt.max)
		var got []float64
		for _, tk := range ts {
			if !(tk.Value > 0 && tk.Value >= tt.min && tk.Value <= tt.max) || tk.Label == "" {
				t.Errorf("[%g, %g]: tick %+v out of range or unlabelled", tt.min, tt.max, tk)
			}
			got = append(got, tk.Value)
		}
		if len(ts) > 40 {
			t.Errorf("[%g, %g]: %d ticks", tt.min, tt.max, len(ts))
		}
		if tt.want != nil && fmt.Sprint(got) != fmt.Sprint(tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("[%g, %g]: ticks %v, want %v", tt.min, tt.max, got, tt.want)
		}
	}
}
