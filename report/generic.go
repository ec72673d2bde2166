package report

import (
	"sort"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// generic is the presentation of a scenario that has none (or a result
// whose scenario the table does not know): the received rate as the
// headline, the end-to-end p99 as the deciding latency, throughput not
// scored, and one line chart per series of the results (seriesCharts).
type generic struct{}

func (generic) Headline(r *result.Result) present.Figure { return present.Received(r) }

func (generic) Scoring(r *result.Result) present.Scoring {
	return present.Scoring{Latency: present.EndToEndP99(r)}
}

func (generic) Charts() []present.Chart { return nil }

func (generic) Accept(*result.Result, driver.Capabilities) error { return nil }

// presenterOf returns p, or generic when p is nil.
func presenterOf(p present.Presenter) present.Presenter {
	if p == nil {
		return generic{}
	}
	return p
}

// presenters looks up presentations by scenario name.
type presenters map[string]present.Presenter

// newPresenters indexes the presentations of table (nil for a scenario
// without one).
func newPresenters(table []present.Named) presenters {
	ps := presenters{}
	for _, s := range table {
		ps[s.Name()] = present.Of(s)
	}
	return ps
}

// seriesCharts is the generic charts of rs: one line chart per series key,
// in name order, one line per broker.
func seriesCharts(rs []*result.Result) []present.Chart {
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
	var cs []present.Chart
	for _, k := range keys {
		cs = append(cs, present.Chart{Kind: present.LineChart, Title: k, XLabel: "seconds", YLabel: k, Lines: []present.Line{{Key: k}}})
	}
	return cs
}
