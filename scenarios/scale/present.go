package scale

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// KeptAt is the destination count of the headline: the throughput kept at
// KeptAt destinations relative to one.
const KeptAt = 100

// Headline implements present.Presenter: the received rate at KeptAt
// destinations as a percentage of the rate at one destination.
func (Scenario) Headline(r *result.Result) present.Figure {
	return kept(r, KeptAt)
}

// Scoring implements present.Presenter: the advice ranks by the
// throughput kept at KeptAt destinations (a broker whose step could not
// run scores 0 on it where others have it) and by the end-to-end p99 at
// KeptAt destinations.
func (Scenario) Scoring(r *result.Result) present.Scoring {
	name := fmt.Sprintf("dest%d", KeptAt)
	return present.Scoring{
		Latency:    present.Metric(r, StepMetric(name, SuffixE2EP99), fmt.Sprintf("e2e p99 at %d destinations", KeptAt), "ms"),
		Throughput: kept(r, KeptAt),
	}
}

// kept returns the received rate at n destinations as a percentage of the
// rate at one; Ok when both steps ran and the rate at one is above 0.
func kept(r *result.Result, n int) present.Figure {
	f := present.Figure{Label: fmt.Sprintf("kept at %d destinations", n), Unit: "%"}
	at := func(n int) (float64, bool) {
		name := fmt.Sprintf("dest%d", n)
		v, ok := r.Metrics[StepMetric(name, SuffixReceivedPerS)]
		return v.Value, ok && r.Metrics[StepMetric(name, SuffixOK)].Value == 1
	}
	one, okOne := at(1)
	many, okMany := at(n)
	if okOne && okMany && one > 0 {
		f.Value = 100 * many / one
		f.Ok = f.Value >= 0 && f.Value < 1e9
	}
	return f
}

// Charts implements present.Presenter: across brokers, per step of the
// default steps (a step no result has is left out), the received rate,
// the end-to-end p99, the broker's peak RSS and the setup time; and the
// broker's RSS over the run.
func (Scenario) Charts() []present.Chart {
	bars := func(suffix string) []present.Bar {
		var out []present.Bar
		for _, s := range (Scenario{}).DefaultConfig(false).(*Config).steps() {
			out = append(out, present.Bar{Label: stepLabel(s.name), Metric: StepMetric(s.name, suffix)})
		}
		return out
	}
	return []present.Chart{
		{Kind: present.BarChart, Title: "received rate per step", YLabel: "msg/s", Bars: bars(SuffixReceivedPerS)},
		{Kind: present.BarChart, Title: "end-to-end p99 per step", YLabel: "ms", Bars: bars(SuffixE2EP99)},
		{Kind: present.BarChart, Title: "broker peak RSS per step", YLabel: "MiB", Bars: bars(SuffixBrokerRSS)},
		{Kind: present.BarChart, Title: "setup time per step (provision and open)", YLabel: "seconds", Bars: bars(SuffixSetupS)},
		{Kind: present.LineChart, Title: "broker RSS", XLabel: "seconds", YLabel: "MiB", Lines: []present.Line{{Key: SeriesBrokerRSS}}},
	}
}

// stepLabel names a step for a chart: "100 dest." or "10 conn.".
func stepLabel(name string) string {
	if n, ok := strings.CutPrefix(name, "dest"); ok {
		return n + " dest."
	}
	if n, ok := strings.CutPrefix(name, "conn"); ok {
		return n + " conn."
	}
	return name
}

// Accept implements present.Presenter. Every step was attempted and
// either ran or says why not with the broker's own error (a step the
// broker cannot do on this machine is a finding, not a failure); at least
// one ran; every step that ran lost nothing it confirmed and drained
// (each destination and connection count keeps what the broker
// confirmed).
func (Scenario) Accept(r *result.Result, _ driver.Capabilities) error {
	var c present.Check
	steps := stepsOf(r)
	c.Expect(len(steps) > 0 && float64(len(steps)) == r.Metrics[MetricSteps].Value,
		"%d steps reported, %v attempted, want every attempted step reported", len(steps), r.Metrics[MetricSteps].Value)
	c.Expect(r.Accounting.Lost == 0, "lost %d, want 0", r.Accounting.Lost)
	ran := 0
	for _, s := range steps {
		m := func(suffix string) float64 { return r.Metrics[StepMetric(s.name, suffix)].Value }
		if !s.ran {
			c.Expect(notRunError(r, s.name) != "", "step %s could not run and no note gives the broker's error", s.name)
			continue
		}
		ran++
		c.Expect(m(SuffixLost) == 0, "step %s lost %v, want 0", s.name, m(SuffixLost))
		c.Expect(m(SuffixDrained) == 1, "step %s not drained", s.name)
		c.Expect(m(SuffixConfirmed) > 0, "step %s confirmed %v, want > 0", s.name, m(SuffixConfirmed))
	}
	c.Expect(ran > 0, "no step ran")
	return c.Err()
}

// stepRef is one step as a result shows it.
type stepRef struct {
	name string
	dest bool // a destination step, else a connection step
	n    int
	ran  bool
}

// stepsOf lists the steps of r (those with a <step>_ok metric): the
// destination steps, then the connection steps, each by count.
func stepsOf(r *result.Result) []stepRef {
	var out []stepRef
	for k, m := range r.Metrics {
		name, ok := strings.CutSuffix(k, "_"+SuffixOK)
		if !ok {
			continue
		}
		s := stepRef{name: name, ran: m.Value == 1}
		var num string
		if num, s.dest = strings.CutPrefix(name, "dest"); !s.dest {
			if num, ok = strings.CutPrefix(name, "conn"); !ok {
				continue
			}
		}
		if n, err := strconv.Atoi(num); err == nil {
			s.n = n
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b stepRef) int {
		if a.dest != b.dest {
			if a.dest {
				return -1
			}
			return 1
		}
		return a.n - b.n
	})
	return out
}

// notRunError is the broker's error of step name that could not run, read
// from its note, or "".
func notRunError(r *result.Result, name string) string {
	for _, n := range r.Notes {
		if rest, ok := strings.CutPrefix(n, "step "+name+" ("); ok {
			if _, err, ok := strings.Cut(rest, notRunSep); ok {
				return err
			}
		}
	}
	return ""
}
