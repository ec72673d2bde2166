package transaction

import (
	"sync"
	"sync/atomic"
)

// stats are the counters of one run, updated concurrently by the order
// service, the relay and the inventory instances; snapshot reads them.
type stats struct {
	orders        atomic.Int64 // committed orders
	orderErrs     atomic.Int64
	published     atomic.Int64 // confirmed publishes to stock.deduct (resends included)
	sendFailures  atomic.Int64
	retries       atomic.Int64
	relayCrashes  atomic.Int64
	failures      atomic.Int64 // injected processing failures
	crashes       atomic.Int64 // inventory consumer crashes
	restarts      atomic.Int64 // consumer restarts after errors
	dupDelivered  atomic.Int64
	failedResults atomic.Int64
	insufficient  atomic.Int64
	unknownOrders atomic.Int64
	consistent    atomic.Int64 // orders moved to history
	dupResults    atomic.Int64
	// unsent counts orders the open-loop schedules owed but never placed
	// (a producer still behind load.Overrun after the window ended), each
	// one stock.deduct message never sent.
	unsent atomic.Int64

	errMu   sync.Mutex
	lastErr error
	nErrs   int64
}

// counts is a snapshot of stats.
type counts struct {
	orders, orderErrs, published, sendFailures, retries, relayCrashes int64
	failures, crashes, restarts, dupDelivered, failedResults          int64
	insufficient, unknownOrders, consistent, dupResults, unsent       int64
	lastErr                                                           error
	nErrs                                                             int64
}

// snapshot reads every counter. Each value is read atomically; the set is
// consistent once the goroutines updating them have stopped.
func (s *stats) snapshot() counts {
	s.errMu.Lock()
	lastErr, nErrs := s.lastErr, s.nErrs
	s.errMu.Unlock()
	return counts{
		unsent: s.unsent.Load(), orders: s.orders.Load(), orderErrs: s.orderErrs.Load(), published: s.published.Load(),
		sendFailures: s.sendFailures.Load(), retries: s.retries.Load(), relayCrashes: s.relayCrashes.Load(),
		failures: s.failures.Load(), crashes: s.crashes.Load(), restarts: s.restarts.Load(),
		dupDelivered: s.dupDelivered.Load(), failedResults: s.failedResults.Load(),
		insufficient: s.insufficient.Load(), unknownOrders: s.unknownOrders.Load(),
		consistent: s.consistent.Load(), dupResults: s.dupResults.Load(),
		lastErr: lastErr, nErrs: nErrs,
	}
}

// pending is the number of committed orders not yet consistent.
func (s *stats) pending() int64 { return s.orders.Load() - s.consistent.Load() }

// noteErr counts err and keeps it as the last one.
func (s *stats) noteErr(err error) {
	s.errMu.Lock()
	s.lastErr = err
	s.nErrs++
	s.errMu.Unlock()
}
