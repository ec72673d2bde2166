package report

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/report/stats"
)

// Weights are the user's priorities for the selection advice. Each is ≥ 0;
// a zero weight ignores that criterion.
type Weights struct {
	Latency     float64 `json:"latency"`
	Throughput  float64 `json:"throughput"`
	Reliability float64 `json:"reliability"`
	Cost        float64 `json:"cost"`
}

// DefaultWeights favour reliability: a broker that loses messages is no
// bargain at any speed.
func DefaultWeights() Weights {
	return Weights{Latency: 1, Throughput: 1, Reliability: 3, Cost: 1}
}

// maxWeight bounds a weight: weights are relative priorities, and a bound
// keeps their sums finite.
const maxWeight = 1000

// ParseWeights reads "latency=3,throughput=1,reliability=5,cost=1"; names
// not given keep their default. Each weight is a number from 0 to
// maxWeight, each name is given at most once, and at least one weight is
// above 0.
func ParseWeights(s string) (Weights, error) {
	w := DefaultWeights()
	if strings.TrimSpace(s) == "" {
		return w, nil
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return w, fmt.Errorf("weights: %q is not name=number", part)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0 && f <= maxWeight) { // NaN fails too
			return w, fmt.Errorf("weights: %s=%s: want a number from 0 to %d", k, v, maxWeight)
		}
		dst := w.field(k)
		if dst == nil {
			return w, fmt.Errorf("weights: unknown criterion %q (valid: latency, throughput, reliability, cost)", k)
		}
		if seen[k] {
			return w, fmt.Errorf("weights: %s is given twice", k)
		}
		seen[k] = true
		*dst = f
	}
	if w.Latency+w.Throughput+w.Reliability+w.Cost == 0 {
		return w, fmt.Errorf("weights: at least one must be > 0")
	}
	return w, nil
}

// field returns the weight named c, or nil for an unknown name.
func (w *Weights) field(c string) *float64 {
	switch c {
	case "latency":
		return &w.Latency
	case "throughput":
		return &w.Throughput
	case "reliability":
		return &w.Reliability
	case "cost":
		return &w.Cost
	}
	return nil
}

// String renders the weights as ParseWeights reads them.
func (w Weights) String() string {
	return fmt.Sprintf("latency=%g,throughput=%g,reliability=%g,cost=%g", w.Latency, w.Throughput, w.Reliability, w.Cost)
}

// normalized returns w scaled so that the largest weight is 1, for
// scoring: relative priorities are what the weights mean, and sums of
// scaled weights cannot overflow. A weight that is NaN or negative counts
// as 0; when one is +Inf, the infinite ones count as 1 and the rest as 0;
// when none is above 0, DefaultWeights apply.
func (w Weights) normalized() Weights {
	vals := []*float64{&w.Latency, &w.Throughput, &w.Reliability, &w.Cost}
	inf := false
	for _, v := range vals {
		if !(*v >= 0) {
			*v = 0
		}
		inf = inf || math.IsInf(*v, 1)
	}
	top := 0.0
	for _, v := range vals {
		switch {
		case inf && math.IsInf(*v, 1):
			*v = 1
		case inf:
			*v = 0
		}
		top = math.Max(top, *v)
	}
	if top == 0 {
		return DefaultWeights().normalized()
	}
	for _, v := range vals {
		*v /= top
	}
	return w
}

// HeadlineOf returns the one business figure of r shown in a matrix cell
// and by the CLI: p's Headline, or with p nil (a scenario without a
// presentation) the received rate.
func HeadlineOf(r *result.Result, p present.Presenter) present.Figure {
	return presenterOf(p).Headline(r)
}

// Ranked is one broker's place in a ranking.
type Ranked struct {
	Broker string
	Score  float64 // 0..1, weighted
	Pass   bool
	// Parts are the per-criterion scores (0..1) and the figures behind them.
	Parts map[string]Part
}

// Part is one criterion's score and the figure it came from.
type Part struct {
	Score  float64
	Figure string
	// Sum summarises the figure over the cell's repeats (N 0 for parts
	// without one, such as reliability).
	Sum stats.Summary
	// Noise widens Sum on each side (cost: the idle noise).
	Noise float64
}

