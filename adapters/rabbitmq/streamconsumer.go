package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

// streamToken is the acknowledgement handle of a stream delivery.
type streamToken struct {
	s    *ssession
	tag  uint64
	part int
	off  int64 // x-stream-offset, -1 when the broker sent none
}

// ssession is a stream consumer's live connection: one channel, one
// basic.consume per assigned partition, their deliveries merged.
type ssession struct {
	*link
	merged chan amqp.Delivery

	// Only the consumer's user goroutine touches these.
	subscribed map[int]bool
	applied    <-chan struct{} // the group's change signal the subscriptions follow

	// Guarded by streamConsumer.mu. Delivery tags are per channel, but
	// the partitions' deliveries are merged out of tag order, so a
	// "multiple" ack is only safe below low, the lowest tag not yet taken
	// out of merged.
	unacked map[uint64]struct{} // handed to the caller, not acked
	taken   map[uint64]struct{} // taken out of merged, above low
	low     uint64
}

// take notes that tag was taken out of merged. streamConsumer.mu is held.
func (s *ssession) take(tag uint64) {
	s.taken[tag] = struct{}{}
	for {
		if _, ok := s.taken[s.low]; !ok {
			return
		}
		delete(s.taken, s.low)
		s.low++
	}
}

// streamConsumer implements driver.Consumer on a stream destination.
type streamConsumer struct {
	d        *Driver
	dest     driver.Destination
	g        *groupState
	prefetch int

	mu       sync.Mutex
	sess     *ssession
	closed   bool
	closedCh chan struct{}
	lastFail time.Time // only the user goroutine touches it
}

// newStreamConsumer joins opts.Group and subscribes to the partitions the
// group assigns the new consumer.
func (d *Driver) newStreamConsumer(ctx context.Context, dest driver.Destination, opts driver.ConsumerOptions) (driver.Consumer, error) {
	c := &streamConsumer{
		d:        d,
		dest:     dest,
		g:        d.streams.group(dest.Name, opts.Group, partitionCount(dest)),
		prefetch: opts.Prefetch,
		closedCh: make(chan struct{}),
	}
	if c.prefetch <= 0 {
		c.prefetch = DefaultPrefetch
	}
	c.g.join(c)
	if _, err := c.session(ctx); err != nil {
		c.g.leave(c)
		return nil, err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		c.Close()
		return nil, driver.ErrClosed
	}
	d.consumers[c] = struct{}{}
	d.mu.Unlock()
	return c, nil
}

// session returns the live session with the group's current assignment
// applied, reconnecting when the connection died.
func (c *streamConsumer) session(ctx context.Context) (*ssession, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, driver.ErrClosed
	}
	s := c.sess
	c.mu.Unlock()
	if s == nil || !s.alive() {
		var err error
		if s, err = c.reopen(ctx, s); err != nil {
			return nil, err
		}
	}
	select {
	case <-s.applied:
		if err := c.apply(ctx, s); err != nil {
			s.kill(err)
			return nil, err
		}
	default:
	}
	return s, nil
}

// reopen replaces a dead session (old may be nil) by a new connection with
// no subscription yet.
func (c *streamConsumer) reopen(ctx context.Context, old *ssession) (*ssession, error) {
	if old != nil {
		c.d.cfg.Log().Info("rabbitmq: stream consumer reconnecting", "destination", c.dest.Name, "cause", old.cause())
		go old.shutdown()
	}
	if err := pauseAfterFailure(ctx, c.lastFail, c.closedCh); err != nil {
		if errors.Is(err, errClosedByUs) {
			return nil, driver.ErrClosed
		}
		return nil, err
	}
	t := c.d.timeout
	l, err := openLink(ctx, c.d.url, t, "mqbench-stream-consumer "+c.dest.Name, c.d.cfg.Log(), c.d.blocks, func(ch *amqp.Channel) error {
		// Streams need a per-consumer prefetch (global QoS is refused).
		return bounded(ctx, t, "basic.qos", func() error { return ch.Qos(c.prefetch, 0, false) })
	})
	if err != nil {
		c.lastFail = time.Now()
		return nil, err
	}
	c.lastFail = time.Time{}
	closedSignal := make(chan struct{})
	close(closedSignal) // a new session applies the assignment at once
	s := &ssession{link: l, merged: make(chan amqp.Delivery, c.prefetch), subscribed: map[int]bool{}, applied: closedSignal,
		unacked: map[uint64]struct{}{}, taken: map[uint64]struct{}{}, low: 1}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		go s.shutdown()
		return nil, driver.ErrClosed
	}
	c.sess = s
	return s, nil
}

