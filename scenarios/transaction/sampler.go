package transaction

import (
	"context"
	"time"
)

// sec is the index of the per-second slot of t.
func (r *run) sec(t time.Time) int {
	i := int(t.Sub(r.start) / time.Second)
	return min(max(i, 0), len(r.ordersPS)-1)
}

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
			atomicMax(&r.pendingPS[r.sec(now)], r.stats.pending())
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
	last := -1
	for i := range r.ordersPS {
		if r.ordersPS[i].Load()+r.consistentPS[i].Load()+r.pendingPS[i].Load() > 0 {
			last = i
		}
	}
	n = min(max(n, last+1), len(r.ordersPS))
	o, cs, p, t := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		o[i] = float64(r.ordersPS[i].Load())
		cs[i] = float64(r.consistentPS[i].Load())
		p[i] = float64(r.pendingPS[i].Load())
		t[i] = float64(r.ttcMaxPS[i].Load()) / 1e6
	}
	return map[string][]float64{"orders_per_s": o, "consistent_per_s": cs, "pending_orders": p, "ttc_max_ms": t}
}
