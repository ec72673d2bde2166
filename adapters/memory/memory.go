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
//     consumers cannot exhaust memory.
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
	"errors"
	"fmt"
	"runtime/debug"
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

// msg is a stored message. kb holds the key then the body; it is shared by
// every group and never written after Send stored it.
type msg struct {
	kb          []byte
	klen        uint32
	durable     bool
	redelivered bool
}

func (m *msg) size() int64 { return int64(len(m.kb)) + msgOverhead }

type delayedMsg struct {
	m  msg
	at int64 // deliverable from this time, Unix ns (monotonic clock based)
}

// group is one consumer group's queue.
type group struct {
	name      string
	ready     deque[msg]
	delayed   deque[delayedMsg] // ordered by at for equal Delay
	waitBytes int64             // size of ready and delayed messages
	consumers map[*consumer]struct{}
	waiters   int           // Receive calls blocked on notify
	notify    chan struct{} // closed and replaced when messages arrive
}

func newGroup(name string) *group {
	return &group{name: name, consumers: make(map[*consumer]struct{}), notify: make(chan struct{})}
}

func (g *group) waiting() int { return g.ready.len() + g.delayed.len() }

func (g *group) recount() {
	var n int64
	for i := 0; i < g.ready.len(); i++ {
		n += g.ready.at(i).size()
	}
	for i := 0; i < g.delayed.len(); i++ {
		n += g.delayed.at(i).m.size()
	}
	g.waitBytes = n
}

// wake releases blocked Receive calls.
func (g *group) wake() {
	if g.waiters > 0 {
		close(g.notify)
		g.notify = make(chan struct{})
		g.waiters = 0
	}
}

// promote moves delayed messages that became due to the back of ready.
func (g *group) promote(now int64) {
	for g.delayed.len() > 0 && g.delayed.at(0).at <= now {
		g.ready.pushBack(g.delayed.popFront().m)
	}
}

// requeue puts ms back at the head of the ready queue, in their order,
// marked redelivered.
func (g *group) requeue(ms []msg) {
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		m.redelivered = true
		g.ready.pushFront(m)
		g.waitBytes += m.size()
	}
	if len(ms) > 0 {
		g.wake()
	}
}

// topic is one provisioned destination: its groups and producers.
type topic struct {
	name  string
	start time.Time // Broker.start

	mu        sync.Mutex
	maxLength int
	groups    map[string]*group
	order     []*group // groups in creation order, for fast iteration
	producers map[*producer]struct{}
	txps      map[*txProducer]struct{}
	deleted   bool
	flowLimit int64

	sendWaiters int
	space       chan struct{} // closed and replaced when space frees
}

// nanotime is the broker's monotonic clock in ns.
func (d *topic) nanotime() int64 { return int64(time.Since(d.start)) }

// full reports whether a group holds more than the flow limit.
func (d *topic) full() bool {
	for _, g := range d.order {
		if g.waitBytes > d.flowLimit {
			return true
		}
	}
	return false
}

// overLength reports whether one more message would exceed MaxLength in a
// group.
func (d *topic) overLength() bool {
	if d.maxLength <= 0 {
		return false
	}
	for _, g := range d.order {
		if g.waiting() >= d.maxLength {
			return true
		}
	}
	return false
}

func (d *topic) wakeSenders() {
	if d.sendWaiters > 0 {
		close(d.space)
		d.space = make(chan struct{})
		d.sendWaiters = 0
	}
}

// store appends m to every group, deliverable at at (0: now).
func (d *topic) store(m msg, at int64) {
	sz := m.size()
	for _, g := range d.order {
		if at != 0 {
			g.delayed.pushBack(delayedMsg{m: m, at: at})
		} else {
			g.ready.pushBack(m)
		}
		g.waitBytes += sz
	}
}

func (d *topic) wakeAll() {
	for _, g := range d.order {
		g.wake()
	}
}

// delete marks d deleted and shuts its producers and consumers. Called with
// d.mu held.
func (d *topic) deleteLocked() {
	if d.deleted {
		return
	}
	d.deleted = true
	err := fmt.Errorf("memory: destination %q deleted: %w", d.name, driver.ErrClosed)
	for p := range d.producers {
		p.shutLocked(err)
	}
	for p := range d.txps {
		p.shutLocked()
	}
	for _, g := range d.order {
		for c := range g.consumers {
			c.shutLocked(err)
		}
		g.ready.clear()
		g.delayed.clear()
		g.waitBytes = 0
		g.wake()
	}
	d.wakeSenders()
}

// closer is a producer, consumer or transactional producer a Driver tracks
// so that Driver.Close can close it.
type closer interface{ Close() error }

// Driver is one connection to a Broker. It implements driver.Driver,
// driver.DepthReader and driver.Transactor, and is safe for concurrent use.
type Driver struct {
	b       *Broker
	cfg     driver.Config
	profile driver.Profile
	epoch   uint64

	mu     sync.Mutex
	closed bool
	open   map[closer]struct{} // producers, consumers, tx producers
}

var (
	_ driver.Driver      = (*Driver)(nil)
	_ driver.DepthReader = (*Driver)(nil)
	_ driver.Transactor  = (*Driver)(nil)
)