// Advice is the recommendation for one scenario (or overall).
type Advice struct {
	Scenario string
	Ranking  []Ranked
	// Winner is empty when no broker passed.
	Winner  string
	Reason  string
	Missing []string // brokers with no result for this scenario
	// Caveat warns when the figures are not comparable (the brokers ran
	// with different configurations or profiles).
	Caveat string
	// Extra names the scenario's further criteria (present.Scoring.Extra)
	// in column order: keys of each Ranked's Parts beside criteria.
	Extra []string
}

// criteria in a fixed order.
var criteria = []string{"reliability", "latency", "throughput", "cost"}

func (w Weights) of(c string) float64 {
	if f := w.field(c); f != nil {
		return *f
	}
	return 0
}

// reliabilityScore is 1 for a passing verdict with nothing lost or
// duplicated, less with duplicates, 0 for a failed verdict or any loss.
func reliabilityScore(r *result.Result) (float64, string) {
	a := r.Accounting
	if !r.Verdict.Pass || r.Status != result.StatusComplete {
		return 0, fmt.Sprintf("verdict failed (%d violations)", len(r.Verdict.Violations))
	}
	if a.Lost > 0 {
		return 0, fmt.Sprintf("%d lost", a.Lost)
	}
	s := 1.0
	if a.Received > 0 && a.Duplicated > 0 {
		s -= 0.5 * math.Min(1, float64(a.Duplicated)/float64(a.Received))
	}
	return s, fmt.Sprintf("pass, lost 0, duplicated %d", a.Duplicated)
}

// costPerK is the broker CPU seconds the messages of r caused per 1000
// deliveries (result.Cost.Net: the idle baseline subtracted when it was
// measured), and the idle noise on the same scale; ok when measured (a
// finite figure, above 0 unless a baseline was subtracted).
func costPerK(r *result.Result) (c, noise float64, ok bool) {
	if r.Cost == nil || r.Accounting.Deliveries <= 0 {
		return 0, 0, false
	}
	net, nz, baseline := r.Cost.Net()
	k := float64(r.Accounting.Deliveries) / 1000
	c, noise = net/k, nz/k
	finite := !math.IsInf(c, 0) && !math.IsNaN(c) && !math.IsInf(noise, 0) && !math.IsNaN(noise)
	return c, noise, finite && (c > 0 || baseline)
}

// Advise ranks the brokers of one scenario by the figures p scores (p nil:
// the generic defaults). results holds at most one result per broker (the
// newest); brokers lists every broker expected. Every score is finite and
// within 0..1, whatever the weights and figures.
func Advise(scenario string, p present.Presenter, results []*result.Result, brokers []string, w Weights) Advice {
	var samples [][]*result.Result
	for _, r := range results {
		samples = append(samples, []*result.Result{r})
	}
	return AdviseRepeats(scenario, p, samples, brokers, w)
}

