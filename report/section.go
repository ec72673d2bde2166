package report

import (
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strings"

	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/report/stats"

	"gonum.org/v1/plot/plotter"
)

// buildSection builds scenario s's section from its results gs (the
// repeats of each broker's cell) and its presentation p (nil: generic
// defaults). Charts and findings come from each broker's newest repeat;
// the accounting lists every repeat; the metrics are medians over them.
//
// Notes in skip (shown in the conditions box) are left out.
func buildSection(s string, p present.Presenter, gs [][]*result.Result, skip map[brokerNote]bool) (section, error) {
	sec := section{Scenario: s}
	var rs []*result.Result
	for _, g := range gs {
		rs = append(rs, newestOf(g))
	}
	add := func(hs []template.HTML, err error) error {
		if err != nil {
			return err
		}
		for _, h := range hs {
			if h != "" {
				sec.Charts = append(sec.Charts, h)
			}
		}
		return nil
	}
	// Latency percentile distributions, one chart per latency name.
	for _, name := range latencyNames(rs) {
		c := present.Chart{Kind: present.PercentileChart, Title: name + " latency by percentile", XLabel: "percentile", YLabel: "ms",
			Lines: []present.Line{{Key: name}}}
		if err := add(drawChart(s, c, rs)); err != nil {
			return sec, err
		}
	}
	// Throughput and backlog over time.
	var recv, backlog []series
	for _, r := range rs {
		var a, b plotter.XYs
		for _, t := range r.Timeline {
			a = append(a, plotter.XY{X: float64(t.T), Y: float64(t.Received)})
			b = append(b, plotter.XY{X: float64(t.T), Y: float64(t.Backlog)})
		}
		recv = append(recv, series{name: r.Broker.Name, xys: a})
		backlog = append(backlog, series{name: r.Broker.Name, xys: b})
	}
	if err := add(one(lineChart(s+": received per second", "seconds", "messages/s", recv, false))); err != nil {
		return sec, err
	}
	if err := add(one(lineChart(s+": backlog (confirmed, not yet received)", "seconds", "messages", backlog, false))); err != nil {
		return sec, err
	}
	// The scenario's own charts: those across brokers, then each broker's.
	charts := presenterOf(p).Charts()
	if p == nil {
		charts = seriesCharts(rs)
	}
	for _, c := range charts {
		if !c.PerBroker {
			if err := add(drawChart(s, c, rs)); err != nil {
				return sec, err
			}
		}
	}
	for _, r := range rs {
		for _, c := range charts {
			if c.PerBroker {
				if err := add(drawChart(s, c, []*result.Result{r})); err != nil {
					return sec, err
				}
			}
		}
	}
	tables(&sec, gs, skip)
	if f, ok := p.(present.Finder); ok {
		for _, r := range rs {
			for _, line := range f.Findings(r) {
				sec.Findings = append(sec.Findings, r.Broker.Name+": "+line)
			}
		}
	}
	return sec, nil
}

// one wraps a single chart for buildSection's add.
func one(h template.HTML, err error) ([]template.HTML, error) { return []template.HTML{h}, err }

// tables fills the accounting, metrics, notes and configuration tables of
// sec from gs (the repeats of each broker's cell): one accounting row per
// repeat, each metric's median over the repeats with its interval, and
// each note once (see noteLines).
func tables(sec *section, gs [][]*result.Result, skip map[brokerNote]bool) {
	names := map[string]bool{}
	var notes []brokerNote
	for _, g := range gs {
		r0 := newestOf(g)
		sec.MetricCols = append(sec.MetricCols, r0.Broker.Name)
		for _, r := range g {
			for k := range r.Metrics {
				names[k] = true
			}
			label := r.Broker.Name
			if len(g) > 1 && r.Repeat != nil {
				label = fmt.Sprintf("%s #%d", label, r.Repeat.Index)
			}
			row := accountingRow{Broker: label, A: r.Accounting, Tput: r.Throughput, Cost: r.Cost,
				Pass: r.Verdict.Pass && r.Status == result.StatusComplete, Status: r.Status, Errs: r.Verdict.Violations}
			sec.Accounting = append(sec.Accounting, row)
			for _, n := range r.Notes {
				if bn := (brokerNote{r.Broker.Name, n}); !skip[bn] {
					notes = append(notes, bn)
				}
			}
		}
		sec.Configs = append(sec.Configs, configRow{Broker: r0.Broker.Name, JSON: configJSON(r0.Config)})
	}
	sec.Notes = noteLines(notes, sec.MetricCols)
	var keys []string
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		row := metricRow{Name: k}
		for _, g := range gs {
			var vs []float64
			unit := ""
			for _, r := range g {
				if m, ok := r.Metrics[k]; ok {
					vs, unit = append(vs, m.Value), m.Unit
				}
			}
			if len(vs) == 0 {
				row.Values = append(row.Values, "–")
				continue
			}
			sum := stats.Summarize(vs)
			if sum.N == 0 { // only non-finite values: show the newest as stored
				row.Values = append(row.Values, num(vs[len(vs)-1])+unitSp(unit))
				continue
			}
			row.Values = append(row.Values, withUnit(sum, unit))
		}
		sec.Metrics = append(sec.Metrics, row)
	}
}

// brokerNote is one note of one broker's result.
type brokerNote struct{ broker, note string }

