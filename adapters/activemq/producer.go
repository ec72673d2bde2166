package activemq

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
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
	c      *stompclient.Conn
	closed bool
}

// conn returns the live connection, dialling a new one if the last died.
func (p *producer) conn(ctx context.Context) (*stompclient.Conn, error) {
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
		h, v := stompclient.EncodeKey(m.Key)
		f.Header.Add(hdrGroupID, v)
		f.Header.Add(h, v)
	}
	// The frame is fully written before Send returns, so it may share the
	// caller's buffer.
	f.Body = m.Body
	return f
}

// builder returns the stompclient.SendFrame of this producer.
func (p *producer) builder(persistent bool) stompclient.SendFrame {
	return func(m driver.Message, tx string) *frame.Frame { return p.sendFrame(m, persistent, tx) }
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
			if err := c.Write(p.sendFrame(m, false, "")); err != nil {
				return fmt.Errorf("activemq: send: %w", err)
			}
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("activemq: send: %w", err)
		}
		return nil
	case p.profile == driver.Durable && len(msgs) > 1:
		chunk := max(p.window/2, 1)
		return stompclient.Pipeline(ctx, c, msgs, chunk, p.window, p.builder(true), Name)
	default:
		return stompclient.Pipeline(ctx, c, msgs, 1, p.window, p.builder(p.profile == driver.Durable), Name)
	}
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
