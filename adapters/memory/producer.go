package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// producer implements driver.Producer.
type producer struct {
	drv     *Driver
	d       *topic
	durable bool // Durable profile: messages survive Broker.Restart
	unsafe  bool // Unsafe profile: rejections are silent

	// Guarded by d.mu.
	n          uint64 // messages numbered so far, for Faults
	held       msg    // message held back by ReorderEvery
	heldCopies int    // 0: nothing held
	err        error  // why the producer is shut; nil while open
	done       chan struct{}
}

// NewProducer opens a producer on a provisioned destination. opts are
// accepted and ignored: Send confirms a whole batch at once.
func (d *Driver) NewProducer(ctx context.Context, dest driver.Destination, opts driver.ProducerOptions) (driver.Producer, error) {
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
	p := &producer{
		drv:     d,
		d:       ds,
		durable: d.profile == driver.Durable,
		unsafe:  d.profile == driver.Unsafe,
		done:    make(chan struct{}),
	}
	if err := d.track(p); err != nil {
		return nil, err
	}
	ds.mu.Lock()
	switch {
	case ds.deleted:
		err = fmt.Errorf("memory: destination %q deleted: %w", ds.name, driver.ErrClosed)
	case d.b.epoch.Load() != d.epoch:
		err = errRestarted
	default:
		ds.producers[p] = struct{}{}
	}
	ds.mu.Unlock()
	if err != nil {
		d.untrack(p)
		return nil, err
	}
	return p, nil
}

// Send stores msgs in every group of the destination and returns once all
// are stored (the memory broker confirms on storing, in every profile). It
// blocks only while the destination is over Options.FlowLimit, until space
// frees, ctx is done (ctx.Err(), nothing stored) or the producer is closed.
// Messages over Destination.MaxLength fail with driver.ErrRejected in a
// *driver.SendError, except in the Unsafe profile, where they are silently
// dropped. Faults apply here.
func (p *producer) Send(ctx context.Context, msgs []driver.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.drv.b.down.Load() {
		return errDown("send")
	}
	total := 0
	for i := range msgs {
		total += len(msgs[i].Key) + len(msgs[i].Body)
	}
	arena := make([]byte, total)
	f := p.drv.b.faults.Load()
	d := p.d

	d.mu.Lock()
	if err := p.waitForSpace(ctx); err != nil {
		return err
	}
	if p.drv.b.down.Load() { // checked again under the lock Down takes
		d.mu.Unlock()
		return errDown("send")
	}

	var (
		errs []error
		rej  error
		now  int64 = -1
		off  int
	)
	for i := range msgs {
		p.n++
		n := p.n
		if d.overLength() {
			if !p.unsafe {
				if errs == nil {
					errs = make([]error, len(msgs))
					rej = fmt.Errorf("memory: destination %q full: %w", d.name, driver.ErrRejected)
				}
				errs[i] = rej
			}
			continue
		}
		if hits(f.DropEvery, n) {
			continue
		}
		key, body := msgs[i].Key, msgs[i].Body
		k := copy(arena[off:], key)
		l := k + copy(arena[off+k:], body)
		m := msg{kb: arena[off : off+l : off+l], klen: uint32(k), durable: p.durable}
		off += l
		copies := 1
		if hits(f.DuplicateEvery, n) {
			copies = 2
		}
		switch {
		case f.Delay > 0 && hits(f.DelayEvery, n):
			if now < 0 {
				now = d.nanotime()
			}
			at := now + int64(f.Delay)
			for range copies {
				d.store(m, at)
			}
		case p.heldCopies > 0:
			for range copies {
				d.store(m, 0)
			}
			p.releaseLocked()
		case hits(f.ReorderEvery, n):
			p.held, p.heldCopies = m, copies
		default:
			for range copies {
				d.store(m, 0)
			}
		}
	}
	d.wakeAll()
	d.mu.Unlock()
	if errs != nil {
		return &driver.SendError{Errs: errs}
	}
	return nil
}

// waitForSpace is called with the destination's lock held and returns
// with it held and the destination under Options.FlowLimit, or without it
// and an error: the producer's own (closed) or ctx's. A wait is one
// flow-control period the driver reports (driver.BlockReporter).
func (p *producer) waitForSpace(ctx context.Context) error {
	d := p.d
	blocked := -1 // index of this Send's flow-control period, once it waits
	defer func() {
		if blocked >= 0 {
			p.drv.blocks.end(blocked, time.Now())
		}
	}()
	for {
		if p.err != nil {
			err := p.err
			d.mu.Unlock()
			return err
		}
		if !d.full() {
			return nil
		}
		if blocked < 0 {
			blocked = p.drv.blocks.start(d.name, time.Now())
		}
		d.sendWaiters++
		ch := d.space
		d.mu.Unlock()
		select {
		case <-ch:
		case <-p.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		d.mu.Lock()
	}
}

// releaseLocked stores the message held by ReorderEvery, if any.
func (p *producer) releaseLocked() {
	for range p.heldCopies {
		p.d.store(p.held, 0)
	}
	p.held, p.heldCopies = msg{}, 0
}

// shutLocked closes p for reason err; a held message is stored first, since
// its Send confirmed it. Called with d.mu held.
func (p *producer) shutLocked(err error) {
	if p.err != nil {
		return
	}
	if !p.d.deleted {
		p.releaseLocked()
		p.d.wakeAll()
	}
	p.err = err
	close(p.done)
	delete(p.d.producers, p)
}

// Close closes the producer and unblocks a pending Send. Idempotent.
func (p *producer) Close() error {
	p.d.mu.Lock()
	p.shutLocked(fmt.Errorf("memory: producer: %w", driver.ErrClosed))
	p.d.mu.Unlock()
	p.drv.untrack(p)
	return nil
}
