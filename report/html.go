// Package report renders results (package report/result) into one
// self-contained HTML report with comparison and selection advice.
package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mqbench/mqbench/report/result"

	"gonum.org/v1/plot/plotter"
)

//go:embed report.html.tmpl
var pageTemplate string

// Options shape a report.
type Options struct {
	// Title heads the page; empty means "mqbench report".
	Title string
	// Weights for the selection advice.
	Weights Weights
	// Compare, when non-empty, is a second set of results shown side by
	// side with deltas; CompareLabel names it.
	Compare      []*result.Result
	CompareLabel string
	Label        string // names the main set in the comparison
}

// scenarioOrder is the order scenarios appear in.
var scenarioOrder = []string{"pubsub", "async", "decoupling", "peakshaving", "transaction"}

// page is what the template renders.
type page struct {
	Title      string
	Generated  string
	Hosts      []result.Environment
	Profiles   string
	Brokers    []brokerRow
	Scenarios  []string
	Matrix     []matrixRow
	Advice     []Advice
	Overall    Advice
	Weights    string
	Sections   []section
	Deltas     []Delta
	CompareA   string
	CompareB   string
	HasCompare bool
}

type brokerRow struct {
	Name, Version, Client, ClientVersion, Protocol string
	Caps                                           []capCell
}

type capCell struct {
	Name string
	Yes  bool
}

type matrixRow struct {
	Broker string
	Cells  []matrixCell
}

type matrixCell struct {
	Present  bool
	Pass     bool
	Status   string
	Headline string
	Title    string
}

type section struct {
	Scenario   string
	Charts     []template.HTML
	Accounting []accountingRow
	Metrics    []metricRow
	MetricCols []string
	Notes      []string
	Configs    []configRow
}

type accountingRow struct {
	Broker string
	A      result.Accounting
	Tput   result.Throughput
	Cost   *result.Cost
	Pass   bool
	Status string
	Errs   []string
}

type metricRow struct {
	Name   string
	Values []string
}

type configRow struct {
	Broker, JSON string
}

// newest keeps the newest result per broker/scenario cell.
func newest(results []*result.Result) map[string]map[string]*result.Result {
	m := map[string]map[string]*result.Result{}
	for _, r := range results {
		if m[r.Scenario] == nil {
			m[r.Scenario] = map[string]*result.Result{}
		}
		if cur := m[r.Scenario][r.Broker.Name]; cur == nil || r.StartedAt.After(cur.StartedAt) {
			m[r.Scenario][r.Broker.Name] = r
		}
	}
	return m
}

