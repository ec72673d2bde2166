package peakshaving

import (
	"context"
	"time"
)

// sec is the index of the per-second slot of t.
func (r *run) sec(t time.Time) int {
	i := int(t.Sub(r.start) / time.Second)
	return min(max(i, 0), len(r.input)-1)
}

// observeDepth records the current queue depth for the peak and the series.
func (r *run) observeDepth(at time.Time) {
	d := r.stats.depth()
	atomicMax(&r.stats.peak, d)
	atomicMax(&r.depth[r.sec(at)], d)
}

// sample observes the queue depth every 100 ms, so that the series stays
// continuous between events, and reports progress, until ctx is done.
func (r *run) sample(ctx context.Context, window time.Duration) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.observeDepth(now)
			if now.Before(r.start.Add(window)) {
				r.env.Report("burst", min(1, float64(r.stats.issued.Load())/float64(r.c.Requests)))
			} else if a := r.stats.accepted.Load(); a > 0 {
				r.env.Report("drain", min(1, float64(r.stats.done.Load())/float64(a)))
			}
		}
	}
}

// waitProcessed waits until every confirmed admission was processed, or
// timeout, or ctx is done; it reports whether all were processed.
func (r *run) waitProcessed(ctx context.Context, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if r.stats.done.Load() >= r.stats.admitted.Load() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return r.stats.done.Load() >= r.stats.admitted.Load()
		case <-tick.C:
		}
	}
}

// series returns the per-second chart data, n points (at least as many as
// seconds with data).
func (r *run) series(n int) map[string][]float64 {
	last := -1
	for i := range r.input {
		if r.input[i].Load()+r.processed[i].Load()+r.depth[i].Load() > 0 {
			last = i
		}
	}
	n = max(n, last+1)
	in, pr, dp, th := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		in[i] = float64(r.input[i].Load())
		pr[i] = float64(r.processed[i].Load())
		dp[i] = float64(r.depth[i].Load())
		th[i] = float64(r.c.Threshold)
	}
	return map[string][]float64{"input_per_s": in, "processed_per_s": pr, "queue_depth": dp, "threshold": th}
}
