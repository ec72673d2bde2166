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

	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
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
	// Scenarios is the scenario table (scenarios/catalog.Presentations):
	// it orders the sections and gives each scenario's presentation
	// (present.Presenter). A result whose scenario is not in it, or has
	// no presentation, is shown after them, in name order, with generic
	// defaults; report itself names no scenario.
	Scenarios []present.Named
	// Claims are the claims of the common wisdom the report decides
	// from the results (claims.Table), in the order shown.
	Claims []present.Claim
	// NotMeasured are sentences shown under the broker × scenario table
	// for scenarios the run could not measure in its setup, e.g. a
	// single-node matrix's "failover: availability not measured: ..."
	// (scenarios/catalog.SplitTopology builds them).
	NotMeasured []string
}

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
	Conditions conditions
	Claims     []claimRow
	// NotMeasured is Options.NotMeasured.
	NotMeasured []string
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
	Findings   []string // the scenario's plain-words findings (present.Finder), "<broker>: <sentence>"
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
	cells := cellSamples(results)
	brokers := brokerNames(results)
	scen := sectionOrder(cells, opts.Scenarios)
	ps := newPresenters(opts.Scenarios)
	p := page{Title: opts.Title, Scenarios: scen, Brokers: brokerRows(results, brokers), Weights: opts.Weights.String(), NotMeasured: opts.NotMeasured}
	p.Generated, p.Hosts, p.Profiles = header(results)
	p.Matrix = matrixRows(cells, brokers, scen, ps)
	common := commonNotes(cells, scen, brokers)
	skip := map[brokerNote]bool{}
	for _, n := range common {
		skip[n] = true
	}
	for _, s := range scen {
		var gs [][]*result.Result
		for _, b := range brokers {
			if g := cells[s][b]; len(g) > 0 {
				gs = append(gs, g)
			}
		}
		p.Advice = append(p.Advice, AdviseRepeats(s, ps[s], gs, brokers, opts.Weights))
		sec, err := buildSection(s, ps[s], gs, skip)
		if err != nil {
			return err
		}
		p.Sections = append(p.Sections, sec)
	}
	p.Overall = Overall(p.Advice, brokers)
	p.Conditions = conditionsOf(cells, results, brokers, ps)
	p.Conditions.Profiles = p.Profiles
	p.Conditions.Notes = noteLines(common, brokers)
	p.Claims = decideClaims(opts.Claims, cells, p.Overall)
	labelBrokers(&p, results)
	if len(opts.Compare) > 0 {
		p.HasCompare = true
		p.Deltas = Compare(results, opts.Compare)
		p.CompareA, p.CompareB = dash(opts.Label), dash(opts.CompareLabel)
	}
	return execute(w, p)
}

// execute renders p through the page template.
func execute(w io.Writer, p page) error {
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

// brokerNames lists the brokers of results in name order.
func brokerNames(results []*result.Result) []string {
	var brokers []string
	for _, r := range results {
		if !slices.Contains(brokers, r.Broker.Name) {
			brokers = append(brokers, r.Broker.Name)
		}
	}
	sort.Strings(brokers)
	return brokers
}

// brokerLabel is how the report names broker b where it introduces it:
// the product name an adapter gave (result.Broker.Title) followed by the
// adapter's name, which stays visible because it is what --brokers takes
// ("RabbitMQ (streams) — rabbitmq-stream"); the bare name when no result
// of b recorded a title or the title is the name.
func brokerLabel(results []*result.Result, b string) string {
	for _, r := range results {
		if r.Broker.Name == b && r.Broker.Title != "" && r.Broker.Title != b {
			return r.Broker.Title + " — " + b
		}
	}
	return b
}

// labelBrokers names the brokers by brokerLabel in the conditions box, the
// summary table and the capabilities table. The advice, the sections and
// the claims keep the adapter names they are keyed by.
func labelBrokers(p *page, results []*result.Result) {
	for i := range p.Conditions.Brokers {
		p.Conditions.Brokers[i].Name = brokerLabel(results, p.Conditions.Brokers[i].Name)
	}
	for i := range p.Matrix {
		p.Matrix[i].Broker = brokerLabel(results, p.Matrix[i].Broker)
	}
	for i := range p.Brokers {
		p.Brokers[i].Name = brokerLabel(results, p.Brokers[i].Name)
	}
}

// brokerRows describes each broker from its results, preferring one that
// knows the broker's version.
func brokerRows(results []*result.Result, brokers []string) []brokerRow {
	var rows []brokerRow
	for _, b := range brokers {
		var r *result.Result
		for _, x := range results {
			if x.Broker.Name == b && (r == nil || x.Broker.Version != "") {
				r = x
			}
		}
		c := r.Broker.Capabilities
		rows = append(rows, brokerRow{
			Name: b, Version: dash(r.Broker.Version), Client: r.Broker.Client, ClientVersion: r.Broker.ClientVersion, Protocol: r.Broker.Protocol,
			Caps: []capCell{{"nack", c.Nack}, {"redelivery flag", c.RedeliveryFlag}, {"per-key order", c.PerKeyOrder},
				{"competing consumers", c.CompetingConsumers}, {"fan-out", c.FanOut}, {"replay", c.Replay},
				{"persistent", c.Persistent}, {"max-length reject", c.MaxLengthReject}, {"native transaction", c.NativeTransaction}},
		})
	}
	return rows
}

// sectionOrder lists the scenarios that have results: those of table in
// its order, then the others in name order.
func sectionOrder(cells present.Cells, table []present.Named) []string {
	var scen, extra []string
	for _, s := range table {
		if cells[s.Name()] != nil && !slices.Contains(scen, s.Name()) {
			scen = append(scen, s.Name())
		}
	}
	for s := range cells {
		if !slices.Contains(scen, s) {
			extra = append(extra, s)
		}
	}
	sort.Strings(extra)
	return append(scen, extra...)
}

// matrixRows builds the broker × scenario table with each cell's headline.
func matrixRows(cells present.Cells, brokers, scen []string, ps presenters) []matrixRow {
	var rows []matrixRow
	for _, b := range brokers {
		row := matrixRow{Broker: b}
		for _, s := range scen {
			g := cells[s][b]
			if len(g) == 0 {
				row.Cells = append(row.Cells, matrixCell{Status: "missing"})
				continue
			}
			cell := matrixCell{Present: true, Pass: true, Status: result.StatusComplete}
			var violations []string
			for _, r := range g {
				cell.Pass = cell.Pass && r.Verdict.Pass && r.Status == result.StatusComplete
				if r.Status != result.StatusComplete {
					cell.Status = r.Status
				}
				violations = append(violations, r.Verdict.Violations...)
			}
			cell.Headline = headlineText(headlineSummary(g, ps[s]))
			cell.Title = strings.Join(violations, "; ")
			row.Cells = append(row.Cells, cell)
		}
		rows = append(rows, row)
	}
	return rows
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
