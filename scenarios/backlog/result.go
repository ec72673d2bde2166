package backlog

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// result builds the result from the stick, the producers' records and the
// marks, with the verdict when the run completed.
func (r *run) result() *result.Result {
	c := r.c
	complete := !r.m.interrupted && r.m.drainStarted
	sum := r.st.Summary(complete && r.m.drained)
	res := &result.Result{
		Config: c, Latency: sum.Latency, Throughput: sum.Throughput,
		Accounting: sum.Accounting, Timeline: sum.Timeline,
	}
	if n := sum.LostNote(); n != "" {
		res.Notes = append(res.Notes, n)
	}
	n := int((r.m.end.Sub(r.start) + time.Second - 1) / time.Second)
	res.Timeline = svc.ExtendTimeline(res.Timeline, n)
	n = len(res.Timeline)
	res.Series = map[string][]float64{}
	r.accumulateFigures(res)
	r.pressureFigures(res, n)
	if r.m.drainStarted {
		r.drainFigures(res, sum)
	}
	r.phaseSeries(res, n)
	r.stats.mu.Lock()
	res.SetMetric(MetricSendFailures, float64(r.stats.sendFailures), "count")
	if r.stats.lastSendErr != nil {
		res.Notes = append(res.Notes, lastSendErrNote+r.stats.lastSendErr.Error())
	}
	for _, err := range r.stats.consErrs {
		res.Notes = append(res.Notes, "consumer stopped: "+err.Error())
	}
	r.stats.mu.Unlock()

	a := sum.Accounting
	res.Verdict = result.Verdict{Pass: true}
	if complete {
		remaining := r.st.Missing()
		res.Verdict.Check(r.m.drained, "backlog not drained within %s of the consumers' start: %d messages remain", c.Drain, remaining)
		if r.m.drained {
			res.Verdict.Check(a.Lost == 0, "%d confirmed messages lost", a.Lost)
		}
		res.Verdict.Check(a.Confirmed > 0, "no message was confirmed")
	}
	return res
}

// merged merges the publish histograms of every producer in phase.
func (r *run) merged(phase int) *result.Latency {
	h := probe.NewHistogram()
	for _, p := range r.producers {
		h.Merge(p.rec[phase].publish)
	}
	l := probe.Summarize(h)
	l.Corrected = true
	return l
}

func (r *run) sends(phase int) []span {
	var out []span
	for _, p := range r.producers {
		out = append(out, p.rec[phase].sends...)
	}
	return out
}

// accumulateFigures records what the accumulation did.
func (r *run) accumulateFigures(res *result.Result) {
	c, m := r.c, r.m
	secs := m.accEnd.Sub(r.start).Seconds()
	res.SetMetric(MetricTargetBytes, float64(c.TargetBytes), "bytes")
	res.SetMetric(MetricBacklogMessages, float64(m.backlog), "count")
	res.SetMetric(MetricBacklogBytes, float64(m.backlog*int64(c.Size)), "bytes")
	res.SetMetric(MetricAccumulateS, secs, "s")
	reached := 0.0
	if m.endedBy == "target" {
		reached = 1
	}
	res.SetMetric(MetricReachedTarget, reached, "bool")
	if secs > 0 {
		res.SetMetric(MetricAccPublishRate, float64(m.backlog)/secs, "msg/s")
	}
	pub := r.merged(phaseAccumulate)
	res.Latency[LatencyPublishAccumulate] = pub
	svc.SetPercentile(res, MetricAccPublishP50, pub, "p50")
	svc.SetPercentile(res, MetricAccPublishP99, pub, "p99")
	svc.SetPercentile(res, MetricAccPublishMax, pub, "max")
	var note string
	switch m.endedBy {
	case "target":
		note = fmt.Sprintf("accumulation ended at the target: %d messages (%.1f MiB) sent in %.1f s, %d confirmed",
			c.targetMessages(), float64(c.targetMessages()*int64(c.Size))/(1<<20), secs, m.backlog)
	case "time bound":
		note = fmt.Sprintf("accumulation ended at the time bound (%s) before the target: %d of %d messages confirmed (%.1f MiB)",
			c.Duration, m.backlog, c.targetMessages(), float64(m.backlog*int64(c.Size))/(1<<20))
	default:
		note = fmt.Sprintf("interrupted while accumulating: %d messages confirmed", m.backlog)
	}
	res.Notes = append(res.Notes, note)
}

