package rabbitmq

import (
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

var _ driver.BlockReporter = (*Driver)(nil)

// maxBlockEvents bounds the events a driver keeps; older ones are dropped.
const maxBlockEvents = 4096

// blockLog records the connection.blocked / connection.unblocked
// notifications of a driver's connections (amqp091-go's
// Connection.NotifyBlocked): RabbitMQ sends them when a memory or disk
// alarm blocks every publishing connection, with the alarm as the reason.
// Safe for concurrent use; a nil *blockLog records nothing.
type blockLog struct {
	mu     sync.Mutex
	events []driver.BlockEvent
	open   map[string]int // connection name -> index of its open event
}

// record notes one notification of connection conn received at at.
func (b *blockLog) record(conn string, n amqp.Blocking, at time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open == nil {
		b.open = map[string]int{}
	}
	i, isOpen := b.open[conn]
	if !n.Active {
		if isOpen {
			b.events[i].End = at
			delete(b.open, conn)
		}
		return
	}
	if isOpen {
		return // already blocked: the first notification's start stands
	}
	reason := n.Reason
	if reason == "" {
		reason = "no reason given"
	}
	if len(b.events) >= maxBlockEvents {
		b.dropOldest()
	}
	b.events = append(b.events, driver.BlockEvent{Start: at, Source: "connection.blocked", Reason: reason, Conn: conn})
	b.open[conn] = len(b.events) - 1
}

// dropOldest forgets the oldest event and shifts the open indexes.
func (b *blockLog) dropOldest() {
	b.events = append(b.events[:0], b.events[1:]...)
	for c, i := range b.open {
		if i == 0 {
			delete(b.open, c)
		} else {
			b.open[c] = i - 1
		}
	}
}

// closed ends the open event of conn when its connection goes away
// blocked: the block ends for it then.
func (b *blockLog) closed(conn string, at time.Time) {
	b.record(conn, amqp.Blocking{Active: false}, at)
}

// snapshot returns a copy of the events.
func (b *blockLog) snapshot() []driver.BlockEvent {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]driver.BlockEvent(nil), b.events...)
}

// BlockEvents implements driver.BlockReporter: the connection.blocked
// periods of the producer and consumer connections opened by d (the most
// recent 4096), with RabbitMQ's reason (e.g. "low on memory", "low on disk
// space"). A period still open has a zero End; one whose connection closed
// while blocked ends when it closed.
func (d *Driver) BlockEvents() []driver.BlockEvent { return d.blocks.snapshot() }
