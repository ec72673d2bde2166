package pubsub

import "sync"

// stats are the run's counters; safe for concurrent use.
type stats struct {
	mu           sync.Mutex
	sendFailures int   // failed Sends over all producers
	lastSendErr  error // the last of them
	consErrs     []error
}

// sent adds one producer's failed Sends and last error.
func (s *stats) sent(failed int, err error) {
	s.mu.Lock()
	s.sendFailures += failed
	if err != nil {
		s.lastSendErr = err
	}
	s.mu.Unlock()
}

// consumerStopped records the error a consume loop stopped with.
func (s *stats) consumerStopped(err error) {
	s.mu.Lock()
	s.consErrs = append(s.consErrs, err)
	s.mu.Unlock()
}
