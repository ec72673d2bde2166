package peakshaving

import (
	"sync"
	"sync/atomic"
)

// stats are the counters of one run, updated concurrently by the clients,
// the sale instances and the sampler; snapshot reads them.
type stats struct {
	issued   atomic.Int64 // requests taken up by a client
	accepted atomic.Int64 // answered "accepted" (admission confirmed)
	rejected atomic.Int64 // answered "sold out, try again"
	failed   atomic.Int64 // the send failed: no answer
	// interrupted: the send was cut short by ctx (Ctrl-C); no answer.
	interrupted atomic.Int64
	admitted    atomic.Int64 // confirmed admissions (queue depth's inflow)
	done        atomic.Int64 // admitted requests processed (its outflow)
	peak        atomic.Int64 // highest queue depth observed
	sold        atomic.Int64
	sellout     atomic.Int64 // ns since start when the last item sold; 0 = not yet
	dupes       atomic.Int64 // deliveries of a request already processed
	dbErrs      atomic.Int64
	restarts    atomic.Int64 // sale consumers reopened after an error

	errMu   sync.Mutex
	lastErr error
}

// counts is a snapshot of stats.
type counts struct {
	issued, accepted, rejected, failed, interrupted int64
	admitted, done, peak, sold, sellout             int64
	dupes, dbErrs, restarts                         int64
	lastErr                                         error
}

// snapshot reads every counter. Each value is read atomically; the set is
// consistent once the goroutines updating them have stopped.
func (s *stats) snapshot() counts {
	s.errMu.Lock()
	lastErr := s.lastErr
	s.errMu.Unlock()
	return counts{
		issued: s.issued.Load(), accepted: s.accepted.Load(), rejected: s.rejected.Load(),
		failed: s.failed.Load(), interrupted: s.interrupted.Load(),
		admitted: s.admitted.Load(), done: s.done.Load(), peak: s.peak.Load(),
		sold: s.sold.Load(), sellout: s.sellout.Load(),
		dupes: s.dupes.Load(), dbErrs: s.dbErrs.Load(), restarts: s.restarts.Load(),
		lastErr: lastErr,
	}
}

// depth is the current queue depth: confirmed admissions not yet processed.
func (s *stats) depth() int64 { return s.admitted.Load() - s.done.Load() }

// noteErr keeps err as the last error (reported in the result's notes).
func (s *stats) noteErr(err error) {
	s.errMu.Lock()
	s.lastErr = err
	s.errMu.Unlock()
}
