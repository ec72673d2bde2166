package memory

import (
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

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
