package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

// ErrStaleDelivery is returned by Ack and Nack for deliveries received on a
// connection that has since been lost (or on another consumer): they cannot
// be settled any more, and the broker redelivers them.
var ErrStaleDelivery = errors.New("delivery from a lost connection or another consumer: the broker redelivers it")

// token is the acknowledgement handle in driver.Delivery.Token.
type token struct {
	s   *csession
	tag uint64
}

// csession is a consumer's live connection.
type csession struct {
	*link
	deliveries <-chan amqp.Delivery
}

// consumer implements driver.Consumer.
type consumer struct {
	d        *Driver
	dest     driver.Destination
	queue    string
	prefetch int

	mu       sync.Mutex
	sess     *csession
	unacked  map[uint64]struct{} // tags of sess received and not yet settled
	closed   bool
	closedCh chan struct{}
	lastFail time.Time // last failed reconnection; only the user goroutine touches it
}

func newConsumer(d *Driver, dest driver.Destination, opts driver.ConsumerOptions) *consumer {
	c := &consumer{
		d:        d,
		dest:     dest,
		queue:    queueName(dest.Name, opts.Group),
		prefetch: opts.Prefetch,
		closedCh: make(chan struct{}),
	}
	if c.prefetch <= 0 {
		c.prefetch = DefaultPrefetch
	}
	return c
}

// session returns the live session, reconnecting and re-subscribing when
// the last connection died.
func (c *consumer) session(ctx context.Context) (*csession, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, driver.ErrClosed
	}
	old := c.sess
	c.mu.Unlock()
	if old != nil && old.alive() {
		return old, nil
	}
	if old != nil {
		c.d.cfg.Log().Info("rabbitmq: consumer reconnecting", "queue", c.queue, "cause", old.cause())
		go old.shutdown()
		// Forget it, so that the pause below counts once from the loss
		// however many calls wait through it.
		c.mu.Lock()
		if c.sess == old {
			c.sess = nil
		}
		c.mu.Unlock()
		c.lastFail = c.d.lostAt(c.lastFail)
	}
	if err := pauseAfterFailure(ctx, c.lastFail, c.closedCh); err != nil {
		if errors.Is(err, errClosedByUs) {
			return nil, driver.ErrClosed
		}
		return nil, err
	}
	s, err := c.open(ctx)
	if err != nil {
		c.lastFail = time.Now()
		return nil, err
	}
	c.lastFail = time.Time{}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		go s.shutdown()
		return nil, driver.ErrClosed
	}
	c.sess = s
	c.unacked = map[uint64]struct{}{}
	return s, nil
}

