package scale

import (
	"fmt"
	"strings"

	"github.com/mqbench/mqbench/report/result"
)

// Findings implements present.Finder: the throughput kept at KeptAt
// destinations, each dimension's received rate, p99 and broker RSS step
// by step, every step that could not run with the broker's own error, and
// every step that lost messages, did not drain or had failed sends.
func (Scenario) Findings(r *result.Result) []string {
	var out []string
	if k := kept(r, KeptAt); k.Ok {
		name := fmt.Sprintf("dest%d", KeptAt)
		out = append(out, fmt.Sprintf("kept %.0f%% of its 1-destination throughput at %d destinations (%.0f vs %.0f msg/s received)", k.Value, KeptAt,
			r.Metrics[StepMetric(name, SuffixReceivedPerS)].Value, r.Metrics[StepMetric("dest1", SuffixReceivedPerS)].Value))
	}
	var dests, conns []stepRef
	for _, s := range stepsOf(r) {
		switch {
		case !s.ran:
		case s.dest:
			dests = append(dests, s)
		default:
			conns = append(conns, s)
		}
	}
	if len(dests) > 0 {
		out = append(out, dimension(r, dests, "by destinations (%s, one producer and one consumer each)"))
	}
	if len(conns) > 0 {
		out = append(out, dimension(r, conns, "by connections (%s producers and as many consumers on one destination)"))
	}
	for _, s := range stepsOf(r) {
		m := func(suffix string) float64 { return r.Metrics[StepMetric(s.name, suffix)].Value }
		switch {
		case !s.ran:
			line := "step " + s.name + " could not run on this machine"
			if e := notRunError(r, s.name); e != "" {
				line += ": " + e
			}
			out = append(out, line)
			continue
		case m(SuffixLost) > 0:
			out = append(out, fmt.Sprintf("step %s lost %.0f confirmed messages", s.name, m(SuffixLost)))
		}
		if _, ok := r.Metrics[StepMetric(s.name, SuffixDrained)]; ok && m(SuffixDrained) == 0 {
			out = append(out, fmt.Sprintf("step %s did not drain within the bound", s.name))
		}
		if m(SuffixSendFailures) > 0 {
			out = append(out, fmt.Sprintf("step %s: %.0f sends failed", s.name, m(SuffixSendFailures)))
		}
	}
	return out
}

// dimension says, for steps that ran, the received rate, end-to-end p99
// and broker peak RSS step by step; what names the steps with their counts
// (a %s).
func dimension(r *result.Result, steps []stepRef, what string) string {
	list := func(suffix, format string) string {
		var vs []string
		for _, s := range steps {
			if m, ok := r.Metrics[StepMetric(s.name, suffix)]; ok {
				vs = append(vs, fmt.Sprintf(format, m.Value))
			} else {
				vs = append(vs, "–")
			}
		}
		return strings.Join(vs, ", ")
	}
	var counts []string
	for _, s := range steps {
		counts = append(counts, fmt.Sprint(s.n))
	}
	line := fmt.Sprintf(what, strings.Join(counts, ", ")) + ": received " + list(SuffixReceivedPerS, "%.0f") + " msg/s; end-to-end p99 " +
		list(SuffixE2EP99, "%.1f") + " ms"
	has := false
	for _, s := range steps {
		_, ok := r.Metrics[StepMetric(s.name, SuffixBrokerRSS)]
		has = has || ok
	}
	if has {
		line += "; broker peak RSS " + list(SuffixBrokerRSS, "%.0f") + " MiB"
	}
	return line
}