// AdviseRepeats is Advise over repeated cells: samples holds, per broker,
// the repeats of its cell (each group non-empty, one broker). A broker is
// scored on the median of each figure over its repeats; it passes only
// when every repeat passed, and its reliability is its worst repeat's.
// Two brokers whose intervals overlap on every figure that separates
// them are called tied (see explain).
func AdviseRepeats(scenario string, p present.Presenter, samples [][]*result.Result, brokers []string, w Weights) Advice {
	adv := Advice{Scenario: scenario}
	p = presenterOf(p)
	var figs []brokerFigures
	for _, g := range samples {
		if len(g) > 0 {
			figs = append(figs, figuresOf(p, g))
		}
	}
	for _, b := range brokers {
		if !slices.ContainsFunc(figs, func(f brokerFigures) bool { return f.broker == b }) {
			adv.Missing = append(adv.Missing, b)
		}
	}
	nw := w.normalized()
	extras := scoreExtras(figs)
	var cols []column
	for _, c := range criteria {
		cols = append(cols, column{c, nw.of(c)})
	}
	for _, x := range extras.cols {
		cols = append(cols, column{x.Label, nw.of(x.Weight)})
		adv.Extra = append(adv.Extra, x.Label)
	}
	costs := scoreCosts(figs)
	bestLat, bestThr := math.Inf(1), 0.0
	for _, f := range figs {
		if f.lat.N > 0 {
			bestLat = math.Min(bestLat, f.lat.Median)
		}
		if f.thr.N > 0 {
			bestThr = math.Max(bestThr, f.thr.Median)
		}
	}
	for _, f := range figs {
		rk := Ranked{Broker: f.broker, Pass: f.pass, Parts: map[string]Part{}}
		rk.Parts["reliability"] = Part{Score: f.rel, Figure: f.relFig}
		if f.lat.N > 0 {
			rk.Parts["latency"] = Part{bestLat / f.lat.Median, fmt.Sprintf("%s %s ms", f.latLabel, withInterval(f.lat)), f.lat, 0}
		}
		if bestThr > 0 {
			// A broker without the figure scores 0 where others have it.
			rk.Parts["throughput"] = Part{f.thr.Median / bestThr, fmt.Sprintf("%s %s %s", rate(f.thr), f.thrUnit, f.thrLabel), f.thr, 0}
		}
		if pt, ok := costs[f.broker]; ok {
			rk.Parts["cost"] = pt
		}
		for k, pt := range extras.parts[f.broker] {
			rk.Parts[k] = pt
		}
		var sum, wsum float64
		for _, c := range cols {
			if p, ok := rk.Parts[c.key]; ok && c.w > 0 {
				sum += c.w * p.Score
				wsum += c.w
			}
		}
		if wsum > 0 {
			rk.Score = sum / wsum
		}
		adv.Ranking = append(adv.Ranking, rk)
	}
	sortRanking(adv.Ranking)
	adv.Winner, adv.Reason = explain(adv.Ranking, cols)
	var reps []*result.Result
	for _, f := range figs {
		reps = append(reps, f.newest)
	}
	adv.Caveat = comparability(reps)
	return adv
}

// column is one scored criterion of an advice: a Parts key and its
// normalized weight.
type column struct {
	key string
	w   float64
}

// usableExtra says a further criterion's figure can be compared: present,
// finite, not negative.
func usableExtra(f present.Figure) bool {
	return f.Ok && f.Value >= 0 && !math.IsInf(f.Value, 1)
}

// usable says a scored figure can be compared: present, finite, above 0.
func usable(f present.Figure) bool {
	return f.Ok && f.Value > 0 && !math.IsInf(f.Value, 1)
}

// comparability says why results of one scenario cannot be compared
// figure for figure, or "" when they share profile and configuration.
func comparability(results []*result.Result) string {
	if len(results) < 2 {
		return ""
	}
	key := func(r *result.Result) string {
		b, _ := json.Marshal(r.Config)
		return string(r.Profile) + " " + string(b)
	}
	first := key(results[0])
	for _, r := range results[1:] {
		if key(r) != first {
			return "the brokers ran this scenario with different configurations or profiles (see Configuration below): compare the figures with care"
		}
	}
	return ""
}

// sortRanking puts passing brokers first, then by score, then by name.
func sortRanking(rs []Ranked) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Pass != rs[j].Pass {
			return rs[i].Pass
		}
		if rs[i].Score != rs[j].Score {
			return rs[i].Score > rs[j].Score
		}
		return rs[i].Broker < rs[j].Broker
	})
}