// Render writes one self-contained HTML page (inline CSS and SVG, no
// script, no external reference) for results.
func Render(w io.Writer, results []*result.Result, opts Options) error {
	if len(results) == 0 {
		return fmt.Errorf("report: no results")
	}
	if opts.Title == "" {
		opts.Title = "mqbench report"
	}
	if opts.Weights == (Weights{}) {
		opts.Weights = DefaultWeights()
	}
	cells := newest(results)
	var brokers []string
	seenB := map[string]bool{}
	var brokerRows []brokerRow
	for _, r := range results {
		if !seenB[r.Broker.Name] {
			seenB[r.Broker.Name] = true
			brokers = append(brokers, r.Broker.Name)
		}
	}
	sort.Strings(brokers)
	for _, b := range brokers {
		var r *result.Result
		for _, x := range results {
			if x.Broker.Name == b && (r == nil || x.Broker.Version != "") {
				r = x
			}
		}
		c := r.Broker.Capabilities
		brokerRows = append(brokerRows, brokerRow{
			Name: b, Version: dash(r.Broker.Version), Client: r.Broker.Client, ClientVersion: r.Broker.ClientVersion, Protocol: r.Broker.Protocol,
			Caps: []capCell{{"nack", c.Nack}, {"redelivery flag", c.RedeliveryFlag}, {"per-key order", c.PerKeyOrder},
				{"competing consumers", c.CompetingConsumers}, {"fan-out", c.FanOut}, {"replay", c.Replay},
				{"persistent", c.Persistent}, {"max-length reject", c.MaxLengthReject}, {"native transaction", c.NativeTransaction}},
		})
	}
	var scen []string
	for _, s := range scenarioOrder {
		if cells[s] != nil {
			scen = append(scen, s)
		}
	}
	var extra []string
	for s := range cells {
		if !slices.Contains(scenarioOrder, s) {
			extra = append(extra, s)
		}
	}
	sort.Strings(extra)
	scen = append(scen, extra...)

	p := page{Title: opts.Title, Scenarios: scen, Brokers: brokerRows, Weights: opts.Weights.String()}
	p.Generated, p.Hosts, p.Profiles = header(results)
	for _, b := range brokers {
		row := matrixRow{Broker: b}
		for _, s := range scen {
			r := cells[s][b]
			if r == nil {
				row.Cells = append(row.Cells, matrixCell{Status: "missing"})
				continue
			}
			h := HeadlineOf(r)
			cell := matrixCell{Present: true, Pass: r.Verdict.Pass && r.Status == result.StatusComplete, Status: r.Status}
			if h.Ok {
				cell.Headline = fmt.Sprintf("%s %s%s", h.Label, num(h.Value), unitSp(h.Unit))
			}
			cell.Title = strings.Join(r.Verdict.Violations, "; ")
			row.Cells = append(row.Cells, cell)
		}
		p.Matrix = append(p.Matrix, row)
	}
	for _, s := range scen {
		var rs []*result.Result
		for _, b := range brokers {
			if r := cells[s][b]; r != nil {
				rs = append(rs, r)
			}
		}
		p.Advice = append(p.Advice, Advise(s, rs, brokers, opts.Weights))
		sec, err := buildSection(s, rs)
		if err != nil {
			return err
		}
		p.Sections = append(p.Sections, sec)
	}
	p.Overall = Overall(p.Advice, brokers)
	if len(opts.Compare) > 0 {
		p.HasCompare = true
		p.Deltas = Compare(results, opts.Compare)
		p.CompareA, p.CompareB = dash(opts.Label), dash(opts.CompareLabel)
	}
	t, err := template.New("report").Funcs(template.FuncMap{
		"num": num, "inc": func(i int) int { return i + 1 }, "pct": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"change": func(d Delta) string {
			c := d.Change()
			if math.IsNaN(c) {
				return "–"
			}
			return fmt.Sprintf("%+.1f%%", c)
		},
		"part": func(r Ranked, c string) string {
			if pt, ok := r.Parts[c]; ok {
				return fmt.Sprintf("%.2f · %s", pt.Score, pt.Figure)
			}
			return "–"
		},
	}).Parse(pageTemplate)
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// WriteHTML renders results to dir/report.html atomically and returns the
// path.
func WriteHTML(dir string, results []*result.Result, opts Options) (string, error) {
	var buf bytes.Buffer
	if err := Render(&buf, results, opts); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "report.html")
	return path, result.WriteFileAtomic(path, buf.Bytes())
}

