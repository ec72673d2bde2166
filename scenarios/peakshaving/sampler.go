package peakshaving

import (
	"context"
	"time"

	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

// observeDepth records the current queue depth for the peak and the series.
func (r *run) observeDepth(at time.Time) {
	d := r.stats.depth()
	svc.AtomicMax(&r.stats.peak, d)
	r.depth.Max(at, d)
}

// sample observes the queue depth every 100 ms, so that the series stays
// continuous between events, and reports progress, until ctx is done.
func (r *run) sample(ctx context.Context, window time.Duration) {
	svc.Every(ctx, 100*time.Millisecond, func(now time.Time) {
		r.observeDepth(now)
		if now.Before(r.start.Add(window)) {
			r.env.Report("burst", min(1, float64(r.stats.issued.Load())/float64(r.c.Requests)))
		} else if a := r.stats.accepted.Load(); a > 0 {
			r.env.Report("drain", min(1, float64(r.stats.done.Load())/float64(a)))
		}
	})
}

// waitProcessed waits until every confirmed admission was processed, or
// timeout, or ctx is done; it reports whether all were processed.
func (r *run) waitProcessed(ctx context.Context, timeout time.Duration) bool {
	return svc.WaitUntil(ctx, timeout, 10*time.Millisecond, func() bool { return r.stats.done.Load() >= r.stats.admitted.Load() })
}

// series returns the per-second chart data, n points (at least as many as
// seconds with data).
func (r *run) series(n int) map[string][]float64 {
	n = max(n, svc.LastNonZero(r.seconds, r.input, r.processed, r.depth)+1)
	th := make([]float64, n)
	for i := range th {
		th[i] = float64(r.c.Threshold)
	}
	return map[string][]float64{SeriesInputPerS: r.input.Values(n), SeriesProcessedPerS: r.processed.Values(n), SeriesQueueDepth: r.depth.Values(n), SeriesThreshold: th}
}
