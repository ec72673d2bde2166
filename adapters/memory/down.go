package memory

import (
	"errors"
	"fmt"
)

// ErrDown is what Send, Ack and Nack fail with (wrapped) while the broker
// is down (Broker.Down): the node serving the destination is gone, the
// outcome of a send is unknown, so its messages are unconfirmed.
var ErrDown = errors.New("memory: broker down")

// Down takes the broker off the air, as a node killed with kill -9 that
// the clients' connections survive by reconnecting: from now until Up,
// Send fails at once with an error wrapping ErrDown (nothing stored, every
// message unconfirmed), Receive delivers nothing (it waits for Up, its
// context or Close), and Ack and Nack fail with ErrDown. Every delivery a
// consumer holds unacked goes back to the head of its group's queue, marked
// Redelivered, as when a broker loses a consumer's session; after Up it is
// delivered again (a duplicate to a ledger that recorded it).
//
// With lose, the node's store dies with it: every message waiting in a
// group, the requeued ones included, is dropped for good, as on a
// destination with no replica whose unconsumed messages were on the killed
// node only. Without lose they stay and are delivered after Up.
//
// Down while down is a no-op apart from lose dropping what waits.
// Producers and consumers stay open and work again after Up; drivers
// are not invalidated (unlike Restart).
func (b *Broker) Down(lose bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down.Store(true)
	for _, d := range b.dests {
		d.mu.Lock()
		for _, g := range d.groups {
			for c := range g.consumers {
				c.resetLocked()
			}
			if lose {
				g.ready.clear()
				g.delayed.clear()
				g.recount()
			}
		}
		d.wakeSenders()
		d.mu.Unlock()
	}
}

// Up puts a broker taken down by Down back on the air: sends are stored
// and confirmed again, and waiting Receive calls deliver what the groups
// hold. Up on a broker that is up is a no-op.
func (b *Broker) Up() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.down.Swap(false) {
		return
	}
	for _, d := range b.dests {
		d.mu.Lock()
		for _, g := range d.groups {
			g.wake()
		}
		d.mu.Unlock()
	}
}

// IsDown reports whether the broker is down (Down without Up since).
func (b *Broker) IsDown() bool { return b.down.Load() }

// errDown is the error of an operation refused while the broker is down.
func errDown(op string) error { return fmt.Errorf("memory: %s: %w", op, ErrDown) }

// resetLocked forgets c's unsettled deliveries and puts them back at the
// head of the group's queue (marked Redelivered); their tokens become
// unknown to Ack and Nack. Called with d.mu held.
func (c *consumer) resetLocked() {
	var ms []msg
	for c.inflight.len() > 0 {
		e := c.inflight.popFront()
		c.base++
		if !e.settled {
			ms = append(ms, e.m)
		}
	}
	c.unacked = 0
	c.inflight.clear()
	c.g.requeue(ms)
}