// open dials a consumer connection, sets the prefetch and subscribes.
func (c *consumer) open(ctx context.Context) (*csession, error) {
	t := c.d.timeout
	var deliveries <-chan amqp.Delivery
	l, err := openLink(ctx, c.d.url, t, "mqbench-consumer "+c.queue, c.d.cfg.Log(), c.d.blocks, func(ch *amqp.Channel) error {
		if err := bounded(ctx, t, "basic.qos", func() error { return ch.Qos(c.prefetch, 0, false) }); err != nil {
			return err
		}
		return bounded(ctx, t, "consume "+c.queue, func() (err error) {
			deliveries, err = ch.Consume(c.queue, "", false, false, false, false, nil)
			var ae *amqp.Error
			if errors.As(err, &ae) && ae.Code == amqp.NotFound {
				err = fmt.Errorf("%w (destination %q is not provisioned)", err, c.dest.Name)
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return &csession{link: l, deliveries: deliveries}, nil
}

// Receive waits for at least one delivery and returns up to max of those
// already buffered. It returns ctx.Err() when ctx is done, driver.ErrClosed
// when the consumer is closed, and an error when the connection is lost or
// the broker cancels the subscription (the next Receive reconnects).
// Deliveries are not acknowledged until Ack.
func (c *consumer) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
	if max <= 0 {
		max = 1
	}
	s, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	var first amqp.Delivery
	select {
	case d, ok := <-s.deliveries:
		if !ok {
			return nil, c.lost(s)
		}
		first = d
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closedCh:
		return nil, driver.ErrClosed
	}
	out := []*driver.Delivery{c.convert(s, first)}
	for len(out) < max {
		select {
		case d, ok := <-s.deliveries:
			if !ok {
				return out, nil
			}
			out = append(out, c.convert(s, d))
			continue
		default:
		}
		break
	}
	c.mu.Lock()
	if c.sess == s {
		for _, d := range out {
			c.unacked[d.Token.(token).tag] = struct{}{}
		}
	}
	c.mu.Unlock()
	return out, nil
}

// lost explains a closed delivery channel and marks the session dead.
func (c *consumer) lost(s *csession) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return driver.ErrClosed
	}
	cause := s.cause()
	if cause == nil && (s.conn.IsClosed() || s.ch.IsClosed()) {
		// The watcher is about to record why.
		t := time.NewTimer(c.d.timeout)
		select {
		case <-s.done:
			cause = s.cause()
		case <-t.C:
		}
		t.Stop()
	}
	if cause == nil {
		// The channel is open but the broker cancelled the consumer
		// (queue deleted).
		cause = errors.New("rabbitmq: subscription cancelled by broker (queue deleted?)")
		s.fail(cause)
	}
	return fmt.Errorf("rabbitmq: receive from %s: %w", c.queue, cause)
}

// noneBelow reports whether no outstanding tag is below maxTag: then one
// "multiple" frame for maxTag settles exactly the tags being settled, every
// tag <= maxTag of the channel.
func noneBelow(unacked map[uint64]struct{}, maxTag uint64) bool {
	for t := range unacked {
		if t < maxTag {
			return false
		}
	}
	return true
}

// deliveryKey is the message key of d: the keyHeader when present, else the
// routing key.
func deliveryKey(d amqp.Delivery) []byte {
	if k, ok := d.Headers[keyHeader].([]byte); ok {
		return k
	}
	if d.RoutingKey != "" {
		return []byte(d.RoutingKey)
	}
	return nil
}

// convert turns an AMQP delivery into a driver delivery.
func (c *consumer) convert(s *csession, d amqp.Delivery) *driver.Delivery {
	return &driver.Delivery{
		Key:         deliveryKey(d),
		Body:        d.Body,
		Redelivered: d.Redelivered,
		Token:       token{s: s, tag: d.DeliveryTag},
	}
}

// Ack acknowledges ds (basic.ack; one "multiple" ack when ds covers every
// outstanding delivery up to its highest tag). The writes are bounded by the
// socket write deadline. Deliveries from a lost connection fail with
// ErrStaleDelivery; the others are still acked.
func (c *consumer) Ack(ctx context.Context, ds []*driver.Delivery) error {
	return c.settle(ctx, ds, "ack", func(ch *amqp.Channel, tag uint64, multiple bool) error {
		return ch.Ack(tag, multiple)
	})
}

// Nack hands ds back to the queue (basic.nack with requeue): the broker
// redelivers them, flagged as redelivered, to this or another consumer of the
// group.
func (c *consumer) Nack(ctx context.Context, ds []*driver.Delivery) error {
	return c.settle(ctx, ds, "nack", func(ch *amqp.Channel, tag uint64, multiple bool) error {
		return ch.Nack(tag, multiple, true)
	})
}

// settle acks or nacks ds on the current session.
func (c *consumer) settle(ctx context.Context, ds []*driver.Delivery, what string, op func(ch *amqp.Channel, tag uint64, multiple bool) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return driver.ErrClosed
	}
	s := c.sess
	var tags []uint64
	stale := 0
	var maxTag uint64
	for _, d := range ds {
		tk, ok := d.Token.(token)
		if !ok || tk.s != s || s == nil {
			stale++
			continue
		}
		if _, ok := c.unacked[tk.tag]; !ok {
			stale++ // settled twice, or never received
			continue
		}
		delete(c.unacked, tk.tag)
		tags = append(tags, tk.tag)
		maxTag = max(maxTag, tk.tag)
	}
	multiple := len(tags) > 1 && noneBelow(c.unacked, maxTag)
	c.mu.Unlock()

	var errs []error
	if multiple {
		if err := op(s.ch, maxTag, true); err != nil {
			errs = append(errs, err)
		}
	} else {
		for _, t := range tags {
			if err := op(s.ch, t, false); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	if len(errs) > 0 {
		if cause := s.cause(); cause != nil {
			errs = append(errs, cause)
		}
	}
	if stale > 0 {
		errs = append(errs, fmt.Errorf("%d of %d: %w", stale, len(ds), ErrStaleDelivery))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rabbitmq: %s: %w", what, err)
	}
	return nil
}

// Close leaves the group by closing the connection; unacked deliveries go
// back to the queue. It unblocks a pending Receive.
func (c *consumer) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.closedCh)
	s := c.sess
	c.sess = nil
	c.mu.Unlock()
	c.d.forget(nil, c)
	if s == nil {
		return nil
	}
	return s.shutdown()
}
