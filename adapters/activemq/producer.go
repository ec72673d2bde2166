package activemq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
)

// NewProducer opens a producer on dest with its own STOMP connection. The
// connection is made here (bounded by ctx and the operation timeout) and
// again on a later Send if it dies.
func (d *Driver) NewProducer(ctx context.Context, dest driver.Destination, opts driver.ProducerOptions) (driver.Producer, error) {
	if err := checkDest(dest); err != nil {
		return nil, err
	}
	window := opts.MaxInFlight
	if window <= 0 {
		window = DefaultMaxInFlight
	}
	p := &producer{
		d:       d,
		dest:    topicDest(dest.Name),
		profile: d.profile,
		window:  window,
	}
	c, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	p.c = c
	if err := d.track(p); err != nil {
		_ = c.Close()
		return nil, err
	}
	return p, nil
}

// producer sends to one virtual topic over one connection. Send is called by
// one goroutine at a time; Close may be called concurrently.
type producer struct {
	d       *Driver
	dest    string
	profile driver.Profile
	window  int

	mu     sync.Mutex // guards c and closed
	c      *conn
	closed bool
}

// conn returns the live connection, dialling a new one if the last died.
func (p *producer) conn(ctx context.Context) (*conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("activemq: producer %w", driver.ErrClosed)
	}
	c := p.c
	p.mu.Unlock()
	if c != nil && c.Err() == nil {
		return c, nil
	}
	nc, err := p.d.connect(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = nc.Close()
		return nil, fmt.Errorf("activemq: producer %w", driver.ErrClosed)
	}
	p.c = nc
	return nc, nil
}

// sendFrame builds the SEND frame of m. tx, when not empty, puts it in that
// transaction.
func (p *producer) sendFrame(m driver.Message, persistent bool, tx string) *frame.Frame {
	f := frame.New(frame.SEND,
		frame.Destination, p.dest,
		frame.ContentLength, strconv.Itoa(len(m.Body)),
		hdrPersistent, strconv.FormatBool(persistent))
	if tx != "" {
		f.Header.Add(frame.Transaction, tx)
	}
	if len(m.Key) > 0 {
		h, v := encodeKey(m.Key)
		f.Header.Add(hdrGroupID, v)
		f.Header.Add(h, v)
	}
	// The frame is fully written before Send returns, so it may share the
	// caller's buffer.
	f.Body = m.Body
	return f
}

// Send sends msgs and waits for the broker's confirmation of each, as
// described in the package comment. It returns nil when all were
// confirmed, a *driver.SendError naming the unconfirmed ones, or another
// error when none was sent.
func (p *producer) Send(ctx context.Context, msgs []driver.Message) error {
	err := p.send(ctx, msgs)
	p.d.refused.note(err, time.Now())
	return err
}

// send is Send without the bookkeeping of refusals.
func (p *producer) send(ctx context.Context, msgs []driver.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := p.conn(ctx)
	if err != nil {
		return err
	}
	switch {
	case p.profile == driver.Unsafe:
		for _, m := range msgs {
			if err := c.write(p.sendFrame(m, false, "")); err != nil {
				return fmt.Errorf("activemq: send: %w", err)
			}
		}
		if err := c.flush(); err != nil {
			return fmt.Errorf("activemq: send: %w", err)
		}
		return nil
	case p.profile == driver.Durable && len(msgs) > 1:
		chunk := max(p.window/2, 1)
		return p.pipeline(ctx, c, msgs, chunk, true)
	default:
		return p.pipeline(ctx, c, msgs, 1, p.profile == driver.Durable)
	}
}

// unit is one confirmation the producer waits for: a single SEND with a
// receipt (n = 1) or the COMMIT of a transaction of n SENDs.
type unit struct {
	first, n int
	id       string
	ch       chan error
}