// pressureFigures records broker blocks, stalled sends and broker
// resources over the whole run and the accumulation.
func (r *run) pressureFigures(res *result.Result, n int) {
	c, m := r.c, r.m
	acc := findStalls(r.sends(phaseAccumulate), c.StallFactor, c.StallMin)
	dr := findStalls(r.sends(phaseDrain), c.StallFactor, c.StallMin)
	stalled := union(append(append([]span(nil), acc.spans...), dr.spans...), r.start, m.end)
	res.SetMetric(MetricSlowedS, total(stalled).Seconds(), "s")
	res.SetMetric(MetricSlowedAccS, total(union(acc.spans, r.start, m.accEnd)).Seconds(), "s")
	res.SetMetric(MetricStalledSends, float64(acc.count+dr.count), "count")
	res.SetMetric(MetricLongestSendMs, float64(max(acc.longest, dr.longest))/1e6, "ms")
	res.SetMetric(MetricMedianSendMs, float64(acc.median)/1e6, "ms")
	res.Series[SeriesSlowedMs] = perSecond(stalled, r.start, n)
	if acc.count+dr.count > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d sends stalled (over %g× their phase's median and over %s), covering %.1f s; longest send %s "+
			"(a broker that withholds confirmations without saying why, as ActiveMQ does under producer flow control, shows only here)",
			acc.count+dr.count, c.StallFactor, c.StallMin, total(stalled).Seconds(), max(acc.longest, dr.longest).Round(time.Millisecond)))
	}
	r.blockFigures(res, n)
	if rss, disk, rssOK, diskOK := r.sampler.Peak(r.start, m.end); rssOK || diskOK {
		if rssOK {
			res.SetMetric(MetricBrokerRSSPeak, rss, "MiB")
		}
		if diskOK {
			res.SetMetric(MetricBrokerDiskPeak, float64(disk)/(1<<20), "MiB")
		}
		rssS, diskS := r.sampler.Series(r.start, n)
		if rssS != nil {
			res.Series[SeriesBrokerRSS] = rssS
		}
		if diskS != nil {
			res.Series[SeriesBrokerDisk] = diskS
		}
	}
	if rss, _, ok, _ := r.sampler.Peak(r.start, m.accEnd); ok {
		res.SetMetric(MetricBrokerRSSAcc, rss, "MiB")
	}
}

// blockFigures records what the broker said about blocking producers.
func (r *run) blockFigures(res *result.Result, n int) {
	m := r.m
	br, ok := r.env.Driver.(driver.BlockReporter)
	if !ok {
		res.Notes = append(res.Notes, "the driver does not report broker blocks (driver.BlockReporter); only stalled sends show a broker slowing producers")
		return
	}
	var evs []driver.BlockEvent
	for _, e := range br.BlockEvents() {
		if e.Start.After(m.end) || (!e.Open() && e.End.Before(r.start)) {
			continue
		}
		evs = append(evs, e)
	}
	spans := blockSpans(evs, m.end)
	blocked := union(spans, r.start, m.end)
	res.SetMetric(MetricBlockedS, total(blocked).Seconds(), "s")
	res.SetMetric(MetricBlockedAccS, total(union(spans, r.start, m.accEnd)).Seconds(), "s")
	res.SetMetric(MetricBlockEvents, float64(len(evs)), "count")
	res.Series[SeriesBlockedMs] = perSecond(blocked, r.start, n)
	if len(evs) == 0 {
		res.Notes = append(res.Notes, "the broker reported no block of producers")
		return
	}
	reasons := map[string]int{}
	for _, e := range evs {
		reasons[e.Source+": "+e.Reason]++
	}
	var parts []string
	for k, v := range reasons {
		parts = append(parts, fmt.Sprintf("%s (%d×)", k, v))
	}
	sort.Strings(parts)
	res.Notes = append(res.Notes, blockNote(total(blocked).Seconds(), total(union(spans, r.start, m.accEnd)).Seconds(), strings.Join(parts, "; ")))
}

// The note of the broker's blocks: blockNote writes it, blockReasons
// (present.go) reads the broker's reasons back for the findings.
const (
	lastSendErrNote = "last send error: " // the note of the last failed Send's error, read back by the findings
	blockNotePrefix = "the broker blocked producers for "
	blockReasonsSep = " while accumulating): "
)

// blockNote says how long the broker blocked producers in all and while
// accumulating, and why in its own words (reasons).
func blockNote(all, acc float64, reasons string) string {
	return fmt.Sprintf(blockNotePrefix+"%.1f s in all (%.1f s"+blockReasonsSep+"%s", all, acc, reasons)
}

