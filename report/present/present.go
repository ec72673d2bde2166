// Package present describes how a scenario's results are shown: its
// headline figure, the figures its selection advice ranks by, its own
// charts and its acceptance check. It is plain data and functions over a
// result (package report/result) with no rendering dependency (no gonum, no
// html/template), so a scenario package implements it without importing
// plotting or package report; package report reads it and renders.
//
// A scenario opts in by implementing Presenter. Package report and the
// integration test discover it with a type assertion on the scenario, as
// database/sql discovers a driver's optional interfaces; they never name a
// scenario. A scenario that does not implement it, and a result whose
// scenario is unknown (an old result file), get package report's generic
// defaults: throughput as the headline, end-to-end p99 as the deciding
// latency, and one line chart per series of the result.
package present

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
)

// Named is a scenario as package report sees it: its name (the Scenario
// field of its results) and, when it also implements Presenter, its
// presentation. scenarios.Scenario satisfies it.
type Named interface {
	Name() string
}

// Presenter is the optional interface of a scenario that owns its
// presentation. Every method is safe on any result of the scenario,
// including an interrupted or nearly empty one, and must not modify it.
type Presenter interface {
	// Headline returns the one business figure of r, shown in the matrix
	// cell of the report and the CLI; Ok false when r lacks it.
	Headline(r *result.Result) Figure
	// Scoring returns the figures the selection advice ranks r by.
	Scoring(r *result.Result) Scoring
	// Charts describes the scenario's own charts, drawn after the latency
	// and timeline charts every scenario gets: first those across brokers
	// in the order given, then for each broker its PerBroker charts in the
	// order given. A chart none of whose data is in any result is left
	// out; one whose data is too thin to draw says so.
	Charts() []Chart
	// Accept checks a --quick result of the scenario, beyond its own
	// verdict, given the capabilities of the broker it ran on: nil means
	// accepted, else the error lists every figure out of line. The
	// integration test runs it on every real broker.
	Accept(r *result.Result, caps driver.Capabilities) error
}

// Figure is one named number read from a result.
type Figure struct {
	Label string
	Value float64
	Unit  string
	// Ok says the figure exists in the result and is finite.
	Ok bool
}

// Scoring names the figures the selection advice compares across brokers.
// A latency that is not Ok (or not above 0) is not scored. Throughput is
// scored when at least one broker's is Ok; a broker whose is not then
// scores 0 on it.
type Scoring struct {
	// Latency is the deciding latency in ms; lower is better.
	Latency Figure
	// Throughput is scored (higher is better) only where it is what the
	// scenario measures: a business scenario runs at a fixed offered rate,
	// so its received rate differs by drain timing, not by broker
	// capacity, and it leaves Throughput not Ok.
	Throughput Figure
	// Extra are further figures the advice ranks by, each in its own
	// column, in the order given (the first of equal labels counts).
	Extra []Criterion
}

// Criterion is one further figure the selection advice ranks by, besides
// Scoring's Latency and Throughput: for example a time producers were
// blocked (lower is better) or a share of throughput kept (higher is
// better). Each broker's score on it is relative to the best broker's
// (1 = best): value/best when higher is better; when lower is better
// 1 − (value − best)/worst, so that 0 can be the best value and the worst
// scores best/worst. A broker whose figure is not Ok, or is negative, is
// not scored on it.
type Criterion struct {
	// Figure is the value; its Label names the advice's column.
	Figure
	// LowerIsBetter ranks the smallest value first.
	LowerIsBetter bool
	// Weight names the user's priority (report.Weights) the criterion
	// counts under: "latency", "throughput", "reliability" or "cost". The
	// advice ignores a criterion under any other name.
	Weight string
}

// Finder is the optional interface of a scenario that says in plain words
// what a result shows (who blocked publishers, for how long, what could
// not run and why), shown in the scenario's section of the report next to
// its figures, each sentence prefixed with the broker's name. Findings
// are built only from what the result holds, never guessed; nil when there
// is nothing to say. Like Presenter's methods it is safe on any result of
// the scenario and must not modify it. Package report discovers it with a
// type assertion.
type Finder interface {
	Findings(r *result.Result) []string
}

// Unmeasured is the optional interface of a scenario that runs only in
// some setups (failover needs a cluster topology): NotMeasured says in one
// sentence what a matrix that could not run it did not measure (e.g.
// "availability not measured: ..."). The matrix puts it in the report in
// place of the scenario's section (report.Options.NotMeasured).
type Unmeasured interface {
	NotMeasured() string
}

// Kind is how a chart draws its data.
type Kind int

// The chart kinds.
const (
	// LineChart draws per-second series: Lines name keys of
	// Result.Series, x is the second of the run.
	LineChart Kind = iota + 1
	// BarChart draws grouped bars: one group per Bars entry, one bar per
	// broker.
	BarChart
	// PercentileChart draws latency distributions on an HdrHistogram-style
	// percentile axis: Lines name keys of Result.Latency.
	PercentileChart
	// CurveChart draws one curve per broker, y against x with y on a log
	// scale (a latency against a throughput), from the points Curve names,
	// joined in order of x, with each broker's maximum marked and labelled
	// with its x value.
	CurveChart
)

