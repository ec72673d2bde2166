package stompclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
)

var (
	_ driver.Consumer = (*Consumer)(nil)
	_ driver.Producer = (*Producer)(nil)
)

// Headers the STOMP adapters share on MESSAGE frames and on the copies
// Consumer.Nack sends.
const (
	HdrPersistent  = "persistent"
	HdrGroupID     = "JMSXGroupID"
	HdrRedelivered = "redelivered"
	// HdrNacked marks the copy Nack re-queues, so that it is delivered
	// as redelivered.
	HdrNacked = "mqbench-redelivered"
)

// ConsumerConfig is what differs between the STOMP brokers' consumers.
type ConsumerConfig struct {
	// Broker names the adapter in errors and logs ("activemq").
	Broker string
	// Queue is the SUBSCRIBE destination, and where Nack re-queues.
	Queue string
	// Dial opens a new connection (the first, and after one died).
	Dial func(ctx context.Context) (*Conn, error)
	// Subscribe are further SUBSCRIBE headers, name then value
	// (ActiveMQ's prefetch; Artemis's window and subscription type).
	Subscribe []string
	// Requeue are further headers of the copy Nack sends, name then value
	// (Artemis: its destination type).
	Requeue []string
	// DefaultPersistent is the persistent header of Nack's copy when the
	// MESSAGE carried none; "" sends none.
	DefaultPersistent string
	// TransactionalAck says the broker honours an ACK inside a STOMP
	// transaction, applying it at COMMIT (ActiveMQ Classic). Artemis does
	// not: it applies such an ACK at once and logs AMQ222070 for each.
	// It decides how Nack re-queues (see Nack).
	TransactionalAck bool
	// Log receives the reconnections and undecodable keys.
	Log *slog.Logger
	// OnClose runs once, when Close is first called (the driver's
	// bookkeeping of open clients).
	OnClose func()
}

// Consumer is one subscription with ack:client-individual, shared by the
// STOMP adapters. It implements driver.Consumer: Receive, Ack and Nack are
// called by one goroutine at a time; Close may be called concurrently.
// When its connection dies it subscribes again on a new one; deliveries of
// the lost connection can no longer be settled (the broker redelivers
// them).
type Consumer struct {
	cfg     ConsumerConfig
	closing chan struct{} // closed by Close

	mu     sync.Mutex // guards s and closed
	s      *session
	closed bool
}

// session is one connection with the subscription on it.
type session struct {
	c   *Conn
	sid string
	q   *SubQueue
}

// token is a Delivery's acknowledgement handle.
type token struct {
	s          *session
	ack        string // the MESSAGE frame's ack header
	persistent string // the MESSAGE frame's persistent header
}

// NewConsumer subscribes on a new connection and returns once the broker
// confirmed the subscription (its receipt).
func NewConsumer(ctx context.Context, cfg ConsumerConfig) (*Consumer, error) {
	if len(cfg.Subscribe)%2 != 0 || len(cfg.Requeue)%2 != 0 {
		return nil, fmt.Errorf("%s: consumer headers must come in name, value pairs", cfg.Broker)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cs := &Consumer{cfg: cfg, closing: make(chan struct{})}
	s, err := cs.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	cs.s = s
	return cs, nil
}

// errClosed is the error of every call after Close.
func (cs *Consumer) errClosed() error {
	return fmt.Errorf("%s: consumer %w", cs.cfg.Broker, driver.ErrClosed)
}

// subscribe opens a connection and subscribes, waiting for the receipt.
func (cs *Consumer) subscribe(ctx context.Context) (*session, error) {
	c, err := cs.cfg.Dial(ctx)
	if err != nil {
		return nil, err
	}
	sid := c.NewID("s")
	q := c.Subscribe(sid)
	f := frame.New(frame.SUBSCRIBE,
		frame.Destination, cs.cfg.Queue,
		frame.Id, sid,
		frame.Ack, "client-individual")
	for i := 0; i < len(cs.cfg.Subscribe); i += 2 {
		f.Header.Add(cs.cfg.Subscribe[i], cs.cfg.Subscribe[i+1])
	}
	if err := c.RoundTrip(ctx, f); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s: subscribe to %s: %w", cs.cfg.Broker, cs.cfg.Queue, err)
	}
	return &session{c: c, sid: sid, q: q}, nil
}