// drainFigures records the drain phase.
func (r *run) drainFigures(res *result.Result, sum probe.Summary) {
	c, m := r.c, r.m
	res.SetMetric(MetricConsumerOpenS, m.consOpen.Seconds(), "s")
	if live := m.prodStop.Sub(m.consStart).Seconds(); live > 0 && c.DrainRate > 0 && c.ProduceFor > 0 {
		var conf int64
		for _, p := range r.producers {
			conf += p.rec[phaseDrain].confirmed
		}
		res.SetMetric(MetricDrainProduceRate, float64(conf)/live, "msg/s")
		res.SetMetric(MetricDrainRateLive, float64(m.recvAtStop)/live, "msg/s")
	}
	until := m.end
	if m.drained {
		until = m.drainedAt
		res.SetMetric(MetricDrainS, m.drainedAt.Sub(m.consStart).Seconds(), "s")
	}
	if !m.catchUp.IsZero() {
		res.SetMetric(MetricCatchUpS, m.catchUp.Sub(m.consStart).Seconds(), "s")
		res.SetMetric(MetricCatchUpRecv, float64(m.recvAtCatch), "count")
	}
	dr := drainRates(m.consStart, m.catchUp, m.recvAtCatch, until, m.drainRecv)
	if dr.toEmptyOK {
		res.SetMetric(MetricDrainRateToEmpty, dr.toEmpty, "msg/s")
	}
	if dr.headlineOK {
		res.SetMetric(MetricDrainRate, dr.headline, "msg/s")
		res.Notes = append(res.Notes, dr.note)
	}
	res.SetMetric(MetricRemaining, float64(r.st.Missing()), "count")
	svc.SetPercentile(res, MetricOldestAgeMs, sum.Latency[probe.EndToEnd], "max")
	pub := r.merged(phaseDrain)
	if pub.Count > 0 {
		res.Latency[LatencyPublishDrain] = pub
		svc.SetPercentile(res, MetricDrainPublishP99, pub, "p99")
	}
	stopped := "producers did not send during the drain (drain_rate 0 or produce_for 0)"
	if c.DrainRate > 0 && c.ProduceFor > 0 {
		stopped = fmt.Sprintf("producers sent at %g msg/s for %.1f s after the consumers' start, then stopped",
			c.DrainRate, m.prodStop.Sub(m.consStart).Seconds())
	}
	res.Notes = append(res.Notes, fmt.Sprintf("consumers opened at the start of the drain (%.2f s, part of the drain time); %s", m.consOpen.Seconds(), stopped))
}

// phaseSeries records which phase each second belongs to.
func (r *run) phaseSeries(res *result.Result, n int) {
	m := r.m
	ph := make([]float64, n)
	for i := range ph {
		t := r.start.Add(time.Duration(i) * time.Second)
		switch {
		case !m.drainStarted || t.Before(m.accEnd):
			ph[i] = 0
		case t.Before(m.prodStop):
			ph[i] = 1
		default:
			ph[i] = 2
		}
	}
	res.Series[SeriesPhase] = ph
}

// rates are the drain rates of a run (see MetricDrainRate and
// MetricDrainRateToEmpty), with a note saying what the headline counts.
type rates struct {
	headline, toEmpty     float64
	headlineOK, toEmptyOK bool
	note                  string
}

// drainRates computes the drain rates from the consumers' start: the
// headline over the catch-up (catchUp, with recvAtCatch received by then;
// catchUp zero when the consumers never caught up), and the rate until
// empty (until, with recvUntil received by then: drained, or the bound).
// The headline falls back to the rate until empty when there was no
// catch-up or nothing was received before it.
func drainRates(consStart, catchUp time.Time, recvAtCatch int64, until time.Time, recvUntil int64) rates {
	var r rates
	if secs := until.Sub(consStart).Seconds(); secs > 0 {
		r.toEmpty, r.toEmptyOK = float64(recvUntil)/secs, true
	}
	if secs := catchUp.Sub(consStart).Seconds(); !catchUp.IsZero() && secs > 0 && recvAtCatch > 0 {
		r.headline, r.headlineOK = float64(recvAtCatch)/secs, true
		r.note = fmt.Sprintf("drain rate: %d messages received in the %.2f s from the consumers' start until they caught up", recvAtCatch, secs)
		return r
	}
	if r.toEmptyOK {
		r.headline, r.headlineOK = r.toEmpty, true
		why := "they never caught up"
		if !catchUp.IsZero() {
			why = "they caught up before receiving anything"
		}
		r.note = fmt.Sprintf("drain rate: %d messages received in the %.2f s from the consumers' start until the end of the drain (%s)",
			recvUntil, until.Sub(consStart).Seconds(), why)
	}
	return r
}
