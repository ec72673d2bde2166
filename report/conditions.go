package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/report/stats"
)

// conditions is the box at the top of the report: under which conditions
// the figures below were measured.
type conditions struct {
	Topology  string
	Profiles  string
	Brokers   []conditionBroker
	Repeats   string
	Spread    string
	Intervals string
	Cost      string
	// Notes are those a broker's results carry in every scenario, shown
	// here once instead of in every section.
	Notes []string
}

// conditionBroker is one broker's version and what its confirm promised,
// as read back from the broker (result.Broker.Durability).
type conditionBroker struct {
	Name, Version, Promise string
	Synced, Verified, Read bool
	Source                 string
}

// conditionsOf describes the conditions of cells (all results of the
// report, grouped) for brokers.
func conditionsOf(cells present.Cells, results []*result.Result, brokers []string, ps presenters) conditions {
	c := conditions{Intervals: fmt.Sprintf("Medians over the repeats of each cell with a distribution-free confidence interval for the median (order statistics, sign test; no normality assumed). "+
		"An interval reaches %s only with %d repeats or more; with fewer it is the range of the runs, and its confidence is given beside it.", stats.Percent(stats.Level), stats.MinRepeatsForLevel)}
	c.Topology = topology(results)
	for _, b := range brokers {
		cb := conditionBroker{Name: b, Version: "–"}
		for _, r := range results {
			if r.Broker.Name != b {
				continue
			}
			if r.Broker.Version != "" {
				cb.Version = r.Broker.Version
			}
			if d := r.Broker.Durability; d != nil {
				cb.Promise, cb.Synced, cb.Verified, cb.Source, cb.Read = d.Promise, d.Synced, d.Verified, d.Source, true
			}
		}
		c.Brokers = append(c.Brokers, cb)
	}
	c.Repeats, c.Spread = repeatsAndSpread(cells, ps)
	c.Cost = costMethod(results)
	return c
}

// topology says how many nodes held a confirmed message, from the
// durability read back: "single node" when every broker said 1.
func topology(results []*result.Result) string {
	reps := map[int][]string{}
	for _, r := range results {
		if d := r.Broker.Durability; d != nil && !slices.Contains(reps[d.Replicas], r.Broker.Name) {
			reps[d.Replicas] = append(reps[d.Replicas], r.Broker.Name)
		}
	}
	switch {
	case len(reps) == 0:
		return "not recorded in these results"
	case len(reps) == 1 && len(reps[1]) > 0:
		return "single node: each broker one node on the host below (one replica of every confirmed message)"
	}
	var parts []string
	for n, bs := range reps {
		sort.Strings(bs)
		parts = append(parts, fmt.Sprintf("%s: %d replica(s) per confirmed message", strings.Join(bs, ", "), n))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// repeatsAndSpread says how often the cells ran and how far their
// headline figures spread between repeats.
func repeatsAndSpread(cells present.Cells, ps presenters) (string, string) {
	lo, hi := math.MaxInt, 0
	var spreads []float64
	worst, worstCell := 0.0, ""
	for s, byBroker := range cells {
		for b, g := range byBroker {
			lo, hi = min(lo, len(g)), max(hi, len(g))
			var vs []float64
			for _, r := range g {
				if h := HeadlineOf(r, ps[s]); h.Ok {
					vs = append(vs, h.Value)
				}
			}
			if len(vs) < 2 {
				continue
			}
			sum := stats.Summarize(vs)
			if sum.Median == 0 {
				continue
			}
			sp := (slices.Max(vs) - slices.Min(vs)) / math.Abs(sum.Median)
			spreads = append(spreads, sp)
			if sp > worst || worstCell == "" {
				worst, worstCell = sp, b+"/"+s
			}
		}
	}
	if hi <= 1 {
		return "each cell ran once (a quick matrix runs once unless --repeat is given): no confidence intervals, and the advice cannot tell a tie from a difference", "not measured (one run per cell)"
	}
	rep := fmt.Sprintf("%d runs of every cell", hi)
	if lo != hi {
		rep = fmt.Sprintf("%d to %d runs per cell", lo, hi)
	}
	rep += ", brokers interleaved (for each repeat, each broker, each scenario)"
	if len(spreads) == 0 {
		return rep, "no headline figure was measured twice"
	}
	sort.Float64s(spreads)
	return rep, fmt.Sprintf("headline range over the repeats, relative to its median: %s in the median cell, %s at most (%s)",
		pctOf(spreads[len(spreads)/2]), pctOf(worst), worstCell)
}

func pctOf(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// costMethod says how the results' broker cost was measured.
func costMethod(results []*result.Result) string {
	var with, without int
	var warm []string
	for _, r := range results {
		switch {
		case r.Cost == nil:
		case r.Cost.Idle != nil && len(r.Cost.Idle.CPUPerS) > 0 && r.Cost.Seconds > 0:
			with++
		default:
			without++
		}
		if r.Cost != nil && r.Cost.WarmUp != "" && !slices.Contains(warm, r.Cost.WarmUp) {
			warm = append(warm, r.Cost.WarmUp)
		}
	}
	var s string
	switch {
	case with == 0 && without == 0:
		return "not measured: mqbench did not start the brokers, so it could not read their CPU"
	case without == 0:
		s = "net of an idle baseline: each run's broker CPU minus the broker's idle CPU rate over the same time, measured on the same broker just before the run (consecutive 1 s windows with no load); the spread of those windows is the idle noise, and the advice does not rank brokers on a cost difference within it"
	case with == 0:
		s = "raw: the broker's CPU during each run, idle and background work included (no idle baseline in these results)"
	default:
		s = fmt.Sprintf("mixed: %d runs net of an idle baseline, %d raw (results written before the baseline existed)", with, without)
	}
	if len(warm) == 0 {
		return s + ". Start-up work: no warm-up recorded (a broker started just before a run may show its start-up work in it)"
	}
	return s + ". Start-up and JIT warm-up kept out by " + strings.Join(warm, "; ")
}

// claimRow is one claim of the common wisdom with its decision.
type claimRow struct {
	Broker, Text, Rule string
	Verdict            present.Verdict
	Class              string
	Figures            []string
}

// decideClaims applies each claim's rule to the complete results of cells.
func decideClaims(claims []present.Claim, cells present.Cells, overall Advice) []claimRow {
	ev := present.Evidence{Cells: completeOnly(cells), Recommended: overall.Winner, Advice: overall.Reason}
	var rows []claimRow
	for _, c := range claims {
		d := present.Decision{Verdict: present.NotMeasured}
		if c.Decide != nil {
			d = c.Decide(ev)
		}
		row := claimRow{Broker: dash(c.Broker), Text: c.Text, Rule: c.Rule, Verdict: d.Verdict, Figures: d.Figures}
		switch d.Verdict {
		case present.Supported:
			row.Class = "pass"
		case present.Contradicted:
			row.Class = "fail"
		default:
			row.Class = "missing"
		}
		rows = append(rows, row)
	}
	return rows
}
