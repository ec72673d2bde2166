package decoupling

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// result builds the run's result: the stick's figures, each mode's orders
// and response times, the direct inventory's consistency and, with the mq
// mode, its latencies, backlog, drain, consistency and verdict.
func (r *run) result(ctx context.Context, complete, drained bool) *result.Result {
	sum := r.st.Summary(complete && drained)
	res := &result.Result{
		Config:     r.c,
		Latency:    sum.Latency,
		Throughput: sum.Throughput,
		Accounting: sum.Accounting,
	}
	if n := sum.LostNote(); n != "" {
		res.Notes = append(res.Notes, n)
	}
	if res.Latency == nil {
		res.Latency = result.Latencies{}
	}
	runSeconds := int((time.Since(r.start) + time.Second - 1) / time.Second)
	res.Timeline = svc.ExtendTimeline(sum.Timeline, max(runSeconds, int((r.total+time.Second-1)/time.Second)))
	secs := len(res.Timeline)
	res.Series = map[string][]float64{SeriesInventoryUp: r.upSeries(secs)}
	r.modeFigures(res, secs)

	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	r.directFigures(qctx, res)
	res.Verdict = result.Verdict{Pass: true}
	m := r.mqMode
	if m == nil {
		res.Notes = append(res.Notes, r.notes...)
		return res
	}
	r.mqFigures(res, secs)
	r.backlogFigures(res, sum, secs, complete, drained)
	ok, stock, missing, err := r.consistent(qctx, m)
	if err != nil {
		res.Verdict.Check(false, "mq inventory: %v", err)
	} else {
		res.SetMetric(MetricStockConsistent, b01(ok), "bool")
		res.SetMetric(MetricFinalStockMQ, float64(stock), "units")
	}
	res.SetMetric(MetricOrdersLostMQ, float64(missing), "count")
	res.Notes = append(res.Notes, r.notes...)
	r.consMu.Lock()
	for _, e := range r.consErrs {
		res.Notes = append(res.Notes, "inventory consumer stopped: "+e.Error())
	}
	r.consMu.Unlock()
	res.Notes = append(res.Notes, "databases: "+r.dbs.Describe())
	if !complete || err != nil {
		return res
	}
	a := sum.Accounting
	res.Verdict.Check(m.stats.ok.Load() > 0, "mq: no order accepted")
	res.Verdict.Check(drained, "mq: backlog did not drain within %s: %d orders not deducted", r.c.Drain, r.backlog())
	// No order deducted twice: one deduction row per order by key, and the
	// stock moved exactly once per row.
	if _, deducted, derr := m.inv.final(qctx); derr == nil {
		res.Verdict.Check(stock == r.c.InitialStock-int64(len(deducted)), "mq: stock %d, but %d deduction rows: some order moved the stock twice", stock, len(deducted))
	}
	if r.env.Profile != driver.Unsafe {
		res.Verdict.Check(a.Lost == 0, "mq: %d confirmed order.placed messages lost", a.Lost)
		res.Verdict.Check(missing == 0, "mq: %d accepted orders never deducted", missing)
		res.Verdict.Check(ok, "mq: final stock %d, want initial %d − accepted %d = %d", stock, r.c.InitialStock, m.stats.ok.Load(), r.c.InitialStock-m.stats.ok.Load())
	}
	return res
}

func b01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// upSeries is inventory_up: 0 for a second that overlaps an outage, else 1.
func (r *run) upSeries(secs int) []float64 {
	up := make([]float64, secs)
	r.outageMu.Lock()
	defer r.outageMu.Unlock()
	for i := range up {
		up[i] = 1
		s0, s1 := r.start.Add(time.Duration(i)*time.Second), r.start.Add(time.Duration(i+1)*time.Second)
		for _, o := range r.outages {
			if o[0].Before(s1) && o[1].After(s0) {
				up[i] = 0
			}
		}
	}
	return up
}

// modeFigures records each mode's orders, success rate, response times
// and per-second answers, and the planned outage length.
func (r *run) modeFigures(res *result.Result, secs int) {
	var orders int64
	for _, m := range r.modes {
		orders += m.stats.placed.Load()
		l, lf := m.response.Summary(), m.failedResponse.Summary()
		res.Latency["response_"+m.name] = l
		res.Latency["response_failed_"+m.name] = lf
		res.SetMetric("orders_"+m.name, float64(m.stats.placed.Load()), "count")
		res.SetMetric("orders_failed_"+m.name, float64(m.stats.failed.Load()), "count")
		res.SetMetric("orders_unsent_"+m.name, float64(m.stats.unsent.Load()), "count")
		if m.name == MQ {
			// Each MQ order publishes one message: an order never taken
			// is a message never sent.
			res.Accounting.Unsent += m.stats.unsent.Load()
		}
		if p := m.stats.placed.Load(); p > 0 {
			res.SetMetric("success_rate_"+m.name, 100*float64(m.stats.ok.Load())/float64(p), "%")
		}
		svc.SetPercentile(res, "response_p50_ms_"+m.name, l, "p50")
		svc.SetPercentile(res, "response_p99_ms_"+m.name, l, "p99")
		svc.SetRate(res, "accepted_per_s_"+m.name, m.stats.measured.Load(), m.measuredStart, m.end)
		res.Series["orders_ok_"+m.name] = m.okSeries.Values(secs)
		res.Series["orders_failed_"+m.name] = m.failSeries.Values(secs)
	}
	res.SetMetric(MetricOrders, float64(orders), "count")
	per := r.c.Duration / time.Duration(len(r.c.Modes))
	res.SetMetric(MetricOutageSeconds, (time.Duration(r.c.OutageEnd*float64(per)) - time.Duration(r.c.OutageStart*float64(per))).Seconds(), "s")
}

