package async

import (
	"sync"
	"sync/atomic"
)

// modeStats are one mode's request counters; safe for concurrent use.
type modeStats struct {
	answered atomic.Int64 // answered OK (warm-up included)
	measured atomic.Int64 // answered OK after the warm-up
	failed   atomic.Int64 // DB or publish failure
	unsent   atomic.Int64 // owed by the open-loop schedule, never dispatched (svc.OpenLoop)
}

// notifyStats are one notification service's counters; safe for
// concurrent use. The gateway's counts move together under mu.
type notifyStats struct {
	dupes atomic.Int64 // deliveries of an already processed user id
	errs  atomic.Int64 // database errors (delivery nacked)

	mu      sync.Mutex
	sends   map[int64]int // gateway: sends per user id
	sent    int64         // gateway sends
	doubles int64         // sends of a user already sent to (must stay 0)
}

// gateway returns the gateway's sends and double sends.
func (s *notifyStats) gateway() (sent, doubles int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.doubles
}

// missing counts the users of ids the gateway never sent to.
func (s *notifyStats) missing(ids []int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range ids {
		if s.sends[id] == 0 {
			n++
		}
	}
	return n
}

// send records one gateway send to user.
func (s *notifyStats) send(user int64) {
	s.mu.Lock()
	s.sends[user]++
	s.sent++
	if s.sends[user] > 1 {
		s.doubles++
	}
	s.mu.Unlock()
}