// apply makes s consume exactly the partitions the group assigns c now:
// basic.cancel for those it lost, basic.consume with x-stream-offset at the
// group's position for those it gained.
func (c *streamConsumer) apply(ctx context.Context, s *ssession) error {
	parts, changed := c.g.assignment(c)
	want := map[int]bool{}
	for _, i := range parts {
		want[i] = true
	}
	t := c.d.timeout
	for i := range s.subscribed {
		if want[i] {
			continue
		}
		if err := bounded(ctx, t, "cancel "+streamName(c.dest.Name, i), func() error { return s.ch.Cancel(partTag(i), false) }); err != nil {
			return err
		}
		delete(s.subscribed, i)
	}
	for _, i := range parts {
		if s.subscribed[i] {
			continue
		}
		q := streamName(c.dest.Name, i)
		var from any = "first"
		if pos := c.g.subscribe(i); pos >= 0 {
			from = pos
		}
		var ds <-chan amqp.Delivery
		if err := bounded(ctx, t, "consume "+q, func() (err error) {
			ds, err = s.ch.Consume(q, partTag(i), false, false, false, false, amqp.Table{"x-stream-offset": from})
			var ae *amqp.Error
			if errors.As(err, &ae) && ae.Code == amqp.NotFound {
				err = fmt.Errorf("%w (destination %q is not provisioned as streams)", err, c.dest.Name)
			}
			return err
		}); err != nil {
			return err
		}
		s.subscribed[i] = true
		go s.forward(ds)
	}
	s.applied = changed
	return nil
}

// partTag is the consumer tag of partition i's subscription.
func partTag(i int) string { return "p" + strconv.Itoa(i) }

// forward copies one subscription's deliveries into the merged channel until
// the subscription is cancelled or the connection dies. amqp091-go needs
// every delivery channel drained; the broker sends at most the prefetch per
// subscription ahead of acks, so forward never holds more than that.
func (s *ssession) forward(ds <-chan amqp.Delivery) {
	for d := range ds {
		select {
		case s.merged <- d:
		case <-s.done:
			return
		}
	}
}

// Receive waits for at least one delivery of a partition the consumer owns
// and returns up to max of those already buffered. It returns ctx.Err() when
// ctx is done, driver.ErrClosed when the consumer is closed, and an error
// when the connection is lost (the next Receive reconnects and resumes at
// the group's position). A change of the group's members makes it
// re-subscribe per the new assignment before it goes on waiting.
func (c *streamConsumer) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
	if max <= 0 {
		max = 1
	}
	for {
		s, err := c.session(ctx)
		if err != nil {
			return nil, err
		}
		var batch []amqp.Delivery
		select {
		case d := <-s.merged:
			batch = append(batch, d)
		case <-s.applied:
			continue
		case <-s.done:
			return nil, c.lost(s)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closedCh:
			return nil, driver.ErrClosed
		}
	more:
		for len(batch) < max {
			select {
			case d := <-s.merged:
				batch = append(batch, d)
			default:
				break more
			}
		}
		if out := c.keep(s, batch); len(out) > 0 {
			return out, nil
		}
	}
}

