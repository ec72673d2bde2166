package activemq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// NewConsumer subscribes to opts.Group's queue of dest on its own STOMP
// connection, with ack:client-individual and activemq.prefetchSize
// (opts.Prefetch, or DefaultPrefetch). It returns once the broker confirmed
// the subscription.
func (d *Driver) NewConsumer(ctx context.Context, dest driver.Destination, opts driver.ConsumerOptions) (driver.Consumer, error) {
	if err := checkGroup(dest, opts.Group); err != nil {
		return nil, err
	}
	prefetch := opts.Prefetch
	if prefetch <= 0 {
		prefetch = DefaultPrefetch
	}
	cs := &consumer{
		d:        d,
		queue:    groupQueue(dest.Name, opts.Group),
		prefetch: prefetch,
		closing:  make(chan struct{}),
	}
	s, err := cs.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	cs.s = s
	if err := d.track(cs); err != nil {
		_ = s.c.Close()
		return nil, err
	}
	return cs, nil
}

// session is one connection with the consumer's subscription on it.
type session struct {
	c   *stompclient.Conn
	sid string
	q   *stompclient.SubQueue
}

// consumer receives from one group queue. Receive, Ack and Nack are called
// by one goroutine at a time; Close may be called concurrently.
type consumer struct {
	d        *Driver
	queue    string
	prefetch int
	closing  chan struct{} // closed by Close

	mu     sync.Mutex // guards s and closed
	s      *session
	closed bool
}

// token is a Delivery's acknowledgement handle.
type token struct {
	s           *session
	ack         string // the MESSAGE frame's ack header
	persistent  string // the MESSAGE frame's persistent header
	redelivered bool
}

// subscribe opens a connection and subscribes, waiting for the receipt.
func (cs *consumer) subscribe(ctx context.Context) (*session, error) {
	c, err := cs.d.connect(ctx)
	if err != nil {
		return nil, err
	}
	sid := c.NewID("s")
	q := c.Subscribe(sid)
	f := frame.New(frame.SUBSCRIBE,
		frame.Destination, cs.queue,
		frame.Id, sid,
		frame.Ack, "client-individual",
		hdrPrefetch, strconv.Itoa(cs.prefetch))
	if err := c.RoundTrip(ctx, f); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("activemq: subscribe to %s: %w", cs.queue, err)
	}
	return &session{c: c, sid: sid, q: q}, nil
}

// session returns the live session, re-subscribing on a new connection when
// the last one died. One attempt per call.
func (cs *consumer) session(ctx context.Context) (*session, error) {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return nil, fmt.Errorf("activemq: consumer %w", driver.ErrClosed)
	}
	s := cs.s
	cs.mu.Unlock()
	if s != nil && s.c.Err() == nil {
		return s, nil
	}
	if s != nil {
		cs.d.cfg.Log().Warn("activemq: consumer connection lost, reconnecting", "queue", cs.queue, "err", s.c.Err())
	}
	ns, err := cs.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		_ = ns.c.Close()
		return nil, fmt.Errorf("activemq: consumer %w", driver.ErrClosed)
	}
	cs.s = ns
	return ns, nil
}

// Receive returns between 1 and max deliveries. It blocks until one is
// available, ctx is done (ctx.Err()) or the consumer is closed
// (driver.ErrClosed). When the connection dies while it waits, it
// re-subscribes once on a new connection and goes on waiting; if that fails
// it returns the error (the next call tries again).
func (cs *consumer) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
	if max <= 0 {
		max = 1
	}
	reconnected := false
	for {
		s, err := cs.session(ctx)
		if err != nil {
			return nil, err
		}
		fs, qerr := s.q.Take(max)
		if len(fs) > 0 {
			return cs.deliveries(s, fs)
		}
		if qerr != nil {
			// The connection died with nothing left to deliver.
			if reconnected {
				return nil, fmt.Errorf("activemq: receive from %s: %w", cs.queue, qerr)
			}
			reconnected = true
			continue
		}
		select {
		case <-s.q.Signal():
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-cs.closing:
			return nil, fmt.Errorf("activemq: consumer %w", driver.ErrClosed)
		}
	}
}

func (cs *consumer) deliveries(s *session, fs []*frame.Frame) ([]*driver.Delivery, error) {
	out := make([]*driver.Delivery, 0, len(fs))
	for _, f := range fs {
		ack, ok := f.Header.Contains(frame.Ack)
		if !ok {
			return out, fmt.Errorf("activemq: MESSAGE without ack header from %s", cs.queue)
		}
		key, err := stompclient.DecodeKey(f.Header.Contains)
		if err != nil {
			cs.d.cfg.Log().Warn("activemq: undecodable key", "queue", cs.queue, "err", err)
		}
		_, nacked := f.Header.Contains(hdrNacked)
		red := nacked || f.Header.Get(hdrRedelivered) == "true"
		out = append(out, &driver.Delivery{
			Key:         key,
			Body:        f.Body,
			Redelivered: red,
			Token: &token{
				s:           s,
				ack:         ack,
				persistent:  f.Header.Get(hdrPersistent),
				redelivered: red,
			},
		})
	}
	return out, nil
}