// Capabilities is what the memory driver declares (and the conformance suite
// verifies).
func Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Nack:               true,
		RedeliveryFlag:     true,
		PerKeyOrder:        true,
		CompetingConsumers: true,
		FanOut:             true,
		Replay:             false,
		Persistent:         true,
		MaxLengthReject:    true,
		NativeTransaction:  true,
		Depth:              true,
		MaxBatch:           0,
	}
}

// Info describes the driver. No I/O.
func (d *Driver) Info() driver.Info {
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	return driver.Info{
		Name:          "memory",
		Client:        "github.com/mqbench/mqbench/adapters/memory",
		ClientVersion: version,
		Protocol:      "in-process",
		BrokerVersion: version,
		Capabilities:  Capabilities(),
	}
}

// Broker returns the broker d is connected to.
func (d *Driver) Broker() *Broker { return d.b }

// check returns why d cannot be used, or nil.
func (d *Driver) check() error {
	if d.b.epoch.Load() != d.epoch {
		return errRestarted
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return fmt.Errorf("memory: driver: %w", driver.ErrClosed)
	}
	return nil
}

// track registers c for Driver.Close; it fails when d is closed.
func (d *Driver) track(c closer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("memory: driver: %w", driver.ErrClosed)
	}
	d.open[c] = struct{}{}
	return nil
}

func (d *Driver) untrack(c closer) {
	d.mu.Lock()
	delete(d.open, c)
	d.mu.Unlock()
}

func validName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

func validate(dest driver.Destination) error {
	if !validName(dest.Name) {
		return fmt.Errorf("memory: invalid destination name %q (letters, digits, '-', '_', '.')", dest.Name)
	}
	if len(dest.Groups) == 0 {
		return fmt.Errorf("memory: destination %q: no groups", dest.Name)
	}
	for _, g := range dest.Groups {
		if g == "" {
			return fmt.Errorf("memory: destination %q: empty group name", dest.Name)
		}
	}
	if dest.MaxLength < 0 || dest.Partitions < 0 {
		return fmt.Errorf("memory: destination %q: negative max length or partitions", dest.Name)
	}
	return nil
}

// Provision creates dest and its groups; it is idempotent, and a repeated
// call adds groups not yet present (they receive messages sent from then on).
// Provisioning an existing destination with a different MaxLength fails. The
// cleanup deletes the destination with all its groups; consumers and
// producers on it then fail with errors wrapping driver.ErrClosed.
func (d *Driver) Provision(ctx context.Context, dest driver.Destination) (func(context.Context) error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	if err := validate(dest); err != nil {
		return nil, err
	}
	b := d.b
	b.mu.Lock()
	ds := b.dests[dest.Name]
	if ds == nil {
		ds = &topic{
			name:      dest.Name,
			start:     b.start,
			txps:      make(map[*txProducer]struct{}),
			maxLength: dest.MaxLength,
			groups:    make(map[string]*group),
			producers: make(map[*producer]struct{}),
			flowLimit: b.opts.flowLimit(),
			space:     make(chan struct{}),
		}
		b.dests[dest.Name] = ds
	}
	ds.mu.Lock()
	if ds.maxLength != dest.MaxLength {
		ds.mu.Unlock()
		b.mu.Unlock()
		return nil, fmt.Errorf("memory: destination %q exists with max length %d, not %d", dest.Name, ds.maxLength, dest.MaxLength)
	}
	for _, name := range dest.Groups {
		if ds.groups[name] == nil {
			g := newGroup(name)
			ds.groups[name] = g
			ds.order = append(ds.order, g)
		}
	}
	ds.mu.Unlock()
	b.mu.Unlock()

	cleanup := func(context.Context) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.dests[ds.name] == ds {
			delete(b.dests, ds.name)
		}
		ds.mu.Lock()
		ds.deleteLocked()
		ds.mu.Unlock()
		return nil
	}
	return cleanup, nil
}

// lookup returns the provisioned destination named dest.Name.
func (d *Driver) lookup(dest driver.Destination) (*topic, error) {
	d.b.mu.Lock()
	ds := d.b.dests[dest.Name]
	d.b.mu.Unlock()
	if ds == nil {
		return nil, fmt.Errorf("memory: destination %q not provisioned", dest.Name)
	}
	return ds, nil
}

// Depth returns the number of messages waiting for delivery in group's queue
// (delayed ones included, delivered but unacked ones excluded).
func (d *Driver) Depth(ctx context.Context, dest driver.Destination, group string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := d.check(); err != nil {
		return 0, err
	}
	ds, err := d.lookup(dest)
	if err != nil {
		return 0, err
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	g := ds.groups[group]
	if g == nil || ds.deleted {
		return 0, fmt.Errorf("memory: destination %q has no group %q", dest.Name, group)
	}
	return int64(g.waiting()), nil
}

// Close closes every producer and consumer still open on d. Idempotent.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	open := make([]closer, 0, len(d.open))
	for c := range d.open {
		open = append(open, c)
	}
	d.mu.Unlock()
	var errs []error
	for _, c := range open {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
