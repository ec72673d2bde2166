package svc

import (
	"context"
	"sync"
	"sync/atomic"
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

// Mode is one mode of a scenario that runs its modes' open-loop requests
// one after the other (RunModes).
type Mode struct {
	Name string
	// Start is the first intended request, End the schedule's end.
	Start, End time.Time
	// Request handles one request intended to start at intended.
	Request func(intended time.Time)
	// Beside, when set, runs beside the mode's requests (for example a
	// planned outage); the next mode starts once it returned.
	Beside func()
	// Unsent, when set, receives the requests the mode's schedule owed but
	// never dispatched (see OpenLoop).
	Unsent *atomic.Int64
}

// Modes are the settings RunModes shares among the modes.
type Modes struct {
	// Report, Start and Total drive ReportProgress; each mode's phase is
	// shown until its End plus Gap.
	Report func(phase string, fraction float64)
	Start  time.Time
	Total  time.Duration
	Gap    time.Duration
	// Rate and MaxInFlight are each mode's OpenLoop settings.
	Rate        float64
	MaxInFlight int
	// Late, when set, is told that a mode started late (the previous one
	// overran) and by how much.
	Late func(mode string, by time.Duration)
}

// RunModes runs modes one after the other, each an OpenLoop from its Start
// to its End, and returns each mode's unsent requests (see OpenLoop),
// indexed like modes (also stored in Mode.Unsent). It stops when ctx is done.
func RunModes(ctx context.Context, o Modes, modes []Mode) []int64 {
	unsent := make([]int64, len(modes))
	phases := make([]Phase, len(modes))
	for i, m := range modes {
		phases[i] = Phase{Name: m.Name, Until: m.End.Add(o.Gap)}
	}
	stop := ReportProgress(o.Report, o.Start, o.Total, phases)
	defer stop()
	for i, m := range modes {
		if ctx.Err() != nil {
			return unsent
		}
		late, err := StartAt(ctx, m.Start)
		if err != nil {
			return unsent
		}
		if late > 0 && o.Late != nil {
			o.Late(m.Name, late)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if m.Beside != nil {
				m.Beside()
			}
		}()
		_, unsent[i] = OpenLoop(ctx, o.Rate, m.Start, m.End, o.MaxInFlight, m.Request)
		if m.Unsent != nil {
			m.Unsent.Store(unsent[i])
		}
		<-done
	}
	return unsent
}
