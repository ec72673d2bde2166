package transaction

import (
	"context"
	"time"

	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

// sample records the most pending orders per second every 100 ms and
// reports progress (total is warm-up plus duration), until ctx is done.
func (r *run) sample(ctx context.Context, total time.Duration) {
	svc.Every(ctx, 100*time.Millisecond, func(now time.Time) {
		r.pendingPS.Max(now, r.stats.pending())
		if el := now.Sub(r.start); el < total {
			r.env.Report("orders", float64(el)/float64(total))
		} else if o := r.stats.orders.Load(); o > 0 {
			r.env.Report("consistency", min(1, float64(r.stats.consistent.Load())/float64(o)))
		}
	})
}

// waitConsistent waits until every committed order reached the history, or
// timeout, or ctx is done.
func (r *run) waitConsistent(ctx context.Context, timeout time.Duration) bool {
	return svc.WaitUntil(ctx, timeout, 20*time.Millisecond, func() bool { return r.stats.consistent.Load() >= r.stats.orders.Load() })
}

// series returns the per-second chart data: orders placed, orders reaching
// consistency, the most orders pending, and the longest time to consistency
// among orders confirmed in that second.
func (r *run) series(n int) map[string][]float64 {
	n = min(max(n, svc.LastNonZero(r.seconds, r.ordersPS, r.consistentPS, r.pendingPS)+1), r.seconds)
	t := r.ttcMaxPS.Values(n)
	for i := range t {
		t[i] /= 1e6
	}
	return map[string][]float64{SeriesOrdersPerS: r.ordersPS.Values(n), SeriesConsistentPerS: r.consistentPS.Values(n), SeriesPendingOrders: r.pendingPS.Values(n), SeriesTTCMax: t}
}