func header(results []*result.Result) (string, []result.Environment, string) {
	var last time.Time
	hosts := []result.Environment{}
	profiles := map[string]bool{}
	for _, r := range results {
		if r.FinishedAt.After(last) {
			last = r.FinishedAt
		}
		if !slices.Contains(hosts, r.Environment) {
			hosts = append(hosts, r.Environment)
		}
		profiles[string(r.Profile)] = true
	}
	var ps []string
	for p := range profiles {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return last.UTC().Format("2006-01-02 15:04:05 UTC"), hosts, strings.Join(ps, ", ")
}

func buildSection(s string, rs []*result.Result) (section, error) {
	sec := section{Scenario: s}
	add := func(h template.HTML, err error) error {
		if err != nil {
			return err
		}
		if h != "" {
			sec.Charts = append(sec.Charts, h)
		}
		return nil
	}
	// Latency percentile distributions, one chart per latency name.
	for _, name := range latencyNames(rs) {
		var ss []series
		for _, r := range rs {
			if l := r.Latency[name]; l != nil && l.Count > 0 {
				ss = append(ss, series{name: r.Broker.Name, xys: percentileXY(percentiles(l))})
			}
		}
		if err := add(lineChart(s+": "+name+" latency by percentile", "percentile", "ms", ss, true)); err != nil {
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
	if err := add(lineChart(s+": received per second", "seconds", "messages/s", recv, false)); err != nil {
		return sec, err
	}
	if err := add(lineChart(s+": backlog (confirmed, not yet received)", "seconds", "messages", backlog, false)); err != nil {
		return sec, err
	}
	// The scenario's own charts.
	if err := scenarioCharts(s, rs, add); err != nil {
		return sec, err
	}
	// Tables.
	names := map[string]bool{}
	for _, r := range rs {
		sec.MetricCols = append(sec.MetricCols, r.Broker.Name)
		for k := range r.Metrics {
			names[k] = true
		}
		row := accountingRow{Broker: r.Broker.Name, A: r.Accounting, Tput: r.Throughput, Cost: r.Cost,
			Pass: r.Verdict.Pass && r.Status == result.StatusComplete, Status: r.Status, Errs: r.Verdict.Violations}
		sec.Accounting = append(sec.Accounting, row)
		for _, n := range r.Notes {
			sec.Notes = append(sec.Notes, r.Broker.Name+": "+n)
		}
		sec.Configs = append(sec.Configs, configRow{Broker: r.Broker.Name, JSON: configJSON(r.Config)})
	}
	var keys []string
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		row := metricRow{Name: k}
		for _, r := range rs {
			if m, ok := r.Metrics[k]; ok {
				row.Values = append(row.Values, num(m.Value)+unitSp(m.Unit))
			} else {
				row.Values = append(row.Values, "–")
			}
		}
		sec.Metrics = append(sec.Metrics, row)
	}
	return sec, nil
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

// scenarioCharts draws each scenario's own chart.
func scenarioCharts(s string, rs []*result.Result, add func(template.HTML, error) error) error {
	switch s {
	case "async":
		modes := []string{"serial", "parallel", "mq"}
		var names []string
		var p50, p99 [][]float64
		for _, r := range rs {
			names = append(names, r.Broker.Name)
			var a, b []float64
			for _, m := range modes {
				a = append(a, r.Metrics["response_p50_ms_"+m].Value)
				b = append(b, r.Metrics["response_p99_ms_"+m].Value)
			}
			p50, p99 = append(p50, a), append(p99, b)
		}
		if err := add(barChart("async: registration response time p50 by mode", "ms", modes, names, p50)); err != nil {
			return err
		}
		return add(barChart("async: registration response time p99 by mode", "ms", modes, names, p99))
	case "peakshaving":
		for _, r := range rs {
			if err := add(lineChart(fmt.Sprintf("peakshaving on %s: input against processing", r.Broker.Name), "seconds", "per second",
				[]series{seriesOf(r, "input_per_s", "input (requests/s)", false), seriesOf(r, "processed_per_s", "processed (orders/s)", false)}, false)); err != nil {
				return err
			}
			if err := add(lineChart(fmt.Sprintf("peakshaving on %s: queue depth against the threshold", r.Broker.Name), "seconds", "messages",
				[]series{seriesOf(r, "queue_depth", "queue depth", false), seriesOf(r, "threshold", "threshold", true)}, false)); err != nil {
				return err
			}
		}
		return nil
	}
	// Other scenarios: every extra series, one line per broker.
	names := map[string]bool{}
	for _, r := range rs {
		for k := range r.Series {
			names[k] = true
		}
	}
	var keys []string
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var ss []series
		for _, r := range rs {
			ss = append(ss, seriesOf(r, k, r.Broker.Name, false))
		}
		if err := add(lineChart(s+": "+k, "seconds", k, ss, false)); err != nil {
			return err
		}
	}
	return nil
}

func seriesOf(r *result.Result, key, name string, dash bool) series {
	var xys plotter.XYs
	for i, v := range r.Series[key] {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			xys = append(xys, plotter.XY{X: float64(i), Y: v})
		}
	}
	return series{name: name, xys: xys, dash: dash}
}

func num(f float64) string {
	switch {
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return fmt.Sprintf("%.0f", f)
	case math.Abs(f) >= 100:
		return fmt.Sprintf("%.1f", f)
	default:
		return fmt.Sprintf("%.3g", f)
	}
}

func unitSp(u string) string {
	if u == "" || u == "count" {
		return ""
	}
	return " " + u
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func configJSON(c any) string {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Sprint(c)
	}
	return string(b)
}
