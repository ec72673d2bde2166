package transaction

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// fill completes res from the probes, the counters and the two databases
// (the authority on the end state).
func (r *run) fill(ctx context.Context, res *result.Result, complete, consistentInTime, drained bool) {
	c := r.c
	k := r.stats.snapshot()
	dsum := r.dst.Summary(complete && drained)
	rsum := r.rst.Summary(complete && drained)
	res.Accounting = mergeAccounting(dsum.Accounting, rsum.Accounting)
	res.Accounting.Unsent += k.unsent
	res.Throughput = dsum.Throughput
	res.Timeline = mergeTimeline(dsum.Timeline, rsum.Timeline)
	res.Latency = dsum.Latency
	res.Latency["result_publish"] = rsum.Latency[probe.Publish]
	res.Latency["result_end_to_end"] = rsum.Latency[probe.EndToEnd]
	ttc := probe.Summarize(r.ttc)
	res.Latency["time_to_consistency"] = ttc

	r.setMode(res)

	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	fin, err := readFinal(fctx, r.odb, r.idb)
	if err != nil {
		res.Notes = append(res.Notes, "could not read the final state: "+err.Error())
		res.Verdict.Check(false, "final state unreadable: %v", err)
		return
	}
	e := judge(c, fin)
	r.setCounts(res, k, fin, e, ttc)
	res.Series = r.series(len(res.Timeline))
	r.verdict(res, k, fin, e, complete, consistentInTime)
}

// setMode names the mode and the databases in res.
func (r *run) setMode(res *result.Result) {
	c := r.c
	if r.native {
		res.SetMetric(MetricNative, 1, "bool")
		res.Notes = append(res.Notes, "mode: native: the order's local transaction runs inside the broker's transactional send (half message, commit or rollback, check-back against the order table); no message table, no relay")
	} else {
		res.SetMetric(MetricNative, 0, "bool")
		res.Notes = append(res.Notes, fmt.Sprintf("mode: outbox: order + message-table row in one local transaction; relay every %s, resend after %s", c.ScanInterval, c.RetryInterval))
	}
	res.Notes = append(res.Notes,
		"envelope accounting covers stock.deduct and stock.result together; every relay (re)publish is stamped as a new message, so `duplicated` counts only the broker delivering the same publish again (after a nack or a consumer crash), while duplicates_delivered counts deliveries of an order id (the business key after the envelope) the inventory had already applied, whatever their cause",
		"time to consistency: from the order's local transaction to its history row (deduction confirmed back to the order service)",
		"order database: "+r.odbs.Describe(),
		"inventory database: "+r.idbs.Describe())
}

// endCheck is what the end state says about the run.
type endCheck struct {
	dupApplied int64 // deductions applied more than once
	stockOK    bool  // stock = initial − orders, one deduction per order
	consistent bool  // both databases agree and the message table is empty
}

// judge checks the end state fin.
func judge(c *Config, fin finalState) endCheck {
	var e endCheck
	e.dupApplied = fin.deductions - fin.deductedOrders
	e.stockOK = fin.stock == c.InitialStock-fin.orders && fin.applied == fin.orders
	e.consistent = fin.outbox == 0 && fin.history == fin.orders && e.stockOK && e.dupApplied == 0 && fin.missing == 0 && fin.extra == 0
	return e
}