// noteLines lists each distinct note once, in order of first appearance:
// "every broker: <note>" when every broker of the section has it,
// "<b1>, <b2>: <note>" otherwise.
func noteLines(notes []brokerNote, brokers []string) []string {
	var order []string
	who := map[string][]string{}
	for _, n := range notes {
		if _, ok := who[n.note]; !ok {
			order = append(order, n.note)
		}
		if !slices.Contains(who[n.note], n.broker) {
			who[n.note] = append(who[n.note], n.broker)
		}
	}
	var out []string
	for _, n := range order {
		if len(brokers) > 1 && len(who[n]) == len(brokers) {
			out = append(out, "every broker: "+n)
			continue
		}
		out = append(out, strings.Join(who[n], ", ")+": "+n)
	}
	return out
}

// commonNotes returns the notes a broker's results carry in every
// scenario it ran, when it ran two or more (a broker's disk setting, a
// durability read-back that is partly assumed): the report shows them
// once, in the conditions box, rather than in every section. The list is
// in order of first appearance over scen and brokers.
func commonNotes(cells present.Cells, scen, brokers []string) []brokerNote {
	var out []brokerNote
	for _, b := range brokers {
		var ran []string
		for _, s := range scen {
			if len(cells[s][b]) > 0 {
				ran = append(ran, s)
			}
		}
		if len(ran) < 2 {
			continue
		}
		for _, r := range cells[ran[0]][b] {
			for _, n := range r.Notes {
				bn := brokerNote{b, n}
				if slices.Contains(out, bn) {
					continue
				}
				every := true
				for _, s := range ran[1:] {
					every = every && slices.ContainsFunc(cells[s][b], func(x *result.Result) bool { return slices.Contains(x.Notes, n) })
				}
				if every {
					out = append(out, bn)
				}
			}
		}
	}
	return out
}

// newestOf returns the newest result of the non-empty g.
func newestOf(g []*result.Result) *result.Result {
	n := g[0]
	for _, r := range g[1:] {
		if r.StartedAt.After(n.StartedAt) {
			n = r
		}
	}
	return n
}

// drawChart renders chart c of scenario s over rs: one chart across the
// brokers of rs, titled "<s>: <title>", or with c.PerBroker (and rs of one
// result) "<s> on <broker>: <title>".
func drawChart(s string, c present.Chart, rs []*result.Result) ([]template.HTML, error) {
	title := s + ": " + c.Title
	if c.PerBroker && len(rs) == 1 {
		title = fmt.Sprintf("%s on %s: %s", s, rs[0].Broker.Name, c.Title)
	}
	switch c.Kind {
	case present.BarChart:
		var names, labels []string
		var values [][]float64
		var bars []present.Bar // those some result has: a step not run is no bar of 0
		for _, b := range c.Bars {
			if slices.ContainsFunc(rs, func(r *result.Result) bool { _, ok := r.Metrics[b.Metric]; return ok }) {
				bars = append(bars, b)
				labels = append(labels, b.Label)
			}
		}
		for _, r := range rs {
			names = append(names, r.Broker.Name)
			var vs []float64
			for _, b := range bars {
				vs = append(vs, r.Metrics[b.Metric].Value)
			}
			values = append(values, vs)
		}
		return one(barChart(title, c.YLabel, labels, names, values))
	case present.LineChart, present.PercentileChart:
		var ss []series
		for _, r := range rs {
			for _, l := range c.Lines {
				ss = append(ss, lineOf(c, r, l))
			}
		}
		return one(lineChart(title, c.XLabel, c.YLabel, ss, c.Kind == present.PercentileChart))
	case present.CurveChart:
		var cs []curve
		for _, r := range rs {
			cs = append(cs, curveOf(c, r))
		}
		return one(curveChart(title, c.XLabel, c.YLabel, cs))
	}
	return nil, fmt.Errorf("chart %q: unknown kind %d", title, c.Kind)
}

// lineOf returns line l of chart c for result r, named by the line's
// label on a per-broker chart, else by the broker (and the label when the
// chart has several lines).
func lineOf(c present.Chart, r *result.Result, l present.Line) series {
	name := l.Label
	if !c.PerBroker {
		name = r.Broker.Name
		if len(c.Lines) > 1 {
			name += " " + l.Label
		}
	}
	s := series{name: name, dash: l.Dashed}
	if c.Kind == present.PercentileChart {
		if lat := r.Latency[l.Key]; lat != nil && lat.Count > 0 {
			s.xys = percentileXY(percentiles(lat))
		}
		return s
	}
	for i, v := range r.Series[l.Key] {
		s.xys = append(s.xys, plotter.XY{X: float64(i), Y: v})
	}
	return s
}

// latencyNames lists the latencies worth charting: corrected end-to-end and
// publish first, then the scenario's own; uncorrected and schedule delay
// stay in the tables only.
func latencyNames(rs []*result.Result) []string {
	seen := map[string]bool{}
	for _, r := range rs {
		for k, l := range r.Latency {
			if l != nil && l.Count > 0 && !strings.HasSuffix(k, "_uncorrected") && k != "schedule_delay" {
				seen[k] = true
			}
		}
	}
	var out []string
	for _, k := range []string{"end_to_end", "publish"} {
		if seen[k] {
			out = append(out, k)
			delete(seen, k)
		}
	}
	var rest []string
	for k := range seen {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// percentiles reads the full distribution from the histogram when stored,
// else the summary points.
func percentiles(l *result.Latency) []percentilePoint {
	if h, err := decodeHist(l.Histogram); err == nil && h.TotalCount() > 0 {
		var pts []percentilePoint
		for _, q := range []float64{0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999} {
			if q > 0 && 1/(1-q) > float64(h.TotalCount()) {
				break
			}
			pts = append(pts, percentilePoint{q, float64(h.ValueAtQuantile(q*100)) / 1e6})
		}
		return pts
	}
	return []percentilePoint{{0.5, l.P50}, {0.9, l.P90}, {0.99, l.P99}, {0.999, l.P999}}
}
