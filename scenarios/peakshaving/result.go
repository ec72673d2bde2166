package peakshaving

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// result builds the run's result from the probe, the counters and the
// database, the authority on what was sold.
func (r *run) result(ctx context.Context, out outcome) (*result.Result, error) {
	c := r.c
	res := &result.Result{
		Config:     c,
		Latency:    out.sum.Latency,
		Throughput: out.sum.Throughput,
		Accounting: out.sum.Accounting,
		Timeline:   out.sum.Timeline,
		Notes:      r.notes,
	}
	acc, rej, accSvc, rejSvc := setResponses(res, out.hists)

	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	fin, ferr := final(fctx, r.db)
	if ferr != nil {
		return res, fmt.Errorf("peakshaving: read final state: %w", ferr)
	}

	n := r.stats.snapshot()
	oversold := max(0, fin.sold-int64(c.Stock)) + max(0, -fin.stock)
	overshoot := r.setAdmission(res)
	res.Notes = append(res.Notes, "queue depth = requests confirmed admitted − requests processed, measured by mqbench the same way on every broker")
	r.setCounts(res, n, fin, oversold, overshoot, out.rate)
	if acc.Count > 0 {
		res.SetMetric(MetricAcceptP99, acc.P99, "ms")
		res.SetMetric(MetricAcceptServiceP99, accSvc.P99, "ms")
	} else {
		res.Notes = append(res.Notes, "no request was accepted: accept_p99_ms not measured")
	}
	if rej.Count > 0 {
		res.SetMetric(MetricRejectP99, rej.P99, "ms")
		res.SetMetric(MetricRejectServiceP99, rejSvc.P99, "ms")
	} else {
		res.Notes = append(res.Notes, "no request was rejected: reject_p99_ms not measured")
	}
	if n.sellout > 0 {
		res.SetMetric(MetricSelloutSeconds, float64(n.sellout)/1e9, "s")
	} else {
		res.Notes = append(res.Notes, "the stock did not sell out: sellout_seconds not measured")
	}
	if n.dbErrs > 0 {
		res.SetMetric(MetricDBErrors, float64(n.dbErrs), "count")
	}
	if n.lastErr != nil {
		res.Notes = append(res.Notes, "last error: "+n.lastErr.Error())
	}
	if n.restarts > 0 {
		res.SetMetric(MetricSaleRestarts, float64(n.restarts), "count")
	}
	res.Notes = append(res.Notes, "accept_response and reject_response (accept_p99_ms, reject_p99_ms) are measured from each request's intended arrival time (open loop), so a request waiting for a busy front-end client counts that wait; accept_service and reject_service measure from the moment a client took the request up, i.e. the admission mechanism's own cost")

	res.Series = r.series(len(out.sum.Timeline))
	r.verdict(res, out, n, fin, oversold, overshoot)
	return res, nil
}

// setResponses adds the four response-time latencies of the clients.
func setResponses(res *result.Result, h *clientHists) (acc, rej, accSvc, rejSvc *result.Latency) {
	acc, rej = probe.Summarize(h.accept), probe.Summarize(h.reject)
	acc.Corrected, rej.Corrected = true, true
	accSvc, rejSvc = probe.Summarize(h.acceptSvc), probe.Summarize(h.rejectSvc)
	res.Latency["accept_response"] = acc
	res.Latency["reject_response"] = rej
	res.Latency["accept_service"] = accSvc
	res.Latency["reject_service"] = rejSvc
	return acc, rej, accSvc, rejSvc
}

// setAdmission names the admission mechanism and returns the queue depth
// it may overshoot the threshold by.
func (r *run) setAdmission(res *result.Result) (overshoot int64) {
	c := r.c
	if r.useBroker {
		overshoot = int64(c.Consumers * c.Prefetch)
		res.Notes = append(res.Notes, fmt.Sprintf("admission: broker (destination max length %d, over-limit sends refused by the broker and answered \"sold out, try again\"); the broker caps waiting messages only, so up to consumers × prefetch = %d more may be delivered and unprocessed", c.Threshold, overshoot))
		res.SetMetric(MetricAdmissionBroker, 1, "bool")
		return overshoot
	}
	reason := "the driver cannot reject over a max length"
	if c.Admission == AdmissionApplication {
		reason = "chosen in the configuration"
	}
	res.Notes = append(res.Notes, fmt.Sprintf("admission: application (%s): an in-process counter reserves one of %d slots before each send and frees it once the sale service processed the request; rejected requests never reach the broker", reason, c.Threshold))
	res.SetMetric(MetricAdmissionBroker, 0, "bool")
	return 0
}

