package memory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// consumer implements driver.Consumer.
type consumer struct {
	drv      *Driver
	d        *topic
	g        *group
	prefetch int

	// Guarded by d.mu.
	inflight deque[entry] // deliveries in tag order, from tag base
	base     uint64
	unacked  int
	err      error // why the consumer is shut; nil while open
	done     chan struct{}

	scratch []msg // Receive's staging area; only the receiving goroutine uses it
	settled []msg // Nack's staging area, guarded by d.mu
}

// entry is one delivery waiting for Ack or Nack.
type entry struct {
	m       msg
	settled bool
}

// token is the Delivery.Token of the memory driver.
type token struct {
	c   *consumer
	tag uint64
}

// slot packs a delivery with its token so Receive allocates both at once.
type slot struct {
	d driver.Delivery
	t token
}

// NewConsumer joins opts.Group of a provisioned destination. opts.Prefetch
// bounds the unacked deliveries (0: Options.Prefetch); opts.FromStart is
// ignored (no retained log).
func (d *Driver) NewConsumer(ctx context.Context, dest driver.Destination, opts driver.ConsumerOptions) (driver.Consumer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	ds, err := d.lookup(dest)
	if err != nil {
		return nil, err
	}
	prefetch := opts.Prefetch
	if prefetch <= 0 {
		prefetch = d.b.opts.prefetch()
	}
	c := &consumer{drv: d, d: ds, prefetch: prefetch, done: make(chan struct{})}
	if err := d.track(c); err != nil {
		return nil, err
	}
	ds.mu.Lock()
	g := ds.groups[opts.Group]
	switch {
	case ds.deleted:
		err = fmt.Errorf("memory: destination %q deleted: %w", ds.name, driver.ErrClosed)
	case g == nil:
		err = fmt.Errorf("memory: destination %q has no group %q (provision it first)", ds.name, opts.Group)
	case d.b.epoch.Load() != d.epoch:
		err = errRestarted
	default:
		c.g = g
		g.consumers[c] = struct{}{}
	}
	ds.mu.Unlock()
	if err != nil {
		d.untrack(c)
		return nil, err
	}
	return c, nil
}

// Receive returns between 1 and max deliveries from the group's queue,
// blocking until one is available (and the consumer holds fewer than its
// prefetch unacked), ctx is done (ctx.Err()) or the consumer is closed (an
// error wrapping driver.ErrClosed).
func (c *consumer) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
	if max <= 0 {
		max = 1
	}
	d, g := c.d, c.g
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()

	d.mu.Lock()
	var n int
	for {
		if c.err != nil {
			err := c.err
			d.mu.Unlock()
			return nil, err
		}
		var now int64
		if g.delayed.len() > 0 {
			now = d.nanotime()
			g.promote(now)
		}
		n = min(max, g.ready.len(), c.prefetch-c.unacked)
		if c.drv.b.down.Load() {
			n = 0 // down: nothing is delivered until Up wakes the group
		}
		if n > 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			d.mu.Unlock()
			return nil, err
		}
		g.waiters++
		ch := g.notify
		var due <-chan time.Time
		if g.delayed.len() > 0 {
			wait := time.Duration(g.delayed.at(0).at - now)
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			due = timer.C
		}
		d.mu.Unlock()
		select {
		case <-ch:
		case <-due:
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		d.mu.Lock()
	}

	c.scratch = c.scratch[:0]
	tag0 := c.base + uint64(c.inflight.len())
	size := 0
	for range n {
		m := g.ready.popFront()
		g.waitBytes -= m.size()
		c.inflight.pushBack(entry{m: m})
		c.scratch = append(c.scratch, m)
		size += len(m.kb)
	}
	c.unacked += n
	if d.sendWaiters > 0 && !d.full() {
		d.wakeSenders()
	}
	d.mu.Unlock()

	arena := make([]byte, size)
	slots := make([]slot, n)
	out := make([]*driver.Delivery, n)
	off := 0
	for i := range c.scratch {
		m := &c.scratch[i]
		l := copy(arena[off:], m.kb)
		kb := arena[off : off+l : off+l]
		off += l
		s := &slots[i]
		s.t = token{c: c, tag: tag0 + uint64(i)}
		s.d = driver.Delivery{Key: kb[:m.klen:m.klen], Body: kb[m.klen:], Redelivered: m.redelivered, Token: &s.t}
		out[i] = &s.d
	}
	clear(c.scratch)
	return out, nil
}

// Ack removes the deliveries from the group for good. Deliveries not
// received by this consumer, or already settled, are skipped and reported
// in the error; the others are acked anyway.
func (c *consumer) Ack(ctx context.Context, ds []*driver.Delivery) error {
	return c.settle(ctx, ds, false)
}

// Nack puts the deliveries back at the head of the group's queue, in the
// order given, marked Redelivered; any consumer of the group may receive
// them at once. Errors as for Ack.
func (c *consumer) Nack(ctx context.Context, ds []*driver.Delivery) error {
	return c.settle(ctx, ds, true)
}

var errUnknownDelivery = errors.New("delivery unknown to this consumer or already settled")

func (c *consumer) settle(ctx context.Context, ds []*driver.Delivery, requeue bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d := c.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.drv.b.down.Load() {
		return errDown("settle")
	}
	bad := 0
	c.settled = c.settled[:0]
	for _, dl := range ds {
		var t *token
		if dl != nil {
			t, _ = dl.Token.(*token)
		}
		if t == nil || t.c != c || t.tag < c.base || t.tag-c.base >= uint64(c.inflight.len()) {
			bad++
			continue
		}
		e := c.inflight.at(int(t.tag - c.base))
		if e.settled {
			bad++
			continue
		}
		e.settled = true
		c.unacked--
		if requeue {
			c.settled = append(c.settled, e.m)
		}
	}
	for c.inflight.len() > 0 && c.inflight.at(0).settled {
		c.inflight.popFront()
		c.base++
	}
	if requeue {
		c.g.requeue(c.settled)
		clear(c.settled)
	}
	if bad > 0 {
		return fmt.Errorf("memory: %d of %d deliveries: %w", bad, len(ds), errUnknownDelivery)
	}
	return nil
}

// shutLocked closes c for reason err and puts its unacked deliveries back at
// the head of the queue (unless the destination is deleted). Called with
// d.mu held.
func (c *consumer) shutLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
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
	if !c.d.deleted {
		c.g.requeue(ms)
	}
	delete(c.g.consumers, c)
}

// Close leaves the group: unacked deliveries go back to the head of the
// queue, marked Redelivered, and a pending Receive returns. Idempotent.
func (c *consumer) Close() error {
	c.d.mu.Lock()
	c.shutLocked(fmt.Errorf("memory: consumer: %w", driver.ErrClosed))
	c.d.mu.Unlock()
	c.drv.untrack(c)
	return nil
}
