package memory

import (
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

var _ driver.BlockReporter = (*Driver)(nil)

// maxBlockEvents bounds the flow-control periods a driver records; later
// ones are not recorded.
const maxBlockEvents = 4096

// blockLog records the periods in which a Send of the driver waited for
// the flow limit (Options.FlowLimit), as a broker that blocks publishers
// at a memory limit would report them. Safe for concurrent use; the zero
// value is ready.
type blockLog struct {
	mu     sync.Mutex
	events []driver.BlockEvent
}

// start opens a period for destination dest and returns its index, or -1
// when the log is full.
func (b *blockLog) start(dest string, at time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.events) >= maxBlockEvents {
		return -1
	}
	b.events = append(b.events, driver.BlockEvent{Start: at, Source: "flow limit",
		Reason: "destination " + dest + " over the flow limit", Conn: "memory"})
	return len(b.events) - 1
}

// end closes period i (a no-op for -1).
func (b *blockLog) end(i int, at time.Time) {
	if i < 0 {
		return
	}
	b.mu.Lock()
	b.events[i].End = at
	b.mu.Unlock()
}

// BlockEvents implements driver.BlockReporter: the periods in which a Send
// on this driver waited because a group of its destination held more than
// Options.FlowLimit bytes (the first 4096; one per blocked Send, so
// concurrent producers give overlapping periods). A Send still waiting has
// an open period (zero End).
func (d *Driver) BlockEvents() []driver.BlockEvent {
	d.blocks.mu.Lock()
	defer d.blocks.mu.Unlock()
	return append([]driver.BlockEvent(nil), d.blocks.events...)
}