// keep converts the deliveries of partitions c still owns and records them as
// in flight in the group.
func (c *streamConsumer) keep(s *ssession, batch []amqp.Delivery) []*driver.Delivery {
	parts := make([]int, len(batch))
	offs := make([]int64, len(batch))
	for k, d := range batch {
		parts[k] = partOfTag(d.ConsumerTag)
		offs[k] = streamOffset(d.Headers)
	}
	owned := c.g.delivered(c, parts, offs)
	var out []*driver.Delivery
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, d := range batch {
		s.take(d.DeliveryTag)
		if !owned[k] {
			continue // never acked: its subscription is being cancelled
		}
		if c.sess == s {
			s.unacked[d.DeliveryTag] = struct{}{}
		}
		out = append(out, &driver.Delivery{
			Key:   deliveryKey(d),
			Body:  d.Body,
			Token: streamToken{s: s, tag: d.DeliveryTag, part: parts[k], off: offs[k]},
		})
	}
	return out
}

// partOfTag is the partition of a consumer tag made by partTag, or -1.
func partOfTag(tag string) int {
	if len(tag) < 2 || tag[0] != 'p' {
		return -1
	}
	i, err := strconv.Atoi(tag[1:])
	if err != nil {
		return -1
	}
	return i
}

// streamOffset reads the x-stream-offset header a stream delivery carries,
// or -1.
func streamOffset(h amqp.Table) int64 {
	switch v := h["x-stream-offset"].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int:
		return int64(v)
	case int16:
		return int64(v)
	case uint64:
		return int64(v)
	case uint32:
		return int64(v)
	}
	return -1
}

// lost explains a dead session.
func (c *streamConsumer) lost(s *ssession) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return driver.ErrClosed
	}
	return fmt.Errorf("%s: receive from %s: %w", StreamName, c.dest.Name, s.cause())
}

// Ack records ds as processed in the group's position (whatever connection
// they came on) and returns their credit to the broker (basic.ack, one
// "multiple" frame when possible) when they came on the live connection.
func (c *streamConsumer) Ack(ctx context.Context, ds []*driver.Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	parts := make([]int, 0, len(ds))
	offs := make([]int64, 0, len(ds))
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return driver.ErrClosed
	}
	s := c.sess
	var tags []uint64
	var maxTag uint64
	foreign := 0
	for _, d := range ds {
		tk, ok := d.Token.(streamToken)
		if !ok {
			foreign++
			continue
		}
		parts, offs = append(parts, tk.part), append(offs, tk.off)
		if tk.s != s || s == nil {
			continue
		}
		if _, ok := s.unacked[tk.tag]; !ok {
			continue
		}
		delete(s.unacked, tk.tag)
		tags = append(tags, tk.tag)
		maxTag = max(maxTag, tk.tag)
	}
	multiple := len(tags) > 1 && maxTag < s.low && noneBelow(s.unacked, maxTag)
	c.mu.Unlock()
	c.g.acked(parts, offs)
	var err error
	if multiple {
		err = s.ch.Ack(maxTag, true)
	} else {
		for _, t := range tags {
			if err = s.ch.Ack(t, false); err != nil {
				break
			}
		}
	}
	if err != nil {
		err = errors.Join(err, s.cause())
	}
	if foreign > 0 {
		err = errors.Join(err, fmt.Errorf("%d of %d deliveries are not from a stream consumer", foreign, len(ds)))
	}
	if err != nil {
		return fmt.Errorf("%s: ack: %w", StreamName, err)
	}
	return nil
}

// Nack is unsupported: a stream closes the channel of a basic.nack or
// basic.reject. The deliveries stay unacked: they hold the group's position,
// so the next consumer of the group (after this one closes) reads them
// again.
func (c *streamConsumer) Nack(ctx context.Context, ds []*driver.Delivery) error {
	return fmt.Errorf("%s: nack: %w (streams refuse basic.nack; unacked deliveries are read again by the group's next consumer)", StreamName, errors.ErrUnsupported)
}

// Close leaves the group (its partitions go to the other consumers of the
// group, from the group's position) and closes the connection. It unblocks
// a pending Receive.
func (c *streamConsumer) Close() error {
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
	c.g.leave(c)
	c.d.forget(nil, c)
	if s == nil {
		return nil
	}
	return s.shutdown()
}
