package decoupling

import (
	"context"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

// backlogSampler holds what the sampler measured.
type backlogSampler struct {
	backlog, depth *svc.Series // per-second maxima

	mu              sync.Mutex
	peak            int64
	baseline        int64 // max backlog in the measured window before the outage
	atRecovery      int64
	recoverySampled bool
	drainedAt       time.Time
	depthPeak       int64
	depthLast       int64 // last reading, taken after the drain
	depthRead       bool
	depthErr        error
}

func (r *run) backlog() int64 {
	m := r.mqMode
	return m.stats.ok.Load() - m.inv.stats.applied.Load()
}

// startSampler starts the sampler of the mq mode (none without it): the
// backlog (accepted − deducted) and, when readable, the queue depth. stop
// takes one last sample and waits for the sampler.
func (r *run) startSampler(ctx context.Context) (stop func()) {
	if r.mqMode == nil {
		return func() {}
	}
	dr, _ := r.env.Driver.(driver.DepthReader)
	if !r.env.Driver.Info().Capabilities.Depth {
		dr = nil
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.sample(ctx, dr, done)
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// sample reads the backlog (and depth) every 100 ms into r.samp, and once
// more when done is closed.
func (r *run) sample(ctx context.Context, dr driver.DepthReader, done <-chan struct{}) {
	m, s := r.mqMode, r.samp
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for last := false; !last; {
		select {
		case <-done:
			last = true // one final sample, after the drain
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		b := max(r.backlog(), 0)
		s.backlog.Max(now, b)
		s.mu.Lock()
		s.peak = max(s.peak, b)
		switch {
		case now.Before(m.measuredStart):
		case now.Before(m.downAt):
			s.baseline = max(s.baseline, b)
		case now.Before(m.upAt):
		default:
			if !s.recoverySampled {
				s.recoverySampled = true
				s.atRecovery = b
			}
			if s.drainedAt.IsZero() && b <= s.baseline {
				s.drainedAt = now
			}
		}
		s.mu.Unlock()
		if dr != nil {
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			d, err := dr.Depth(dctx, r.dest, Group)
			cancel()
			s.mu.Lock()
			if err != nil {
				s.depthErr = err
			} else {
				s.depthRead = true
				s.depthPeak = max(s.depthPeak, d)
				s.depthLast = d
				s.depth.Max(now, d)
			}
			s.mu.Unlock()
		}
	}
}

// drain waits until every accepted mq order is deducted and the stick saw
// every confirmed message, or Drain passes.
func (r *run) drain(ctx context.Context) bool {
	deadline := time.Now().Add(r.c.Drain)
	for {
		if r.backlog() <= 0 && r.st.Drained() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		if svc.Sleep(ctx, 20*time.Millisecond) != nil {
			return false
		}
	}
}