// setCounts adds the metrics of the counters k and the end state fin,
// with their notes.
func (r *run) setCounts(res *result.Result, k counts, fin finalState, e endCheck, ttc *result.Latency) {
	c := r.c
	elapsed := (c.Warmup + c.Duration).Seconds()

	res.SetMetric(MetricOrders, float64(fin.orders), "count")
	res.SetMetric(SeriesOrdersPerS, float64(fin.orders)/elapsed, "orders/s")
	res.SetMetric(MetricPublished, float64(k.published), "count")
	res.SetMetric(MetricDuplicatesDelivered, float64(k.dupDelivered), "count")
	res.SetMetric(MetricDuplicatesApplied, float64(e.dupApplied), "count")
	res.SetMetric(MetricOutboxRemaining, float64(fin.outbox), "count")
	res.SetMetric(MetricHistoryRows, float64(fin.history), "count")
	res.SetMetric(MetricRetries, float64(k.retries), "count")
	if ttc.Count > 0 {
		res.SetMetric(MetricTTCP50, ttc.P50, "ms")
		res.SetMetric(MetricTTCP99, ttc.P99, "ms")
	} else {
		res.Notes = append(res.Notes, "no order reached consistency: ttc_p50_ms and ttc_p99_ms not measured")
	}
	res.SetMetric(MetricConsistent, b2f(e.consistent), "bool")
	res.SetMetric(MetricStockInitial, float64(c.InitialStock), "count")
	res.SetMetric(MetricStockFinal, float64(fin.stock), "count")
	res.SetMetric(MetricOrdersNotDeducted, float64(fin.missing), "count")
	res.SetMetric(MetricFailuresInjected, float64(k.failures), "count")
	res.SetMetric(MetricConsumerCrashes, float64(k.crashes), "count")
	res.SetMetric(MetricRelayCrashes, float64(k.relayCrashes), "count")
	res.SetMetric(MetricFailedResults, float64(k.failedResults), "count")
	res.SetMetric(MetricDuplicateResults, float64(k.dupResults), "count")
	res.SetMetric(MetricSendFailures, float64(k.sendFailures), "count")
	res.SetMetric(MetricOrderErrors, float64(k.orderErrs), "count")
	if n := k.insufficient; n > 0 {
		res.SetMetric(MetricInsufficientStock, float64(n), "count")
	}
	if n := k.restarts; n > 0 {
		res.SetMetric(MetricConsumerRestarts, float64(n), "count")
	}
	if n := k.unknownOrders; n > 0 {
		res.SetMetric(MetricUnknownOrders, float64(n), "count")
	}
	if k.lastErr != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("%d errors, the last: %v", k.nErrs, k.lastErr))
	}
	if r.native && k.retries == 0 {
		res.Notes = append(res.Notes, "retries: native mode has no relay; redeliveries are the broker's")
	}
}

// verdict judges the run: nothing applied twice nor unknown and, unless
// interrupted, both databases consistent in time and nothing lost.
func (r *run) verdict(res *result.Result, k counts, fin finalState, e endCheck, complete, consistentInTime bool) {
	c := r.c
	res.Verdict = result.Verdict{Pass: true}
	res.Verdict.Check(e.dupApplied == 0, "%d duplicate deductions applied", e.dupApplied)
	res.Verdict.Check(fin.extra == 0, "%d deductions of orders the order database does not have", fin.extra)
	if !complete {
		res.Notes = append(res.Notes, "interrupted: the end state was not waited for; consistency is not judged")
		return
	}
	res.Verdict.Check(consistentInTime, "not consistent within drain %s: %d of %d orders confirmed", c.Drain, k.consistent, k.orders)
	res.Verdict.Check(fin.outbox == 0, "%d rows remain in the message table", fin.outbox)
	res.Verdict.Check(fin.history == fin.orders, "history has %d rows for %d orders", fin.history, fin.orders)
	res.Verdict.Check(fin.missing == 0, "%d orders never deducted", fin.missing)
	res.Verdict.Check(e.stockOK, "stock %d ≠ initial %d − orders %d (deducted %d)", fin.stock, c.InitialStock, fin.orders, fin.applied)
	res.Verdict.Check(e.consistent, "order and inventory databases disagree")
	res.Verdict.Check(res.Accounting.Lost == 0, "%d confirmed messages lost by the broker", res.Accounting.Lost)
	res.Verdict.Check(fin.orders > 0, "no order was placed")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func mergeAccounting(a, b result.Accounting) result.Accounting {
	return result.Accounting{
		Sent: a.Sent + b.Sent, Confirmed: a.Confirmed + b.Confirmed, Unconfirmed: a.Unconfirmed + b.Unconfirmed,
		Rejected: a.Rejected + b.Rejected, Received: a.Received + b.Received, Deliveries: a.Deliveries + b.Deliveries,
		Lost: a.Lost + b.Lost, Duplicated: a.Duplicated + b.Duplicated, Reordered: a.Reordered + b.Reordered,
		Foreign: a.Foreign + b.Foreign, Unsent: a.Unsent + b.Unsent, Groups: a.Groups + b.Groups, Complete: a.Complete && b.Complete,
	}
}

func mergeTimeline(a, b []result.Second) []result.Second {
	out := make([]result.Second, max(len(a), len(b)))
	for i := range out {
		out[i].T = i
		for _, tl := range [][]result.Second{a, b} {
			if i < len(tl) {
				s := tl[i]
				out[i].Sent += s.Sent
				out[i].Confirmed += s.Confirmed
				out[i].Received += s.Received
				out[i].Backlog += s.Backlog
				out[i].Errors += s.Errors
			}
		}
	}
	return out
}
