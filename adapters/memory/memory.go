// Package memory is an in-process reference broker implementing the whole
// driver contract (adapters/driver). It is what `go test ./...` runs the
// conformance suite and the measuring stick against, and it measures the
// harness's own ceiling: a message crosses it with a few copies and no
// per-message allocation, channel operation or lock (everything is done per
// batch under one lock per destination).
//
// Semantics, close to a RabbitMQ queue per group:
//
//   - Provision creates one queue per group; every message sent after
//     Provision is stored in every group's queue (fan-out), even before the
//     group's first consumer subscribes.
//   - Consumers of one group compete for its queue; each message goes to one
//     of them. Deliveries are held until Ack; Nack and Consumer.Close put the
//     unacked messages back at the head of the queue, marked Redelivered.
//   - Order is the send order per producer (so per key), absent redeliveries
//     and injected faults.
//   - Destination.MaxLength caps the messages waiting (not delivered) in each
//     group's queue; a message over the cap is refused with
//     driver.ErrRejected in a *driver.SendError and stored in no group.
//   - Messages sent with the Durable profile survive Broker.Restart; others
//     are dropped by it.
//   - There is no retained log: Capabilities.Replay is false.
//   - Flow control: Send blocks while a group of the destination holds more
//     than Options.FlowLimit bytes waiting, so a producer faster than its
//     consumers cannot exhaust memory. Driver.BlockEvents reports those
//     waits (driver.BlockReporter), as a broker reports a memory alarm.
//
// Faults injects deterministic drops, duplicates, reorders and delays; see
// its documentation for the exact counts they produce.
//
// A Broker holds all state; there is no package-level state. New builds a
// fresh broker per driver; NewBroker and Broker.Driver share one broker
// between drivers (for example across Broker.Restart).
package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Defaults for Options fields left zero.
const (
	DefaultPrefetch     = 1000
	DefaultFlowLimit    = 256 << 20
	DefaultTxCheckDelay = 100 * time.Millisecond
	DefaultTxMaxChecks  = 15
)

// msgOverhead approximates the bytes a stored message costs beyond its key and
// body; it makes FlowLimit meaningful for tiny messages too.
const msgOverhead = 64

// Faults makes the broker misbehave deterministically, so tests can prove the
// measuring ledger catches each fault exactly.
//
// Every producer numbers the messages passed to its Send calls 1, 2, 3, ...
// counting all of them, across batches (messages rejected for MaxLength are
// numbered too, but never faulted). A fault with interval k > 0 hits message
// n when n%k == 0; 0 disables it. So with P producers each sending N
// messages, a fault hits P*floor(N/k) messages. A fault is decided once per
// message before fan-out: every group sees the same faults.
//
//   - DropEvery: the message is confirmed to the producer but never stored.
//     Each hit is one lost message in every group.
//   - DuplicateEvery: the message is stored twice, back to back. Each hit is
//     one duplicate in every group.
//   - ReorderEvery: the message is held back and stored right after the
//     producer's next message stored for immediate delivery (so not after a
//     dropped or delayed one), so the two arrive swapped: one message arrives
//     below the highest sequence seen, per hit. The message that releases a
//     held one is never held itself. A hit on the producer's last message
//     has nothing to swap with: it stays held until the producer sends again
//     or closes (Close stores it, unswapped; until then it is missing, so
//     close producers before draining). So a producer sending N messages,
//     with no other fault, yields floor((N-1)/k) reordered messages for
//     k >= 2, and floor(N/2) for k = 1 (pairs 1-2, 3-4, ... swapped).
//   - DelayEvery (with Delay > 0): the message becomes deliverable only Delay
//     after Send stored it; messages sent meanwhile overtake it, so it is
//     counted reordered when any later message arrives first (timing
//     dependent). DelayEvery 1 delays every message by the same Delay and
//     keeps their order: only latency grows.
//   - TxLoseEvery: every k-th SendTx of a transactional producer loses its
//     outcome: SendTx returns the local transaction's state, but the broker
//     never hears it and asks the producer's check function instead (after
//     Options.TxCheckDelay), as after a producer crash.
//
// Precedence on one message: Drop excludes the others; Delay excludes
// Reorder; Duplicate combines with Delay or Reorder (both copies are delayed
// or held together). Transactional messages are not subject to the message
// faults. The zero value injects nothing.
type Faults struct {
	DropEvery      int
	DuplicateEvery int
	ReorderEvery   int
	DelayEvery     int
	Delay          time.Duration
	TxLoseEvery    int
}

// hits reports whether interval k hits message n.
func hits(k int, n uint64) bool { return k > 0 && n%uint64(k) == 0 }