// explain names the winner and the figures that decided against the
// runner-up, in plain words; cols are the scored columns with their
// normalized weights.
func explain(rs []Ranked, cols []column) (string, string) {
	if len(rs) == 0 {
		return "", "no results"
	}
	top := rs[0]
	if !top.Pass {
		return "", "no broker passed this scenario's invariants; none is recommended (best score, failed: " + top.Broker + ")"
	}
	if len(rs) == 1 {
		return top.Broker, top.Broker + " is the only broker measured here; it passed (" + top.Parts["reliability"].Figure + ")"
	}
	next := rs[1]
	type gap struct {
		c string
		d float64
	}
	var gaps []gap
	for _, c := range cols {
		a, okA := top.Parts[c.key]
		b, okB := next.Parts[c.key]
		if okA && okB && c.w > 0 {
			gaps = append(gaps, gap{c.key, c.w * (a.Score - b.Score)})
		}
	}
	sort.SliceStable(gaps, func(i, j int) bool { return gaps[i].d > gaps[j].d })
	var because, overlap []string
	for _, g := range gaps {
		if g.d <= 0 {
			break
		}
		if top.Parts[g.c].overlaps(next.Parts[g.c]) {
			overlap = append(overlap, g.c)
			continue
		}
		if len(because) < 2 {
			because = append(because, fmt.Sprintf("%s (%s vs %s for %s)", g.c, top.Parts[g.c].Figure, next.Parts[g.c].Figure, next.Broker))
		}
	}
	reason := fmt.Sprintf("%s scores %.2f against %.2f for %s", top.Broker, top.Score, next.Score, next.Broker)
	if !next.Pass {
		reason += " (which failed its verdict)"
	}
	switch {
	case len(because) == 0 && len(overlap) > 0 && next.Pass:
		return top.Broker, reason + fmt.Sprintf("; but %s and %s are tied: their intervals overlap on %s, every figure that separates them; more repeats are needed to separate them on %s",
			top.Broker, next.Broker, strings.Join(overlap, " and "), strings.Join(overlap, " and "))
	case len(because) > 0:
		reason += "; decided by " + strings.Join(because, " and ")
	}
	if len(overlap) > 0 && next.Pass {
		reason += "; on " + strings.Join(overlap, " and ") + " their intervals overlap (more repeats would be needed to separate them there)"
	}
	if top.Score-next.Score < 0.02 && next.Pass {
		reason += "; the two are within 2%: treat them as equal on these numbers"
	}
	return top.Broker, reason
}

// overlaps says two brokers' parts cannot be told apart: both have an
// interval over repeats (or a noise band) and the intervals, widened by
// their noise, share a value. Single runs without noise never overlap:
// with one run there is nothing to say they could.
func (p Part) overlaps(o Part) bool {
	if p.Sum.N == 0 || o.Sum.N == 0 {
		return false
	}
	if !(p.Sum.Repeated() && o.Sum.Repeated()) && p.Noise == 0 && o.Noise == 0 {
		return false
	}
	return p.Sum.Lo-p.Noise <= o.Sum.Hi+o.Noise && o.Sum.Lo-o.Noise <= p.Sum.Hi+p.Noise
}

// Overall ranks brokers by their mean score over the scenarios, counting a
// missing or failed cell as 0 and saying so.
func Overall(per []Advice, brokers []string) Advice {
	adv := Advice{Scenario: "overall"}
	for _, b := range brokers {
		rk := Ranked{Broker: b, Pass: true, Parts: map[string]Part{}}
		var sum float64
		var failed, missing []string
		for _, a := range per {
			found := false
			for _, r := range a.Ranking {
				if r.Broker == b {
					found = true
					if r.Pass {
						sum += r.Score
					} else {
						failed = append(failed, a.Scenario)
					}
					rk.Parts[a.Scenario] = Part{Score: r.Score, Figure: fmt.Sprintf("%.2f", r.Score)}
				}
			}
			if !found {
				missing = append(missing, a.Scenario)
			}
		}
		if len(per) > 0 {
			rk.Score = sum / float64(len(per))
		}
		rk.Pass = len(failed) == 0 && len(missing) == 0
		if len(failed) > 0 {
			rk.Parts["failed"] = Part{Figure: strings.Join(failed, ", ")}
		}
		if len(missing) > 0 {
			rk.Parts["missing"] = Part{Figure: strings.Join(missing, ", ")}
			adv.Missing = append(adv.Missing, b+" ("+strings.Join(missing, ", ")+")")
		}
		adv.Ranking = append(adv.Ranking, rk)
	}
	sortRanking(adv.Ranking)
	if len(adv.Ranking) == 0 {
		adv.Reason = "no results"
		return adv
	}
	top := adv.Ranking[0]
	if !top.Pass {
		adv.Reason = "no broker passed every scenario it ran with none missing; none is recommended overall (best mean score: " + top.Broker + ")"
		return adv
	}
	adv.Winner = top.Broker
	adv.Reason = fmt.Sprintf("%s has the best mean score over %d scenarios (%.2f)", top.Broker, len(per), top.Score)
	if len(adv.Ranking) > 1 {
		n := adv.Ranking[1]
		adv.Reason += fmt.Sprintf(", ahead of %s (%.2f", n.Broker, n.Score)
		if !n.Pass {
			adv.Reason += ", with failed or missing cells"
		}
		adv.Reason += ")"
	}
	return adv
}
