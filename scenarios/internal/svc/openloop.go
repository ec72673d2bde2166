package svc

import (
	"context"
	"sync"
	"time"

	"github.com/mqbench/mqbench/scenarios/load"
)

// OpenLoop runs fn once per request of an open-loop schedule of rate
// requests per second (rate > 0) from start until end, each call in its own
// goroutine, at most maxInFlight at once. While maxInFlight calls run, the
// dispatch waits, so later requests start late; fn receives the intended
// start time so the delay shows in what it measures. A dispatch still
// behind load.Overrun after end stops there, as scenarios/load's producers
// do. OpenLoop returns, once the schedule ended (or ctx is done) and every
// call returned, the number of requests dispatched and the number the
// schedule owed but never dispatched because it stopped behind (0 when ctx
// ended it: an interrupted run's accounting is not final). fn must return
// promptly once ctx is done.
func OpenLoop(ctx context.Context, rate float64, start, end time.Time, maxInFlight int, fn func(intended time.Time)) (dispatched, unsent int64) {
	sched := load.NewSchedule(rate, start, end, 64)
	sem := make(chan struct{}, max(maxInFlight, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	var times []time.Time
	for {
		var ok bool
		times, ok = sched.Next(ctx, times)
		if !ok {
			if ctx.Err() == nil {
				unsent = sched.Unsent()
			}
			return dispatched, unsent
		}
		for _, at := range times {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return dispatched, 0
			}
			dispatched++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				fn(at)
			}()
		}
	}
}