// consistent compares mode m's inventory with the orders it accepted: ok
// when the stock moved once per accepted order and no accepted order is
// missing from the deductions.
func (r *run) consistent(ctx context.Context, m *mode) (ok bool, stock int64, missing int, err error) {
	stock, deducted, err := m.inv.final(ctx)
	if err != nil {
		return false, 0, 0, err
	}
	m.acceptedMu.Lock()
	defer m.acceptedMu.Unlock()
	for _, id := range m.accepted {
		if !deducted[id] {
			missing++
		}
	}
	ok = stock == r.c.InitialStock-int64(len(m.accepted)) && len(deducted) == len(m.accepted) && missing == 0
	return ok, stock, missing, nil
}

// directFigures records the direct inventory's consistency, when the
// direct mode ran.
func (r *run) directFigures(ctx context.Context, res *result.Result) {
	var direct *mode
	for _, m := range r.modes {
		if m.name == Direct {
			direct = m
		}
	}
	if direct == nil {
		return
	}
	ok, stock, _, err := r.consistent(ctx, direct)
	if err != nil {
		res.Notes = append(res.Notes, "direct inventory: "+err.Error())
		return
	}
	res.SetMetric(MetricStockConsistentDirect, b01(ok), "bool")
	res.SetMetric(MetricFinalStockDirect, float64(stock), "units")
	if !ok {
		res.Notes = append(res.Notes, fmt.Sprintf("direct: stock %d, expected %d from %d accepted orders: a call that failed at the caller (refused mid-request or timed out) was deducted anyway, the classic hazard of synchronous calls", stock, r.c.InitialStock-direct.stats.ok.Load(), direct.stats.ok.Load()))
	}
}

// mqFigures records the order-to-deduction latencies before, during and
// after the outage, and the mq inventory's deductions.
func (r *run) mqFigures(res *result.Result, secs int) {
	m := r.mqMode
	l := func(h *svc.Hist, name string) *result.Latency {
		x := h.Summary()
		res.Latency[name] = x
		return x
	}
	all := l(svc.Merge(r.e2eBefore, r.e2eDuring, r.e2eAfter), "order_to_deduct")
	before, during, after := l(r.e2eBefore, "order_to_deduct_before"), l(r.e2eDuring, "order_to_deduct_during"), l(r.e2eAfter, "order_to_deduct_after")
	svc.SetPercentile(res, MetricE2EP50, all, "p50")
	svc.SetPercentile(res, MetricE2EP99, all, "p99")
	svc.SetPercentile(res, MetricE2EP99Before, before, "p99")
	svc.SetPercentile(res, MetricE2EP99During, during, "p99")
	svc.SetPercentile(res, MetricE2EP99After, after, "p99")
	res.SetMetric(MetricDuplicatesDelivered, float64(m.inv.stats.dupes.Load()), "count")
	res.SetMetric(SeriesDeductedMQ, float64(m.inv.stats.applied.Load()), "count")
	res.Series[SeriesDeductedMQ] = r.deductSeries.Values(secs)
	res.Series[SeriesBacklogSampled] = r.samp.backlog.Values(secs)
}

// backlogFigures records what the sampler measured: backlog peaks, queue
// depth, resume and drain times, with their notes.
func (r *run) backlogFigures(res *result.Result, sum probe.Summary, secs int, complete, drained bool) {
	c, m, s := r.c, r.mqMode, r.samp
	s.mu.Lock()
	defer s.mu.Unlock()
	res.SetMetric(MetricBacklogPeak, float64(s.peak), "orders")
	if s.recoverySampled {
		res.SetMetric(MetricBacklogAtRecovery, float64(s.atRecovery), "orders")
	}
	var stickPeak int64
	for _, sec := range sum.Timeline {
		stickPeak = max(stickPeak, sec.Backlog)
	}
	res.SetMetric(MetricBacklogPeakStick, float64(stickPeak), "messages")
	if s.depthRead {
		res.SetMetric(MetricDepthPeak, float64(s.depthPeak), "messages")
		res.Series[SeriesDepth] = s.depth.Values(secs)
		if drained && s.depthLast > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("the broker still reported a queue depth of %d after every order was deducted: its depth lags consumption (for example consumer offsets persisted periodically), so depth_peak and the depth series are not reliable on this broker", s.depthLast))
		}
	} else if s.depthErr != nil {
		res.Notes = append(res.Notes, "queue depth could not be read: "+s.depthErr.Error())
	}
	if c.Capacity > 0 && s.recoverySampled {
		res.SetMetric(MetricDrainExpectedSeconds, float64(s.atRecovery)/(c.Capacity-c.Rate), "s")
	}
	if first := r.firstDeductAfterUp.Load(); first != 0 {
		res.SetMetric(MetricResumeSeconds, time.Duration(first-m.upAt.UnixNano()).Seconds(), "s")
	}
	if !s.drainedAt.IsZero() {
		d := s.drainedAt.Sub(m.upAt)
		res.SetMetric(MetricDrainSeconds, d.Seconds(), "s")
		if d > 0 {
			// Orders deducted while draining = backlog at recovery plus
			// orders arriving meanwhile.
			res.SetMetric(MetricDrainConsumeRate, (float64(s.atRecovery)+c.Rate*d.Seconds())/d.Seconds(), "1/s")
		}
	} else if complete {
		res.Notes = append(res.Notes, "the backlog did not return to its pre-outage level before the load ended; drain_seconds not measured")
	}
	res.Notes = append(res.Notes, fmt.Sprintf("drain_seconds runs from the end of the outage until the backlog (accepted orders not yet deducted, sampled every 100 ms) is back to its pre-outage level (%d); compare with drain_expected_seconds = backlog_at_recovery / (inventory_capacity − rate)", s.baseline))
}
