package scale

import (
	"context"
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// run is one run of the scenario.
type run struct {
	c       *Config
	env     scenarios.Env
	sampler *svc.BrokerSampler
}

func (r *run) run(ctx context.Context) *result.Result {
	steps := r.c.steps()
	start := time.Now()
	r.sampler = svc.StartBrokerSampler(r.env.BrokerRSS, nil, time.Second)
	defer r.sampler.Stop()
	var outs []outcome
	for i, s := range steps {
		if ctx.Err() != nil {
			break
		}
		r.env.Report(s.name, float64(i)/float64(len(steps)))
		o := r.runStep(ctx, s, i)
		outs = append(outs, o)
		if o.err != nil {
			r.env.Log.Warn("scale: step failed", "step", s.name, "err", o.err)
		}
	}
	r.sampler.Stop()
	return r.result(ctx, start, steps, outs)
}

// result assembles the steps into one result.
func (r *run) result(ctx context.Context, start time.Time, steps []step, outs []outcome) *result.Result {
	res := &result.Result{Config: r.c, Latency: result.Latencies{}, Series: map[string][]float64{}}
	a := &res.Accounting
	a.Groups = 1
	a.Complete = ctx.Err() == nil && len(outs) == len(steps)
	hists := map[string]*hdrhistogram.Histogram{}
	var weighted result.Throughput
	var measured float64
	ran, failed := 0, 0
	res.Verdict = result.Verdict{Pass: true}
	for _, o := range outs {
		r.stepFigures(res, o)
		sa := o.sum.Accounting
		if !o.start.IsZero() { // measured: every message it sent is accounted
			add(a, sa)
			a.Complete = a.Complete && sa.Complete
			mergeLatencies(hists, o.sum.Latency)
			secs := r.c.Duration.Seconds()
			weighted.SentPerS += o.sum.Throughput.SentPerS * secs
			weighted.ReceivedPerS += o.sum.Throughput.ReceivedPerS * secs
			weighted.MBPerS += o.sum.Throughput.MBPerS * secs
			measured += secs
			res.Timeline = placeTimeline(res.Timeline, o.sum.Timeline, int(o.start.Sub(start)/time.Second))
		}
		if o.err != nil {
			failed++
			res.Notes = append(res.Notes, fmt.Sprintf("step %s (%s"+notRunSep+"%v", o.s.name, describe(o.s), o.err))
			continue
		}
		ran++
		res.Notes = append(res.Notes, fmt.Sprintf("step %s (%s): %d confirmed, %d lost, drained %v", o.s.name, describe(o.s), sa.Confirmed, sa.Lost, o.drained))
		if o.complete {
			res.Verdict.Check(o.drained, "step %s: drain did not complete within %s", o.s.name, r.c.Drain)
			res.Verdict.Check(sa.Lost == 0, "step %s: %d confirmed messages lost", o.s.name, sa.Lost)
		}
	}
	for i := len(outs); i < len(steps); i++ {
		res.Notes = append(res.Notes, fmt.Sprintf("step %s (%s) not run: interrupted", steps[i].name, describe(steps[i])))
	}
	if measured > 0 {
		res.Throughput = result.Throughput{SentPerS: weighted.SentPerS / measured,
			ReceivedPerS: weighted.ReceivedPerS / measured, MBPerS: weighted.MBPerS / measured}
	}
	for name, h := range hists {
		l := probe.Summarize(h)
		l.Corrected = correctedLatency(name)
		res.Latency[name] = l
	}
	res.SetMetric(MetricSteps, float64(len(outs)), "count")
	res.SetMetric(MetricStepsFailed, float64(failed), "count")
	if ctx.Err() == nil && len(outs) > 0 {
		res.Verdict.Check(ran > 0, "no step could run")
	}
	r.series(res, start, outs)
	return res
}

// notRunSep ends the description of a step that could not run in its
// note, before the broker's error; the findings (present.go) read the
// error back after it.
const notRunSep = ") could not run: "

// describe says what a step runs.
func describe(s step) string {
	if s.destinations == 1 {
		return fmt.Sprintf("1 destination, %d producers, %d consumers", s.producers, s.consumers)
	}
	return fmt.Sprintf("%d destinations, one producer and one consumer each", s.destinations)
}

// add sums a step's accounting into a.
func add(a *result.Accounting, s result.Accounting) {
	a.Sent += s.Sent
	a.Confirmed += s.Confirmed
	a.Unconfirmed += s.Unconfirmed
	a.Rejected += s.Rejected
	a.Received += s.Received
	a.Deliveries += s.Deliveries
	a.Lost += s.Lost
	a.Duplicated += s.Duplicated
	a.Reordered += s.Reordered
	a.Foreign += s.Foreign
}

// correctedLatency says which of the stick's latencies are measured from
// the intended send time.
func correctedLatency(name string) bool {
	return name == probe.Publish || name == probe.EndToEnd
}

// mergeLatencies adds a step's latency histograms into hists.
func mergeLatencies(hists map[string]*hdrhistogram.Histogram, ls result.Latencies) {
	for name, l := range ls {
		if l == nil || l.Histogram == "" {
			continue
		}
		h, err := probe.DecodeHistogram(l.Histogram)
		if err != nil {
			continue
		}
		if hists[name] == nil {
			hists[name] = probe.NewHistogram()
		}
		hists[name].Merge(h)
	}
}

// placeTimeline adds step's seconds into tl from second off on (the
// backlog of a second is the step's).
func placeTimeline(tl, step []result.Second, off int) []result.Second {
	for i, s := range step {
		t := off + i
		for len(tl) <= t {
			tl = append(tl, result.Second{T: len(tl)})
		}
		d := &tl[t]
		d.Sent += s.Sent
		d.Confirmed += s.Confirmed
		d.Received += s.Received
		d.Errors += s.Errors
		d.Backlog += s.Backlog
	}
	return tl
}
