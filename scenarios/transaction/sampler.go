package transaction

import (
	"context"
	"time"

	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

// sample records the most pending orders per second every 100 ms and
// reports progress (total is warm-up plus duration), until ctx is done.
func (r *run) sample(ctx context.Context, total time.Duration) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.pendingPS.Max(now, r.stats.pending())
			if el := now.Sub(r.start); el < total {
				r.env.Report("orders", float64(el)/float64(total))
			} else if o := r.stats.orders.Load(); o > 0 {
				r.env.Report("consistency", min(1, float64(r.stats.consistent.Load())/float64(o)))
			}
		}
	}
}

// waitConsistent waits until every committed order reached the history, or
// timeout, or ctx is done.
func (r *run) waitConsistent(ctx context.Context, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if r.stats.consistent.Load() >= r.stats.orders.Load() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return r.stats.consistent.Load() >= r.stats.orders.Load()
		case <-tick.C:
		}
	}
}

// series returns the per-second chart data: orders placed, orders reaching
// consistency, the most orders pending, and the longest time to consistency
// among orders confirmed in that second.
func (r *run) series(n int) map[string][]float64 {
	n = min(max(n, lastSecond(r.seconds, r.ordersPS, r.consistentPS, r.pendingPS)+1), r.seconds)
	t := r.ttcMaxPS.Values(n)
	for i := range t {
		t[i] /= 1e6
	}
	return map[string][]float64{SeriesOrdersPerS: r.ordersPS.Values(n), SeriesConsistentPerS: r.consistentPS.Values(n), SeriesPendingOrders: r.pendingPS.Values(n), SeriesTTCMax: t}
}

// lastSecond is the last of the first seconds slots where any of ss is not
// zero, or -1.
func lastSecond(seconds int, ss ...*svc.Series) int {
	last := -1
	for _, s := range ss {
		for i, v := range s.Values(seconds) {
			if v != 0 && i > last {
				last = i
			}
		}
	}
	return last
}