// Chart describes one chart as data; package report draws it.
type Chart struct {
	Kind Kind
	// Title follows the scenario name: the report titles the chart
	// "<scenario>: <Title>", or "<scenario> on <broker>: <Title>" when
	// PerBroker.
	Title string
	// XLabel and YLabel label the axes (a bar chart has no x label).
	XLabel, YLabel string
	// PerBroker draws one chart per broker with one line per Lines entry,
	// named by its Label. Otherwise one chart holds one line per broker
	// and Lines entry, named by the broker (and the Label when there is
	// more than one line).
	PerBroker bool
	// Lines are the series (LineChart) or latencies (PercentileChart) drawn.
	Lines []Line
	// Bars are the groups of a BarChart.
	Bars []Bar
	// Curve names the points of a CurveChart.
	Curve Curve
}

// Curve names the points of a CurveChart in a result: from two series,
// or from metrics.
type Curve struct {
	// XSeries and YSeries, when both are set, are Result.Series keys:
	// point i is (XSeries[i], YSeries[i]). A result whose two series
	// differ in length has no curve (its points could not be paired).
	XSeries, YSeries string
	// Points, used when the series keys are not set, name each point by
	// two Result.Metrics; a point missing either metric is left out.
	Points []Point
	// Max names the point marked as the broker's maximum by two metrics;
	// when it is zero, the point of largest x is marked. No mark is drawn
	// when its metrics are missing.
	Max Point
	// MaxLabel heads the mark's label: "<MaxLabel> <x>".
	MaxLabel string
}

// Point names one point of a curve by the Result.Metrics holding its x
// and its y.
type Point struct {
	X, Y string
}

// XY is one point of a curve as read from a result.
type XY struct {
	X, Y float64
}

// Read returns the points of c in r, in the order c names them, and the
// point marked as the maximum (marked false when there is none). Values
// are as stored: the renderer drops what it cannot draw (NaN, ±Inf, a y
// not above 0 on the log axis). With Max zero the mark is the point of
// largest finite x with a finite y.
func (c Curve) Read(r *result.Result) (pts []XY, max XY, marked bool) {
	if c.XSeries != "" && c.YSeries != "" {
		xs, ys := r.Series[c.XSeries], r.Series[c.YSeries]
		if len(xs) == len(ys) {
			for i := range xs {
				pts = append(pts, XY{xs[i], ys[i]})
			}
		}
	} else {
		for _, p := range c.Points {
			if xy, ok := p.read(r); ok {
				pts = append(pts, xy)
			}
		}
	}
	if c.Max != (Point{}) {
		max, marked = c.Max.read(r)
		return pts, max, marked
	}
	for _, p := range pts {
		if finite(p.X) && finite(p.Y) && (!marked || p.X > max.X) {
			max, marked = p, true
		}
	}
	return pts, max, marked
}

// read returns the point p names in r; ok false when a metric is missing.
func (p Point) read(r *result.Result) (XY, bool) {
	x, okX := r.Metrics[p.X]
	y, okY := r.Metrics[p.Y]
	return XY{x.Value, y.Value}, okX && okY
}

// Line is one series or latency of a chart.
type Line struct {
	// Key is the Result.Series key (LineChart) or Result.Latency key
	// (PercentileChart).
	Key string
	// Label names the line in the legend.
	Label string
	// Dashed draws a reference line (a threshold, a target).
	Dashed bool
}

// Bar is one group of a bar chart: one metric, one bar per broker.
type Bar struct {
	Label  string
	Metric string
}

// Metric returns metric name of r as a figure labelled label, in unit.
func Metric(r *result.Result, name, label, unit string) Figure {
	m, ok := r.Metrics[name]
	return Figure{Label: label, Value: m.Value, Unit: unit, Ok: ok && finite(m.Value)}
}

// EndToEndP99 returns the corrected end-to-end p99 latency of r in ms.
func EndToEndP99(r *result.Result) Figure {
	f := Figure{Label: "end-to-end p99", Unit: "ms"}
	if l := r.Latency["end_to_end"]; l != nil && l.Count > 0 && finite(l.P99) {
		f.Value, f.Ok = l.P99, true
	}
	return f
}

// Received returns the rate r's consumers received at, in msg/s; Ok when
// it is above 0.
func Received(r *result.Result) Figure {
	v := r.Throughput.ReceivedPerS
	return Figure{Label: "received", Value: v, Unit: "msg/s", Ok: v > 0 && finite(v)}
}

// First returns the first figure that is Ok, else the last one given (or
// the zero Figure when none is).
func First(fs ...Figure) Figure {
	for _, f := range fs {
		if f.Ok {
			return f
		}
	}
	if len(fs) == 0 {
		return Figure{}
	}
	return fs[len(fs)-1]
}

// Of returns s's presentation, or nil when s has none.
func Of(s Named) Presenter {
	p, _ := s.(Presenter)
	return p
}

// Check collects the problems of an acceptance check; its zero value is
// ready to use.
type Check struct {
	problems []string
}

// Expect records the problem formatted from format and args unless ok.
func (c *Check) Expect(ok bool, format string, args ...any) {
	if !ok {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// Err returns nil when every expectation held, else one error listing the
// problems in the order found, separated by "; ".
func (c *Check) Err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(c.problems, "; "))
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