// pipeline sends msgs in units of size chunk (a transaction when chunk > 1)
// with at most p.window messages awaiting confirmation.
func (p *producer) pipeline(ctx context.Context, c *conn, msgs []driver.Message, chunk int, persistent bool) error {
	errs := make([]error, len(msgs))
	failed := false
	setErr := func(u unit, err error) {
		for i := u.first; i < u.first+u.n; i++ {
			errs[i] = err
		}
		failed = true
	}
	var inflight []unit
	outstanding := 0 // messages in inflight
	waitOldest := func() error {
		u := inflight[0]
		inflight = inflight[1:]
		outstanding -= u.n
		if err := c.wait(ctx, u.id, u.ch); err != nil {
			if u.n > 1 {
				err = fmt.Errorf("transaction of %d messages: %w", u.n, err)
			}
			setErr(u, fmt.Errorf("activemq: send not confirmed: %w", err))
			return err
		}
		return nil
	}
	next := 0
	var stop error // set when sending cannot go on
	for next < len(msgs) && stop == nil {
		n := min(chunk, len(msgs)-next)
		for len(inflight) > 0 && outstanding+n > p.window {
			if err := c.flush(); err != nil {
				stop = err
				break
			}
			if err := waitOldest(); fatal(err) {
				stop = err
				break
			}
		}
		if stop != nil {
			break
		}
		// Collect confirmations that already arrived without blocking.
		for len(inflight) > 0 && len(inflight[0].ch) > 0 && stop == nil {
			if err := waitOldest(); fatal(err) {
				stop = err
			}
		}
		if stop != nil {
			break
		}
		u := unit{first: next, n: n, id: c.newID("r")}
		u.ch = c.expect(u.id)
		if err := p.writeUnit(c, msgs[next:next+n], persistent, u.id); err != nil {
			c.forget(u.id)
			stop = err
			break
		}
		inflight = append(inflight, u)
		outstanding += n
		next += n
	}
	if stop == nil {
		if err := c.flush(); err != nil {
			stop = err
		}
	}
	if stop == nil {
		for len(inflight) > 0 {
			if err := waitOldest(); fatal(err) {
				stop = err
				break
			}
		}
	}
	if stop != nil {
		for _, u := range inflight {
			c.forget(u.id)
			setErr(u, fmt.Errorf("activemq: send not confirmed: %w", stop))
		}
		for i := next; i < len(msgs); i++ {
			errs[i] = fmt.Errorf("activemq: not confirmed, sending stopped after a failure: %w", stop)
		}
		failed = true
	}
	if !failed {
		return nil
	}
	return &driver.SendError{Errs: errs}
}

// fatal reports whether a unit's error stops the whole Send: anything but an
// ERROR frame about that unit alone (the connection failed, ctx ended, or
// the broker stopped confirming in time).
func fatal(err error) bool {
	var be *brokerError
	return err != nil && !errors.As(err, &be)
}

// writeUnit buffers the frames of one unit; receipt is the receipt id of its
// last frame (the SEND itself, or the COMMIT).
func (p *producer) writeUnit(c *conn, msgs []driver.Message, persistent bool, receipt string) error {
	if len(msgs) == 1 {
		f := p.sendFrame(msgs[0], persistent, "")
		f.Header.Add(frame.Receipt, receipt)
		return c.write(f)
	}
	tx := c.newID("t")
	if err := c.write(frame.New(frame.BEGIN, frame.Transaction, tx)); err != nil {
		return err
	}
	for _, m := range msgs {
		if err := c.write(p.sendFrame(m, persistent, tx)); err != nil {
			return err
		}
	}
	return c.write(frame.New(frame.COMMIT, frame.Transaction, tx, frame.Receipt, receipt))
}

// Close closes the producer's connection; a pending Send fails. It is
// idempotent.
func (p *producer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	c := p.c
	p.mu.Unlock()
	p.d.untrack(p)
	if c != nil {
		return c.Close()
	}
	return nil
}