// session returns the live session, re-subscribing on a new connection when
// the last one died. One attempt per call.
func (cs *Consumer) session(ctx context.Context) (*session, error) {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return nil, cs.errClosed()
	}
	s := cs.s
	cs.mu.Unlock()
	if s != nil && s.c.Err() == nil {
		return s, nil
	}
	if s != nil {
		cs.cfg.Log.Warn(cs.cfg.Broker+": consumer connection lost, reconnecting", "queue", cs.cfg.Queue, "err", s.c.Err())
	}
	ns, err := cs.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		_ = ns.c.Close()
		return nil, cs.errClosed()
	}
	cs.s = ns
	return ns, nil
}

// Receive returns between 1 and max deliveries. It blocks until one is
// available, ctx is done (ctx.Err()) or the consumer is closed
// (driver.ErrClosed). When the connection dies while it waits, it
// re-subscribes once on a new connection and goes on waiting; if that fails
// it returns the error (the next call tries again).
func (cs *Consumer) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
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
				return nil, fmt.Errorf("%s: receive from %s: %w", cs.cfg.Broker, cs.cfg.Queue, qerr)
			}
			reconnected = true
			continue
		}
		select {
		case <-s.q.Signal():
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-cs.closing:
			return nil, cs.errClosed()
		}
	}
}

// deliveries turns MESSAGE frames of session s into deliveries.
func (cs *Consumer) deliveries(s *session, fs []*frame.Frame) ([]*driver.Delivery, error) {
	out := make([]*driver.Delivery, 0, len(fs))
	for _, f := range fs {
		ack, ok := f.Header.Contains(frame.Ack)
		if !ok {
			return out, fmt.Errorf("%s: MESSAGE without ack header from %s", cs.cfg.Broker, cs.cfg.Queue)
		}
		key, err := DecodeKey(f.Header.Contains)
		if err != nil {
			cs.cfg.Log.Warn(cs.cfg.Broker+": undecodable key", "queue", cs.cfg.Queue, "err", err)
		}
		_, nacked := f.Header.Contains(HdrNacked)
		persistent := f.Header.Get(HdrPersistent)
		if persistent == "" {
			persistent = cs.cfg.DefaultPersistent
		}
		out = append(out, &driver.Delivery{
			Key:         key,
			Body:        f.Body,
			Redelivered: nacked || f.Header.Get(HdrRedelivered) == "true",
			Token:       &token{s: s, ack: ack, persistent: persistent},
		})
	}
	return out, nil
}

// tokens checks that ds came from this consumer's current session.
func (cs *Consumer) tokens(ctx context.Context, ds []*driver.Delivery) (*session, []*token, error) {
	cs.mu.Lock()
	closed, cur := cs.closed, cs.s
	cs.mu.Unlock()
	if closed {
		return nil, nil, cs.errClosed()
	}
	ts := make([]*token, len(ds))
	stale := 0
	for i, d := range ds {
		if d == nil {
			return nil, nil, errors.New(cs.cfg.Broker + ": nil delivery")
		}
		t, ok := d.Token.(*token)
		if !ok || t == nil {
			return nil, nil, errors.New(cs.cfg.Broker + ": delivery not received by this driver")
		}
		if t.s != cur {
			stale++
		}
		ts[i] = t
	}
	if stale > 0 {
		return nil, nil, fmt.Errorf("%s: %d of %d deliveries came over a connection that was lost; the broker redelivers them", cs.cfg.Broker, stale, len(ds))
	}
	if err := cur.c.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: connection lost, the broker redelivers the deliveries: %w", cs.cfg.Broker, err)
	}
	return cur, ts, ctx.Err()
}

// Ack acknowledges ds: one ACK frame each, the last with a receipt, which
// the broker sends once it processed them all.
func (cs *Consumer) Ack(ctx context.Context, ds []*driver.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	s, ts, err := cs.tokens(ctx, ds)
	if err != nil {
		return err
	}
	return cs.ack(ctx, s, ts)
}