// setCounts adds the answer, sale and queue metrics.
func (r *run) setCounts(res *result.Result, n counts, fin finalState, oversold, overshoot int64, rate float64) {
	c := r.c
	res.SetMetric(MetricRequests, float64(n.issued), "count")
	res.SetMetric(MetricAccepted, float64(n.accepted), "count")
	res.SetMetric(MetricRejected, float64(n.rejected), "count")
	res.SetMetric(MetricErrors, float64(n.failed), "count")
	if n.interrupted > 0 {
		res.SetMetric(MetricInterrupted, float64(n.interrupted), "count")
		res.Notes = append(res.Notes, fmt.Sprintf("%d requests were in flight when the run was interrupted: neither accepted nor rejected", n.interrupted))
	}
	res.SetMetric(MetricProcessed, float64(fin.processed), "count")
	res.SetMetric(MetricDuplicates, float64(n.dupes), "count")
	res.SetMetric(MetricSold, float64(fin.sold), "count")
	res.SetMetric(MetricOversold, float64(oversold), "count")
	res.SetMetric(MetricStockInitial, float64(c.Stock), "count")
	res.SetMetric(MetricStockFinal, float64(fin.stock), "count")
	res.SetMetric(SeriesThreshold, float64(c.Threshold), "count")
	res.SetMetric(MetricQueueDepthPeak, float64(n.peak), "count")
	res.SetMetric(MetricQueueDepthLimit, float64(int64(c.Threshold)+overshoot), "count")
	res.SetMetric(MetricCapacity, c.Capacity, "req/s")
	res.SetMetric(MetricArrivalRate, rate, "req/s")
}

// verdict judges the run: no oversell, stock arithmetic, one answer per
// request, the queue depth within its limit, and, unless interrupted,
// every request issued, the drain complete and nothing lost.
func (r *run) verdict(res *result.Result, out outcome, n counts, fin finalState, oversold, overshoot int64) {
	c := r.c
	requests, accepted, rejected, failed, interrupted := n.issued, n.accepted, n.rejected, n.failed, n.interrupted
	res.Verdict = result.Verdict{Pass: true}
	res.Verdict.Check(oversold == 0, "oversold %d items (sold %d of %d, final stock %d)", oversold, fin.sold, c.Stock, fin.stock)
	res.Verdict.Check(fin.stock == int64(c.Stock)-fin.sold, "stock %d ≠ initial %d − sold %d", fin.stock, c.Stock, fin.sold)
	res.Verdict.Check(fin.sold == min(int64(c.Stock), fin.processed), "sold %d ≠ min(stock %d, processed %d)", fin.sold, c.Stock, fin.processed)
	res.Verdict.Check(accepted+rejected+failed+interrupted == requests, "answers %d ≠ requests %d", accepted+rejected+failed+interrupted, requests)
	res.Verdict.Check(failed == 0, "%d requests failed with an error instead of an answer (accepted + rejected = %d of %d requests)", failed, accepted+rejected, requests)
	res.Verdict.Check(n.peak <= int64(c.Threshold)+overshoot, "queue depth peaked at %d, above threshold %d + overshoot %d", n.peak, c.Threshold, overshoot)
	if out.complete {
		res.Verdict.Check(requests == int64(c.Requests), "only %d of %d requests were issued", requests, c.Requests)
		res.Verdict.Check(out.drained && fin.processed >= accepted, "drain did not complete within %s: %d of %d accepted requests processed", c.Drain, fin.processed, accepted)
		res.Verdict.Check(out.sum.Accounting.Lost == 0, "%d admitted requests lost by the broker", out.sum.Accounting.Lost)
	}
}
