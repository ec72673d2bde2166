package decoupling

import "sync/atomic"

// orderStats are one mode's order counters; safe for concurrent use.
type orderStats struct {
	placed   atomic.Int64 // orders taken (an interrupted one is taken back)
	ok       atomic.Int64 // answered OK
	failed   atomic.Int64 // answered with a failure
	measured atomic.Int64 // answered OK after the warm-up
	unsent   atomic.Int64 // owed by the open-loop schedule, never dispatched (svc.OpenLoop)
}

// inventoryStats are one inventory's counters; safe for concurrent use.
type inventoryStats struct {
	applied atomic.Int64 // orders known to be deducted (see inventory.counted)
	dupes   atomic.Int64 // deductions refused because the order was deducted already
	errs    atomic.Int64 // database errors
}
