package scale

import (
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// stepFigures records one step's metrics.
func (r *run) stepFigures(res *result.Result, o outcome) {
	set := func(suffix string, v float64, unit string) { res.SetMetric(StepMetric(o.s.name, suffix), v, unit) }
	ok := 0.0
	if o.err == nil {
		ok = 1
	}
	set(SuffixOK, ok, "bool")
	set(SuffixDestinations, float64(o.s.destinations), "count")
	set(SuffixProducers, float64(o.s.producers), "count")
	set(SuffixConsumers, float64(o.s.consumers), "count")
	set(SuffixPartitions, float64(max(o.s.partitions, 1)), "count")
	set(SuffixSetupS, o.setup.Seconds(), "s")
	if o.start.IsZero() {
		return // never measured
	}
	a := o.sum.Accounting
	set(SuffixSentPerS, o.sum.Throughput.SentPerS, "msg/s")
	set(SuffixReceivedPerS, o.sum.Throughput.ReceivedPerS, "msg/s")
	svc.SetPercentile(res, StepMetric(o.s.name, SuffixPublishP99), o.sum.Latency[probe.Publish], "p99")
	svc.SetPercentile(res, StepMetric(o.s.name, SuffixE2EP99), o.sum.Latency[probe.EndToEnd], "p99")
	set(SuffixConfirmed, float64(a.Confirmed), "count")
	set(SuffixLost, float64(a.Lost), "count")
	drained := 0.0
	if o.drained {
		drained = 1
	}
	set(SuffixDrained, drained, "bool")
	set(SuffixSendFailures, float64(o.failed), "count")
	if rss, _, ok, _ := r.sampler.Peak(o.start, o.end); ok {
		set(SuffixBrokerRSS, rss, "MiB")
	}
	if o.lastErr != nil {
		res.Notes = append(res.Notes, "step "+o.s.name+": last send error: "+o.lastErr.Error())
	}
	for _, err := range o.consErrs {
		res.Notes = append(res.Notes, "step "+o.s.name+": consumer stopped: "+err.Error())
	}
}

// series records which step ran in each second and the broker's RSS.
func (r *run) series(res *result.Result, start time.Time, outs []outcome) {
	n := len(res.Timeline)
	if len(outs) > 0 {
		last := outs[len(outs)-1]
		end := last.end
		if end.IsZero() {
			end = last.start
		}
		n = max(n, int(end.Sub(start)/time.Second)+1)
	}
	res.Timeline = svc.ExtendTimeline(res.Timeline, n)
	stepOf := make([]float64, n)
	for i, o := range outs {
		if o.start.IsZero() {
			continue
		}
		for t := int(o.start.Sub(start) / time.Second); t <= int(o.end.Sub(start)/time.Second) && t < n; t++ {
			stepOf[t] = float64(i + 1)
		}
	}
	res.Series[SeriesStep] = stepOf
	if rss, _ := r.sampler.Series(start, n); rss != nil {
		res.Series[SeriesBrokerRSS] = rss
	}
}
