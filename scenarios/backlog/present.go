package backlog

import (
	"fmt"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// Headline implements present.Presenter: the rate consumers received at
// from their start until they caught up with the backlog.
func (Scenario) Headline(r *result.Result) present.Figure {
	return present.Metric(r, MetricDrainRate, "drain", "msg/s")
}

// Scoring implements present.Presenter: the advice ranks by the drain
// rate over the catch-up (the throughput this scenario measures; the rate
// until empty is bounded by how long producers go on, the same for every
// broker that catches up within it) and by how long producers
// were held up (lower is better, under the latency weight). No latency is
// scored: the oldest message's age follows from the backlog's size and the
// drain rate, and a blocked producer's publish latency is the blocking
// already scored.
func (Scenario) Scoring(r *result.Result) present.Scoring {
	return present.Scoring{
		Throughput: present.Metric(r, MetricDrainRate, "drain rate", "msg/s"),
		Extra:      []present.Criterion{{Figure: producerBlocking(r), LowerIsBetter: true, Weight: "latency"}},
	}
}

// producerBlocking is the time producers were held up, in s: the time the
// broker said it blocked them (driver.BlockReporter) or, where longer, the
// time covered by stalled sends, which is how a broker that slows
// producers without saying so shows (every result has it).
func producerBlocking(r *result.Result) present.Figure {
	b := present.Metric(r, MetricBlockedS, "producer blocking", "s")
	s := present.Metric(r, MetricSlowedS, "producer blocking", "s")
	if s.Ok && (!b.Ok || s.Value > b.Value) {
		return s
	}
	return b
}

// Charts implements present.Presenter: across brokers the rates of each
// phase, the time producers were held up, the times to catch up and
// drain, the broker's RSS and data directory over time; per broker, the
// share of each second producers were blocked or stalled. The backlog and
// received rate over time are the report's timeline charts.
func (Scenario) Charts() []present.Chart {
	return []present.Chart{
		{Kind: present.BarChart, Title: "publish and drain rates", YLabel: "msg/s", Bars: []present.Bar{
			{Label: "publish, accumulating", Metric: MetricAccPublishRate},
			{Label: "publish, draining", Metric: MetricDrainProduceRate},
			{Label: "receive, while producing", Metric: MetricDrainRateLive},
			{Label: "receive, until caught up", Metric: MetricDrainRate},
			{Label: "receive, until empty", Metric: MetricDrainRateToEmpty}}},
		{Kind: present.BarChart, Title: "producers held up", YLabel: "seconds", Bars: []present.Bar{
			{Label: "blocked by the broker", Metric: MetricBlockedS},
			{Label: "blocked, accumulating", Metric: MetricBlockedAccS},
			{Label: "stalled sends", Metric: MetricSlowedS}}},
		{Kind: present.BarChart, Title: "accumulate and drain times", YLabel: "seconds", Bars: []present.Bar{
			{Label: "accumulate", Metric: MetricAccumulateS},
			{Label: "catch up", Metric: MetricCatchUpS},
			{Label: "drain", Metric: MetricDrainS}}},
		{Kind: present.LineChart, Title: "broker RSS", XLabel: "seconds", YLabel: "MiB", Lines: []present.Line{{Key: SeriesBrokerRSS}}},
		{Kind: present.LineChart, Title: "broker data directory", XLabel: "seconds", YLabel: "MiB", Lines: []present.Line{{Key: SeriesBrokerDisk}}},
		{Kind: present.LineChart, Title: "producers blocked and stalled", XLabel: "seconds", YLabel: "ms of each second", PerBroker: true,
			Lines: []present.Line{{Key: SeriesBlockedMs, Label: "blocked by the broker"}, {Key: SeriesSlowedMs, Label: "stalled sends"}}},
	}
}

// Accept implements present.Presenter. It asks what every broker must
// guarantee under a backlog, whatever its flow control: a backlog was
// built and confirmed (the broker accepts messages with no consumer);
// nothing confirmed was lost (what it confirmed it keeps under memory and
// disk pressure); the backlog drained within the bound, at a drain rate
// above 0 (consumers get everything back). Blocking, stalls, refused
// sends and an accumulation ended by the time bound are findings, not
// failures: they depend on the broker's configured limits.
func (Scenario) Accept(r *result.Result, _ driver.Capabilities) error {
	m := func(n string) float64 { return r.Metrics[n].Value }
	var c present.Check
	c.Expect(m(MetricBacklogMessages) > 0, "backlog of %v confirmed messages, want > 0", m(MetricBacklogMessages))
	c.Expect(r.Accounting.Lost == 0, "lost %d, want 0", r.Accounting.Lost)
	_, drained := r.Metrics[MetricDrainS]
	c.Expect(drained && m(MetricRemaining) == 0, "not drained (%v remaining), want every confirmed message received", m(MetricRemaining))
	c.Expect(m(MetricDrainRate) > 0, "drain rate %v, want > 0", m(MetricDrainRate))
	return c.Err()
}

// Findings implements present.Finder: what the backlog came to, whether
// and why the broker blocked or slowed producers, failed sends, and how
// the backlog drained, from the result's figures and the broker's own
// words in its notes.
func (Scenario) Findings(r *result.Result) []string {
	f := figures{r}
	var out []string
	if s := f.accumulation(); s != "" {
		out = append(out, s)
	}
	out = append(out, f.pressure()...)
	if n, ok := f.get(MetricSendFailures); ok && n > 0 {
		s := fmt.Sprintf("%.0f sends failed", n)
		if e := noteAfter(r.Notes, lastSendErrNote, ""); e != "" {
			s += ", the last with: " + e
		}
		out = append(out, s)
	}
	if s := f.drain(); s != "" {
		out = append(out, s)
	}
	if a := r.Accounting; a.Lost > 0 {
		out = append(out, fmt.Sprintf("lost %d confirmed messages", a.Lost))
	}
	return out
}

// figures reads a result's metrics for the findings.
type figures struct{ r *result.Result }

func (f figures) get(name string) (float64, bool) {
	m, ok := f.r.Metrics[name]
	return m.Value, ok
}

// accumulation says what backlog was built, how fast, and with how much
// broker memory and disk.
func (f figures) accumulation() string {
	n, ok := f.get(MetricBacklogMessages)
	if !ok {
		return ""
	}
	bytes, _ := f.get(MetricBacklogBytes)
	secs, _ := f.get(MetricAccumulateS)
	s := fmt.Sprintf("built a backlog of %.0f messages (%s) in %.1f s", n, mib(bytes/(1<<20)), secs)
	if rate, ok := f.get(MetricAccPublishRate); ok {
		s += fmt.Sprintf(" at %.0f msg/s", rate)
	}
	if reached, ok := f.get(MetricReachedTarget); ok && reached == 0 {
		target, _ := f.get(MetricTargetBytes)
		s += fmt.Sprintf(", short of the %s target when the time bound passed", mib(target/(1<<20)))
	}
	var res []string
	if rss, ok := f.get(MetricBrokerRSSPeak); ok {
		res = append(res, "RSS "+mib(rss))
	}
	if disk, ok := f.get(MetricBrokerDiskPeak); ok {
		res = append(res, "data directory "+mib(disk))
	}
	if len(res) > 0 {
		s += "; the broker peaked at " + strings.Join(res, " and ")
	}
	return s
}

// pressure says whether and why the broker blocked or refused producers,
// and whether sends stalled.
func (f figures) pressure() []string {
	var out []string
	blocked, reports := f.get(MetricBlockedS)
	events, _ := f.get(MetricBlockEvents)
	stalls, _ := f.get(MetricStalledSends)
	switch {
	case reports && blocked > 0:
		acc, _ := f.get(MetricBlockedAccS)
		s := fmt.Sprintf("publishers blocked %.1f s by the broker (%.1f s while accumulating)", blocked, acc)
		if why := noteAfter(f.r.Notes, blockNotePrefix, blockReasonsSep); why != "" {
			s += ", in its words: " + why
		}
		if rss, ok := f.get(MetricBrokerRSSAcc); ok {
			s += fmt.Sprintf("; broker RSS up to %s while accumulating", mib(rss))
		}
		out = append(out, s)
	case reports && events > 0:
		s := fmt.Sprintf("the broker refused publishers %.0f times without blocking them", events)
		if why := noteAfter(f.r.Notes, blockNotePrefix, blockReasonsSep); why != "" {
			s += ", in its words: " + why
		}
		out = append(out, s)
	case reports && stalls == 0:
		out = append(out, "the broker neither blocked nor slowed publishers")
	}
	if stalls > 0 {
		slowed, _ := f.get(MetricSlowedS)
		longest, _ := f.get(MetricLongestSendMs)
		s := fmt.Sprintf("%.0f sends stalled, covering %.1f s (longest send %.1f s)", stalls, slowed, longest/1000)
		if !reports || blocked == 0 {
			s += ": the broker slowed publishers without saying so"
		}
		out = append(out, s)
	} else if _, ok := f.get(MetricStalledSends); ok && !reports {
		out = append(out, "no send stalled (the driver does not report broker blocks)")
	}
	return out
}

// drain says how the backlog drained, or that it did not.
func (f figures) drain() string {
	rate, ok := f.get(MetricDrainRate)
	if !ok {
		return ""
	}
	secs, drained := f.get(MetricDrainS)
	cu, caught := f.get(MetricCatchUpS)
	var s string
	switch {
	case caught:
		s = fmt.Sprintf("consumers caught up after %.1f s at %.0f msg/s", cu, rate)
		if drained {
			s += fmt.Sprintf(", drained in %.1f s", secs)
		} else {
			rem, _ := f.get(MetricRemaining)
			s += fmt.Sprintf(", but %.0f messages remained at the bound", rem)
		}
	case drained:
		s = fmt.Sprintf("drained in %.1f s at %.0f msg/s", secs, rate)
	default:
		rem, _ := f.get(MetricRemaining)
		s = fmt.Sprintf("not drained: never caught up, %.0f messages remained at the bound, received at %.0f msg/s", rem, rate)
	}
	if p, ok := f.get(MetricDrainProduceRate); ok {
		s += fmt.Sprintf(", while producers sent %.0f msg/s", p)
	}
	if age, ok := f.get(MetricOldestAgeMs); ok {
		s += fmt.Sprintf("; the oldest message waited %.1f s", age/1000)
	}
	return s
}

// mib formats a size given in MiB, in GiB from 1 GiB on.
func mib(v float64) string {
	if v >= 1024 {
		return fmt.Sprintf("%.1f GiB", v/1024)
	}
	return fmt.Sprintf("%.0f MiB", v)
}

// noteAfter returns what follows sep in the first note starting with
// prefix (sep empty: what follows the prefix), or "".
func noteAfter(notes []string, prefix, sep string) string {
	for _, n := range notes {
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok {
			continue
		}
		if sep == "" {
			return rest
		}
		if _, after, ok := strings.Cut(rest, sep); ok {
			return after
		}
	}
	return ""
}
