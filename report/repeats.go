package report

import (
	"fmt"
	"sort"

	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/report/stats"
)

// cellSamples groups results by scenario and broker into the repeats of
// each cell: the newest result and, when it is one of a repeated
// invocation (result.Repeat), every result of the same set, ordered by
// repeat index; else the newest result alone. Older runs of a cell outside
// the newest's set are left out, as a single run's older results always
// were.
func cellSamples(results []*result.Result) present.Cells {
	cells := present.Cells{}
	for s, byBroker := range newest(results) {
		cells[s] = map[string][]*result.Result{}
		for b, n := range byBroker {
			if n.Repeat == nil || n.Repeat.Set == "" {
				cells[s][b] = []*result.Result{n}
				continue
			}
			var g []*result.Result
			for _, r := range results {
				if r.Scenario == s && r.Broker.Name == b && r.Repeat != nil && r.Repeat.Set == n.Repeat.Set {
					g = append(g, r)
				}
			}
			sort.SliceStable(g, func(i, j int) bool { return g[i].Repeat.Index < g[j].Repeat.Index })
			cells[s][b] = g
		}
	}
	return cells
}

// headlineSummary returns the headline figure of a cell's repeats (label
// and unit from the newest that has it) and the summary of its values.
func headlineSummary(g []*result.Result, p present.Presenter) (present.Figure, stats.Summary) {
	var fig present.Figure
	var vs []float64
	for _, r := range g {
		h := HeadlineOf(r, p)
		if h.Ok {
			fig = h
			vs = append(vs, h.Value)
		}
	}
	s := stats.Summarize(vs)
	fig.Value = s.Median
	return fig, s
}

// headlineText renders a cell's headline: "<label> <median> <unit>", with
// its interval when repeated.
func headlineText(fig present.Figure, s stats.Summary) string {
	if !fig.Ok {
		return ""
	}
	t := fmt.Sprintf("%s %s%s", fig.Label, num(s.Median), unitSp(fig.Unit))
	if iv := s.Interval(num); iv != "" {
		t += " " + iv
	}
	return t
}

// completeOnly keeps the complete results of cells, for the claims: a
// failed or interrupted run decides nothing.
func completeOnly(cells present.Cells) present.Cells {
	out := present.Cells{}
	for s, byBroker := range cells {
		for b, g := range byBroker {
			for _, r := range g {
				if r.Status == result.StatusComplete {
					if out[s] == nil {
						out[s] = map[string][]*result.Result{}
					}
					out[s][b] = append(out[s][b], r)
				}
			}
		}
	}
	return out
}
