package svc

import (
	"context"
	"sync"
	"time"
)

// Phase is one named phase of a run, for progress reports: it lasts until
// Until.
type Phase struct {
	Name  string
	Until time.Time
}

// ReportProgress calls report every 500 ms with the current phase (the
// first whose Until is still ahead, else the last) and the fraction of
// total elapsed since start, until the returned stop is called; stop
// waits for the reporter to finish. phases must not be empty.
func ReportProgress(report func(phase string, fraction float64), start time.Time, total time.Duration, phases []Phase) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				now := time.Now()
				phase := phases[len(phases)-1].Name
				for _, p := range phases {
					if now.Before(p.Until) {
						phase = p.Name
						break
					}
				}
				report(phase, min(1, float64(now.Sub(start))/float64(total)))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// StartAt waits until at, the planned start of a phase, and returns 0; or
// returns at once how late the phase starts when that is over 100 ms (the
// previous phase overran). err is ctx.Err() when ctx ended the wait.
func StartAt(ctx context.Context, at time.Time) (late time.Duration, err error) {
	late = time.Since(at)
	if late > 100*time.Millisecond {
		return late, nil
	}
	return 0, Sleep(ctx, -late)
}

// StopConsumers waits up to 30 s for the consume loops counted by wg to
// stop (their receive context already cancelled); if they do not, it
// calls closeAll (closing the consumers unblocks them) and waits 10 s more.
// It reports whether they all stopped.
func StopConsumers(wg *sync.WaitGroup, closeAll func()) bool {
	if WaitTimeout(wg, 30*time.Second) {
		return true
	}
	closeAll()
	return WaitTimeout(wg, 10*time.Second)
}