// tokens checks that ds came from this consumer's current session.
func (cs *consumer) tokens(ctx context.Context, ds []*driver.Delivery) (*session, []*token, error) {
	cs.mu.Lock()
	closed, cur := cs.closed, cs.s
	cs.mu.Unlock()
	if closed {
		return nil, nil, fmt.Errorf("activemq: consumer %w", driver.ErrClosed)
	}
	ts := make([]*token, len(ds))
	stale := 0
	for i, d := range ds {
		if d == nil {
			return nil, nil, errors.New("activemq: nil delivery")
		}
		t, ok := d.Token.(*token)
		if !ok || t == nil {
			return nil, nil, errors.New("activemq: delivery not received by this driver")
		}
		if t.s != cur {
			stale++
		}
		ts[i] = t
	}
	if stale > 0 {
		return nil, nil, fmt.Errorf("activemq: %d of %d deliveries came over a connection that was lost; the broker redelivers them", stale, len(ds))
	}
	if err := cur.c.Err(); err != nil {
		return nil, nil, fmt.Errorf("activemq: connection lost, the broker redelivers the deliveries: %w", err)
	}
	return cur, ts, ctx.Err()
}

// Ack acknowledges ds (ACK frames, waiting for the receipt of the last).
func (cs *consumer) Ack(ctx context.Context, ds []*driver.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	s, ts, err := cs.tokens(ctx, ds)
	if err != nil {
		return err
	}
	for _, t := range ts[:len(ts)-1] {
		if err := s.c.Write(frame.New(frame.ACK, frame.Id, t.ack)); err != nil {
			return fmt.Errorf("activemq: ack: %w", err)
		}
	}
	last := frame.New(frame.ACK, frame.Id, ts[len(ts)-1].ack)
	if err := s.c.RoundTrip(ctx, last); err != nil {
		return fmt.Errorf("activemq: ack: %w", err)
	}
	return nil
}

// Nack re-queues ds to the group's queue: in one STOMP transaction it sends a
// copy of each delivery (marked redelivered) and ACKs the original, then
// waits for the COMMIT receipt. See the package comment for why ActiveMQ's
// own NACK is not used.
func (cs *consumer) Nack(ctx context.Context, ds []*driver.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	s, ts, err := cs.tokens(ctx, ds)
	if err != nil {
		return err
	}
	tx := s.c.NewID("t")
	if err := s.c.Write(frame.New(frame.BEGIN, frame.Transaction, tx)); err != nil {
		return fmt.Errorf("activemq: nack: %w", err)
	}
	for i, d := range ds {
		f := frame.New(frame.SEND,
			frame.Destination, cs.queue,
			frame.Transaction, tx,
			frame.ContentLength, strconv.Itoa(len(d.Body)),
			hdrNacked, "true")
		if p := ts[i].persistent; p != "" {
			f.Header.Add(hdrPersistent, p)
		}
		if len(d.Key) > 0 {
			h, v := stompclient.EncodeKey(d.Key)
			f.Header.Add(hdrGroupID, v)
			f.Header.Add(h, v)
		}
		f.Body = d.Body
		if err := s.c.Write(f); err != nil {
			return fmt.Errorf("activemq: nack: %w", err)
		}
		if err := s.c.Write(frame.New(frame.ACK, frame.Id, ts[i].ack, frame.Transaction, tx)); err != nil {
			return fmt.Errorf("activemq: nack: %w", err)
		}
	}
	if err := s.c.RoundTrip(ctx, frame.New(frame.COMMIT, frame.Transaction, tx)); err != nil {
		return fmt.Errorf("activemq: nack (re-queue transaction): %w", err)
	}
	return nil
}

// Close unsubscribes and closes the connection; unacked deliveries go back
// to the queue (the broker marks them redelivered). It unblocks Receive and
// is idempotent.
func (cs *consumer) Close() error {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return nil
	}
	cs.closed = true
	s := cs.s
	close(cs.closing)
	cs.mu.Unlock()
	cs.d.untrack(cs)
	if s == nil {
		return nil
	}
	if s.c.Err() == nil {
		s.c.UnsubscribeLocal(s.sid)
		_ = s.c.Send(frame.New(frame.UNSUBSCRIBE, frame.Id, s.sid))
	}
	return s.c.Close()
}