// ack writes an ACK of each of ts, the last with a receipt it waits for.
func (cs *Consumer) ack(ctx context.Context, s *session, ts []*token) error {
	for _, t := range ts[:len(ts)-1] {
		if err := s.c.Write(frame.New(frame.ACK, frame.Id, t.ack)); err != nil {
			return fmt.Errorf("%s: ack: %w", cs.cfg.Broker, err)
		}
	}
	if err := s.c.RoundTrip(ctx, frame.New(frame.ACK, frame.Id, ts[len(ts)-1].ack)); err != nil {
		return fmt.Errorf("%s: ack: %w", cs.cfg.Broker, err)
	}
	return nil
}

// Nack re-queues ds to the queue: it sends a copy of each delivery (same
// body, key and persistence, marked with HdrNacked) to the back of the
// queue and acknowledges the original. (Neither broker's own NACK
// re-queues: see the adapters' package comments.) With TransactionalAck
// the copies and the ACKs are one STOMP transaction, whose COMMIT receipt
// it waits for. Without, the copies are one transaction and the ACKs
// follow its COMMIT receipt, so that a connection lost in between
// duplicates a message (the original comes again) but never loses one.
func (cs *Consumer) Nack(ctx context.Context, ds []*driver.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	s, ts, err := cs.tokens(ctx, ds)
	if err != nil {
		return err
	}
	err = cs.inTransaction(ctx, s, "nack", func(tx string) error {
		for i, d := range ds {
			if err := s.c.Write(cs.requeueFrame(tx, d, ts[i].persistent)); err != nil {
				return err
			}
			if !cs.cfg.TransactionalAck {
				continue
			}
			if err := s.c.Write(frame.New(frame.ACK, frame.Id, ts[i].ack, frame.Transaction, tx)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || cs.cfg.TransactionalAck {
		return err
	}
	return cs.ack(ctx, s, ts)
}

// requeueFrame is the SEND of Nack's copy of d in transaction tx.
func (cs *Consumer) requeueFrame(tx string, d *driver.Delivery, persistent string) *frame.Frame {
	f := frame.New(frame.SEND,
		frame.Destination, cs.cfg.Queue,
		frame.Transaction, tx,
		frame.ContentLength, strconv.Itoa(len(d.Body)),
		HdrNacked, "true")
	for i := 0; i < len(cs.cfg.Requeue); i += 2 {
		f.Header.Add(cs.cfg.Requeue[i], cs.cfg.Requeue[i+1])
	}
	if persistent != "" {
		f.Header.Add(HdrPersistent, persistent)
	}
	addKey(f, d.Key)
	f.Body = d.Body
	return f
}

// addKey puts a message's key on f, if it has one: as JMSXGroupID (the
// brokers' message groups keep a key's messages on one consumer) and in
// mqbench's own key header (EncodeKey).
func addKey(f *frame.Frame, key []byte) {
	if len(key) == 0 {
		return
	}
	h, v := EncodeKey(key)
	f.Header.Add(HdrGroupID, v)
	f.Header.Add(h, v)
}

// inTransaction writes BEGIN, the frames of body, and a COMMIT whose
// receipt it waits for.
func (cs *Consumer) inTransaction(ctx context.Context, s *session, what string, body func(tx string) error) error {
	tx := s.c.TxID()
	if err := s.c.Write(frame.New(frame.BEGIN, frame.Transaction, tx)); err != nil {
		return fmt.Errorf("%s: %s: %w", cs.cfg.Broker, what, err)
	}
	if err := body(tx); err != nil {
		return fmt.Errorf("%s: %s: %w", cs.cfg.Broker, what, err)
	}
	if err := s.c.RoundTrip(ctx, frame.New(frame.COMMIT, frame.Transaction, tx)); err != nil {
		return fmt.Errorf("%s: %s (transaction): %w", cs.cfg.Broker, what, err)
	}
	s.c.ReleaseTx(tx)
	return nil
}

// Close unsubscribes and closes the connection; unacked deliveries go back
// to the queue (the broker marks them redelivered). It unblocks Receive and
// is idempotent.
func (cs *Consumer) Close() error {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return nil
	}
	cs.closed = true
	s := cs.s
	close(cs.closing)
	cs.mu.Unlock()
	if cs.cfg.OnClose != nil {
		cs.cfg.OnClose()
	}
	if s == nil {
		return nil
	}
	if s.c.Err() == nil {
		s.c.UnsubscribeLocal(s.sid)
		_ = s.c.Send(frame.New(frame.UNSUBSCRIBE, frame.Id, s.sid))
	}
	return s.c.Close()
}
