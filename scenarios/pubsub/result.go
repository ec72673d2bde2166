package pubsub

import "github.com/mqbench/mqbench/report/result"

// result builds the result from the stick and the counters, with the
// verdict when the run completed.
func (r *run) result(complete, drained bool) *result.Result {
	c := r.c
	sum := r.st.Summary(complete && drained)
	res := &result.Result{
		Config:     c,
		Latency:    sum.Latency,
		Throughput: sum.Throughput,
		Accounting: sum.Accounting,
		Timeline:   sum.Timeline,
	}
	if n := sum.LostNote(); n != "" {
		res.Notes = append(res.Notes, n)
	}
	r.stats.mu.Lock()
	defer r.stats.mu.Unlock()
	res.SetMetric(MetricSendFailures, float64(r.stats.sendFailures), "count")
	res.SetMetric(MetricTargetRate, c.Rate, "msg/s")
	if r.stats.lastSendErr != nil {
		res.Notes = append(res.Notes, "last send error: "+r.stats.lastSendErr.Error())
	}
	for _, err := range r.stats.consErrs {
		res.Notes = append(res.Notes, "consumer stopped: "+err.Error())
	}
	a := sum.Accounting
	res.Verdict = result.Verdict{Pass: true}
	if complete {
		res.Verdict.Check(a.Lost == 0, "%d confirmed messages lost", a.Lost)
		res.Verdict.Check(drained, "drain did not complete within %s: %d messages missing", c.Drain, r.st.Missing())
		res.Verdict.Check(a.Confirmed > 0, "no message was confirmed")
	}
	return res
}
