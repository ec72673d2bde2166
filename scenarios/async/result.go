package async

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

// result builds the run's result: the stick's figures, each mode's
// response times, the notification services' figures, and the verdict.
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
	res.Series = map[string][]float64{}
	r.modeFigures(res, secs)
	res.SetMetric(MetricRegistrations, float64(len(r.confirmed)), "count")
	doubles := r.notifyFigures(res, secs)
	res.Notes = append(res.Notes, r.notes...)
	for _, err := range r.consErrs {
		res.Notes = append(res.Notes, "consumer stopped: "+err.Error())
	}
	res.Notes = append(res.Notes, "databases: "+r.dbs.Describe())
	r.verdict(ctx, res, sum.Accounting, doubles, complete, drained)
	return res
}

// modeFigures records each mode's response times, rate, failures and
// answers per second, and the user database's write time.
func (r *run) modeFigures(res *result.Result, secs int) {
	for _, m := range r.modes {
		l := m.response.Summary()
		res.Latency["response_"+m.name] = l
		for _, p := range []string{"p50", "p90", "p99"} {
			svc.SetPercentile(res, "response_"+p+"_ms_"+m.name, l, p)
		}
		svc.SetRate(res, "registrations_per_s_"+m.name, m.stats.measured.Load(), m.measuredStart, m.end)
		res.SetMetric("failed_"+m.name, float64(m.stats.failed.Load()), "count")
		res.SetMetric("unsent_"+m.name, float64(m.stats.unsent.Load()), "count")
		if m.name == MQ {
			// Each MQ registration publishes one message: one never made
			// is a message never sent.
			res.Accounting.Unsent += m.stats.unsent.Load()
		}
		res.Series["answered_"+m.name] = m.series.Values(secs)
	}
	res.Latency["db_write"] = r.dbWrite.Summary()
	svc.SetPercentile(res, MetricDBWriteP50, res.Latency["db_write"], "p50")
}

// notifyFigures records the notification services' sends, duplicates,
// errors and latencies (zero without the mq mode) and returns the double
// sends.
func (r *run) notifyFigures(res *result.Result, secs int) (doubles int64) {
	email, sms := r.notifiers[GroupEmail], r.notifiers[GroupSMS]
	var emails, smss, dupes, dbErrs int64
	if email != nil && sms != nil {
		var d1, d2 int64
		emails, d1 = email.stats.gateway()
		smss, d2 = sms.stats.gateway()
		doubles = d1 + d2
		dupes = email.stats.dupes.Load() + sms.stats.dupes.Load()
		dbErrs = email.stats.errs.Load() + sms.stats.errs.Load()
		ne, ns := email.notify.Summary(), sms.notify.Summary()
		all := svc.Merge(email.notify, sms.notify).Summary()
		res.Latency["notify_email"], res.Latency["notify_sms"], res.Latency["notify"] = ne, ns, all
		svc.SetPercentile(res, MetricNotifyP50, all, "p50")
		svc.SetPercentile(res, MetricNotifyP99, all, "p99")
		svc.SetPercentile(res, MetricNotifyEmailP99, ne, "p99")
		svc.SetPercentile(res, MetricNotifySMSP99, ns, "p99")
		res.Series[SeriesEmailsSent] = email.series.Values(secs)
		res.Series[SeriesSMSSent] = sms.series.Values(secs)
	}
	res.SetMetric(SeriesEmailsSent, float64(emails), "count")
	res.SetMetric(SeriesSMSSent, float64(smss), "count")
	res.SetMetric(MetricDuplicatesDelivered, float64(dupes), "count")
	res.SetMetric(MetricDoubleSends, float64(doubles), "count")
	res.SetMetric(MetricServiceDBErrors, float64(dbErrs), "count")
	return doubles
}

// verdict checks idempotency always and, when the run completed, that
// every mode answered without failure and the mq mode lost nothing.
func (r *run) verdict(ctx context.Context, res *result.Result, a result.Accounting, doubles int64, complete, drained bool) {
	res.Verdict = result.Verdict{Pass: true}
	res.Verdict.Check(doubles == 0, "%d notifications sent twice (idempotency broken)", doubles)
	if !complete {
		return
	}
	for _, m := range r.modes {
		res.Verdict.Check(m.stats.failed.Load() == 0, "mode %s: %d registrations failed", m.name, m.stats.failed.Load())
		res.Verdict.Check(m.stats.answered.Load() > 0, "mode %s: no registration answered", m.name)
	}
	if r.mqMode == nil {
		return
	}
	res.Verdict.Check(drained, "notifications did not drain within %s: %d deliveries missing", r.c.Drain, r.st.Missing())
	if r.env.Profile != driver.Unsafe {
		res.Verdict.Check(a.Lost == 0, "%d confirmed user.registered messages lost", a.Lost)
	}
	for _, n := range []*notifier{r.notifiers[GroupEmail], r.notifiers[GroupSMS]} {
		r.checkNotifier(ctx, res, n)
	}
	if len(r.confirmed) > 0 && r.mqMode.stats.measured.Load() > 0 {
		p50 := map[string]float64{}
		for _, m := range r.modes {
			p50[m.name] = res.Metrics["response_p50_ms_"+m.name].Value
		}
		if p, s := p50[Parallel], p50[Serial]; len(r.modes) == 3 && !(p50[MQ] < p && p < s) {
			res.Notes = append(res.Notes, fmt.Sprintf("expected response p50 mq < parallel < serial, got mq %.2f ms, parallel %.2f ms, serial %.2f ms", p50[MQ], p, s))
		}
	}
}

// checkNotifier checks that n sent to every confirmed registration and
// that its processed table agrees with its gateway.
func (r *run) checkNotifier(ctx context.Context, res *result.Result, n *notifier) {
	missing := n.stats.missing(r.confirmed)
	res.Verdict.Check(missing == 0, "%s: %d confirmed registrations got no %s", n.group, missing, n.group)
	var rows int64
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	err := n.db.QueryRowContext(qctx, `SELECT count(*) FROM processed WHERE state = 'sent'`).Scan(&rows)
	cancel()
	if err != nil {
		res.Verdict.Check(false, "%s: read processed table: %v", n.group, err)
		return
	}
	sent, _ := n.stats.gateway()
	res.Verdict.Check(rows == sent, "%s: processed table holds %d sent rows, the gateway sent %d", n.group, rows, sent)
}
