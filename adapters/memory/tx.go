package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// txProducer implements driver.TxProducer with half messages: a message is
// held by the producer, invisible, until its transaction commits.
type txProducer struct {
	drv     *Driver
	d       *topic
	check   func(ctx context.Context, m driver.Message) driver.TxState
	durable bool
	ctx     context.Context // cancelled when the producer shuts
	cancel  context.CancelFunc

	mu     sync.Mutex
	n      uint64 // SendTx calls, for Faults.TxLoseEvery
	closed bool
	timers map[*half]*time.Timer
	wg     sync.WaitGroup // running check-backs
}

// half is a message waiting for its transaction's outcome.
type half struct {
	m      msg
	checks int
}

// NewTxProducer opens a transactional producer on a provisioned destination.
// check is called for a half message whose outcome is TxUnknown or was lost,
// Options.TxCheckDelay after SendTx and then again every TxCheckDelay while
// it answers TxUnknown, at most Options.TxMaxChecks times (then the message is
// discarded). It runs on a timer goroutine with a context bounded by
// Config.OpTimeout; calls for different messages may overlap.
func (d *Driver) NewTxProducer(ctx context.Context, dest driver.Destination, check func(ctx context.Context, m driver.Message) driver.TxState) (driver.TxProducer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if check == nil {
		return nil, fmt.Errorf("memory: NewTxProducer: nil check function")
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	ds, err := d.lookup(dest)
	if err != nil {
		return nil, err
	}
	p := &txProducer{
		drv:     d,
		d:       ds,
		check:   check,
		durable: d.profile == driver.Durable,
		timers:  make(map[*half]*time.Timer),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if err := d.track(p); err != nil {
		p.cancel()
		return nil, err
	}
	ds.mu.Lock()
	switch {
	case ds.deleted:
		err = fmt.Errorf("memory: destination %q deleted: %w", ds.name, driver.ErrClosed)
	case d.b.epoch.Load() != d.epoch:
		err = errRestarted
	default:
		ds.txps[p] = struct{}{}
	}
	ds.mu.Unlock()
	if err != nil {
		d.untrack(p)
		p.cancel()
		return nil, err
	}
	return p, nil
}

// SendTx stores m as a half message, runs local, and commits (the message
// becomes visible to every group), rolls back (it is discarded) or leaves it
// to check-back (TxUnknown) per local's answer. It returns local's answer.
// A destination at MaxLength refuses the half message before local runs,
// with an error wrapping driver.ErrRejected (and TxRollback).
func (p *txProducer) SendTx(ctx context.Context, m driver.Message, local func(ctx context.Context) driver.TxState) (driver.TxState, error) {
	if local == nil {
		return driver.TxRollback, fmt.Errorf("memory: SendTx: nil local transaction")
	}
	if err := ctx.Err(); err != nil {
		return driver.TxRollback, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return driver.TxRollback, fmt.Errorf("memory: tx producer: %w", driver.ErrClosed)
	}
	p.n++
	n := p.n
	p.mu.Unlock()

	kb := make([]byte, len(m.Key)+len(m.Body))
	k := copy(kb, m.Key)
	copy(kb[k:], m.Body)
	h := &half{m: msg{kb: kb, klen: uint32(k), durable: p.durable}}

	d := p.d
	d.mu.Lock()
	err := p.usableLocked()
	if err == nil && d.overLength() {
		err = fmt.Errorf("memory: destination %q full: %w", d.name, driver.ErrRejected)
	}
	d.mu.Unlock()
	if err != nil {
		return driver.TxRollback, err
	}

	state := local(ctx)
	if hits(p.drv.b.faults.Load().TxLoseEvery, n) {
		p.schedule(h)
		return state, nil
	}
	switch state {
	case driver.TxCommit:
		if err := p.commit(h); err != nil {
			return state, err
		}
	case driver.TxRollback:
	default:
		state = driver.TxUnknown
		p.schedule(h)
	}
	return state, nil
}

// usableLocked says why the producer cannot store, or nil. d.mu held.
func (p *txProducer) usableLocked() error {
	switch {
	case p.d.deleted:
		return fmt.Errorf("memory: destination %q deleted: %w", p.d.name, driver.ErrClosed)
	case p.drv.b.epoch.Load() != p.drv.epoch:
		return errRestarted
	}
	return nil
}

// commit makes h visible to every group.
func (p *txProducer) commit(h *half) error {
	d := p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := p.usableLocked(); err != nil {
		return err
	}
	d.store(h.m, 0)
	d.wakeAll()
	return nil
}

// schedule arms a check-back for h, unless the producer is closed.
func (p *txProducer) schedule(h *half) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.timers[h] = time.AfterFunc(p.drv.b.opts.txCheckDelay(), func() { p.runCheck(h) })
}

func (p *txProducer) runCheck(h *half) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	delete(p.timers, h)
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	h.checks++
	ctx, cancel := context.WithTimeout(p.ctx, p.drv.cfg.Timeout())
	key := append([]byte(nil), h.m.kb[:h.m.klen]...)
	body := append([]byte(nil), h.m.kb[h.m.klen:]...)
	state := p.check(ctx, driver.Message{Key: key, Body: body})
	cancel()
	log := p.drv.cfg.Log()
	switch state {
	case driver.TxCommit:
		if err := p.commit(h); err != nil {
			log.Warn("memory: commit after check-back failed", "dest", p.d.name, "err", err)
		}
	case driver.TxRollback:
	default:
		if h.checks < p.drv.b.opts.txMaxChecks() {
			p.schedule(h)
		} else {
			log.Warn("memory: half message discarded after check-backs", "dest", p.d.name, "checks", h.checks)
		}
	}
}

// shutLocked stops every pending check-back; their half messages are
// discarded. Called with d.mu held (or from Close).
func (p *txProducer) shutLocked() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for h, t := range p.timers {
			t.Stop()
			delete(p.timers, h)
		}
	}
	p.mu.Unlock()
	p.cancel()
	delete(p.d.txps, p)
}

// Close stops check-backs (unresolved half messages are discarded) and waits
// for a running check function to return. Idempotent.
func (p *txProducer) Close() error {
	p.d.mu.Lock()
	p.shutLocked()
	p.d.mu.Unlock()
	p.wg.Wait()
	p.drv.untrack(p)
	return nil
}