// Options configure a Broker. The zero value is a well-behaved broker.
type Options struct {
	// Faults to inject; see Faults. Broker.SetFaults changes them later.
	Faults Faults
	// Prefetch is the default for ConsumerOptions.Prefetch: the most
	// unacked deliveries a consumer holds. 0 means DefaultPrefetch.
	Prefetch int
	// FlowLimit is the number of bytes waiting in one group's queue above
	// which Send blocks until consumers catch up. 0 means DefaultFlowLimit;
	// negative means no limit.
	FlowLimit int64
	// TxCheckDelay is how long after a TxUnknown (or lost) outcome the
	// broker calls the check function, and between repeated checks. 0
	// means DefaultTxCheckDelay.
	TxCheckDelay time.Duration
	// TxMaxChecks is how many times the broker checks back before it
	// discards a half message still unknown. 0 means DefaultTxMaxChecks.
	TxMaxChecks int
}

func (o Options) prefetch() int {
	if o.Prefetch <= 0 {
		return DefaultPrefetch
	}
	return o.Prefetch
}

func (o Options) flowLimit() int64 {
	switch {
	case o.FlowLimit == 0:
		return DefaultFlowLimit
	case o.FlowLimit < 0:
		return 1<<63 - 1
	}
	return o.FlowLimit
}

func (o Options) txCheckDelay() time.Duration {
	if o.TxCheckDelay <= 0 {
		return DefaultTxCheckDelay
	}
	return o.TxCheckDelay
}

func (o Options) txMaxChecks() int {
	if o.TxMaxChecks <= 0 {
		return DefaultTxMaxChecks
	}
	return o.TxMaxChecks
}

// Broker is one in-process broker. Its methods are safe for concurrent use.
type Broker struct {
	opts   Options
	faults atomic.Pointer[Faults]

	start time.Time // origin of the monotonic clock used for delays

	mu    sync.Mutex // guards dests and epoch changes; taken before any dest.mu
	dests map[string]*topic
	epoch atomic.Uint64
	down  atomic.Bool // Down without Up since; see down.go
}

// NewBroker returns an empty broker.
func NewBroker(opts Options) *Broker {
	b := &Broker{opts: opts, start: time.Now(), dests: make(map[string]*topic)}
	f := opts.Faults
	b.faults.Store(&f)
	return b
}

// SetFaults replaces the faults injected from now on. Producers keep their
// message numbering, so a fault interval applies to the producers' running
// counts.
func (b *Broker) SetFaults(f Faults) { b.faults.Store(&f) }

// New is a driver.Constructor: it returns a driver on a fresh broker with
// default Options. cfg.Addr is ignored.
func New(ctx context.Context, cfg driver.Config) (driver.Driver, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := NewBroker(Options{}).Driver(cfg)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Constructor returns a driver.Constructor that builds each driver on a fresh
// broker with opts (for example with faults).
func Constructor(opts Options) driver.Constructor {
	return func(ctx context.Context, cfg driver.Config) (driver.Driver, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := NewBroker(opts).Driver(cfg)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
}

// Driver returns a new connection to b. It fails only for an invalid
// profile. The driver stops working (its operations fail with an error
// wrapping driver.ErrClosed) when the broker restarts.
func (b *Broker) Driver(cfg driver.Config) (*Driver, error) {
	p := cfg.EffectiveProfile()
	if _, err := driver.ParseProfile(string(p)); err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return &Driver{
		b:       b,
		cfg:     cfg,
		profile: p,
		epoch:   b.epoch.Load(),
		open:    make(map[closer]struct{}),
	}, nil
}

// errRestarted is the reason operations fail on a driver, producer or
// consumer that outlived a Broker.Restart.
var errRestarted = fmt.Errorf("memory: connection lost: broker restarted: %w", driver.ErrClosed)

// Restart simulates a broker restart that keeps its disk: destinations and
// their groups stay; messages sent with the Durable profile stay, including
// unacked ones, which become deliverable again (marked Redelivered); all other
// messages and unresolved transactional half messages are dropped. Every
// driver, producer and consumer opened before the restart fails from then on
// with an error wrapping driver.ErrClosed (a pending Receive or Send returns
// it); open new drivers with Broker.Driver.
func (b *Broker) Restart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.epoch.Add(1)
	for _, d := range b.dests {
		d.mu.Lock()
		for p := range d.producers {
			p.shutLocked(errRestarted)
		}
		for p := range d.txps {
			p.shutLocked()
		}
		for _, g := range d.groups {
			for c := range g.consumers {
				c.shutLocked(errRestarted)
			}
			g.ready.filter(func(m *msg) bool { return m.durable })
			g.delayed.filter(func(m *delayedMsg) bool { return m.m.durable })
			g.recount()
			g.wake()
		}
		d.wakeSenders()
		d.mu.Unlock()
	}
}
