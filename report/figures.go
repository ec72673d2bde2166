package report

import (
	"fmt"
	"math"
	"slices"

	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/report/stats"
)

// brokerFigures are one broker's figures in one scenario, over the
// repeats of its cell.
type brokerFigures struct {
	broker string
	newest *result.Result
	pass   bool
	rel    float64
	relFig string
	// lat and thr summarise the usable latency and throughput figures;
	// N 0 when none is usable.
	lat, thr                    stats.Summary
	latLabel, thrLabel, thrUnit string
	cost, costNoise             stats.Summary
	extras                      map[string]present.Criterion
	extraSum                    map[string]stats.Summary
	extraOrder                  []present.Criterion
}

// figuresOf reads the figures p scores from the repeats g of one cell.
func figuresOf(p present.Presenter, g []*result.Result) brokerFigures {
	f := brokerFigures{broker: g[0].Broker.Name, newest: g[0], pass: true, rel: math.Inf(1),
		extras: map[string]present.Criterion{}, extraSum: map[string]stats.Summary{}}
	var lat, thr, cost, noise []float64
	xv := map[string][]float64{}
	for _, r := range g {
		if r.StartedAt.After(f.newest.StartedAt) {
			f.newest = r
		}
		f.pass = f.pass && r.Verdict.Pass && r.Status == result.StatusComplete
		if s, fig := reliabilityScore(r); s < f.rel {
			f.rel, f.relFig = s, fig
		}
		sc := p.Scoring(r)
		if usable(sc.Latency) {
			lat = append(lat, sc.Latency.Value)
			f.latLabel = sc.Latency.Label
		}
		if usable(sc.Throughput) {
			thr = append(thr, sc.Throughput.Value)
		}
		f.thrLabel, f.thrUnit = sc.Throughput.Label, sc.Throughput.Unit
		if c, nz, ok := costPerK(r); ok {
			cost, noise = append(cost, c), append(noise, nz)
		}
		seen := map[string]bool{}
		for _, c := range sc.Extra {
			if c.Label == "" || slices.Contains(criteria, c.Label) || (&Weights{}).field(c.Weight) == nil || seen[c.Label] {
				continue
			}
			seen[c.Label] = true
			if _, ok := f.extras[c.Label]; !ok {
				f.extras[c.Label] = c
				f.extraOrder = append(f.extraOrder, c)
			}
			if usableExtra(c.Figure) {
				xv[c.Label] = append(xv[c.Label], c.Value)
			}
		}
	}
	if len(g) > 1 {
		f.relFig += fmt.Sprintf(" (worst of %d runs)", len(g))
	}
	f.lat, f.thr = stats.Summarize(lat), stats.Summarize(thr)
	f.cost, f.costNoise = stats.Summarize(cost), stats.Summarize(noise)
	for k, v := range xv {
		f.extraSum[k] = stats.Summarize(v)
	}
	return f
}

// withInterval renders a median with its interval when repeated:
// "4.1 [3.9–4.6], 75% CI of 3 runs", else the single figure.
func withInterval(s stats.Summary) string { return withUnit(s, "") }

// withUnit is withInterval with a unit after the median: "4.1 ms
// [3.9–4.6], 75% CI of 3 runs" (unit as unitSp renders it).
func withUnit(s stats.Summary, unit string) string {
	m := num(s.Median) + unitSp(unit)
	if iv := s.Interval(num); iv != "" {
		return m + " " + iv
	}
	return m
}

// rate renders a median rate as a whole number, with its interval when
// repeated.
func rate(s stats.Summary) string {
	m := fmt.Sprintf("%.0f", s.Median)
	if iv := s.Interval(func(f float64) string { return fmt.Sprintf("%.0f", f) }); iv != "" {
		return m + " " + iv
	}
	return m
}

// scoreCosts scores the brokers' cost per 1000 deliveries (lower is
// better). A broker's band is its interval over the repeats widened by
// its idle noise on each side. A broker whose band reaches the cheapest
// broker's band scores 1, as the cheapest does: the difference is within
// the idle noise or the spread of the repeats, and the advice does not
// rank on it. The others score the cheapest band's top over their own
// band's bottom (at most 1, at least 0).
func scoreCosts(figs []brokerFigures) map[string]Part {
	out := map[string]Part{}
	var best *brokerFigures
	for i := range figs {
		if f := &figs[i]; f.cost.N > 0 && (best == nil || f.cost.Median < best.cost.Median) {
			best = f
		}
	}
	if best == nil {
		return out
	}
	bestHi := best.cost.Hi + best.costNoise.Median
	for _, f := range figs {
		if f.cost.N == 0 {
			continue
		}
		lo := f.cost.Lo - f.costNoise.Median
		fig := withInterval(f.cost) + " broker CPU s per 1000 deliveries"
		if f.costNoise.Median > 0 {
			fig += " ± " + num(f.costNoise.Median) + " idle noise"
		}
		s := 1.0
		switch {
		case lo <= bestHi:
			if f.broker != best.broker {
				fig += " (within the noise of " + best.broker + "'s: not ranked)"
			}
		case bestHi <= 0:
			s = 0
		default:
			s = math.Min(1, bestHi/lo)
		}
		out[f.broker] = Part{Score: s, Figure: fig, Sum: f.cost, Noise: f.costNoise.Median}
	}
	return out
}

// extraScores are the scenario's further criteria of one advice: the
// columns in order and each broker's parts, keyed by column label.
type extraScores struct {
	cols  []present.Criterion
	parts map[string]map[string]Part
}

// scoreExtras scores the further criteria (present.Criterion) of figs on
// each broker's median: the columns are the labels in order of first
// appearance, leaving out an empty label, one that names a fixed
// criterion, one given before by the same result, and one under a weight
// Weights does not know.
func scoreExtras(figs []brokerFigures) extraScores {
	x := extraScores{parts: map[string]map[string]Part{}}
	seen := map[string]bool{}
	for _, f := range figs {
		for _, c := range f.extraOrder {
			if !seen[c.Label] {
				seen[c.Label] = true
				x.cols = append(x.cols, c)
			}
		}
	}
	for _, col := range x.cols {
		best, worst, any := 0.0, 0.0, false
		for _, f := range figs {
			if s, ok := f.extraSum[col.Label]; ok && s.N > 0 {
				v := s.Median
				switch {
				case !any:
					best, worst, any = v, v, true
				case col.LowerIsBetter:
					best, worst = math.Min(best, v), math.Max(worst, v)
				default:
					best, worst = math.Max(best, v), math.Min(worst, v)
				}
			}
		}
		for _, f := range figs {
			sum, ok := f.extraSum[col.Label]
			if !ok || sum.N == 0 {
				continue
			}
			v := sum.Median
			var s float64
			switch {
			case col.LowerIsBetter && worst == 0:
				s = 1
			case col.LowerIsBetter:
				s = 1 - (v-best)/worst
			case best == 0:
				continue // nobody has any: not scored
			default:
				s = v / best
			}
			if x.parts[f.broker] == nil {
				x.parts[f.broker] = map[string]Part{}
			}
			x.parts[f.broker][col.Label] = Part{Score: s, Figure: withUnit(sum, f.extras[col.Label].Unit), Sum: sum}
		}
	}
	return x
}
