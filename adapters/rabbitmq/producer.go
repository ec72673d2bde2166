package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Errors a Send can report per message besides driver.ErrRejected.
var (
	// ErrUnroutable: the broker returned a mandatory message because no
	// queue is bound to the destination's exchange (not provisioned, or
	// its queues were deleted). The message was not stored.
	ErrUnroutable = errors.New("message unroutable: returned by broker")
	// ErrNacked: the broker nacked the publish for a reason other than a
	// full queue (an internal error in a queue). The message may not be
	// stored.
	ErrNacked = errors.New("publish nacked by broker")
	// ErrBlocked is wrapped by a Send timeout that happened while the
	// broker had blocked the connection (connection.blocked, a memory or
	// disk alarm).
	ErrBlocked = errors.New("connection.blocked by broker")
)

// killGrace is how long a publish that is blocked in a socket write may go on
// after Send's context is done before the connection is torn down to
// unblock it.
const killGrace = 200 * time.Millisecond

// Message states inside a batch.
const (
	msgIdle      uint8 = iota // not published (yet)
	msgPublished              // published, waiting for its confirm
	msgSettled                // outcome in errs
)

// batch is the bookkeeping of one Send in confirm mode. Message i has the
// delivery tag first+i. Guarded by psession.mu.
type batch struct {
	first     uint64
	state     []uint8
	errs      []error
	returned  []error // basic.return seen before the confirm
	unsettled int     // published, not settled
}

// inRange returns the index of tag in b.
func (b *batch) index(tag uint64) (int, bool) {
	if b == nil || tag < b.first || tag-b.first >= uint64(len(b.state)) {
		return 0, false
	}
	return int(tag - b.first), true
}

// settle records the outcome of message i if it is still waiting.
func (b *batch) settle(i int, err error) bool {
	if b.state[i] != msgPublished {
		return false
	}
	b.state[i] = msgSettled
	b.errs[i] = err
	b.unsettled--
	return true
}

// psession is a producer's live connection.
type psession struct {
	*link
	notify     chan struct{} // capacity 1: progress signal from pump to Send
	publishing atomic.Bool   // a Publish call is in progress
	pubSeq     atomic.Uint64 // counts Publish calls

	// afterLoss: opened because the producer's previous connection
	// was lost (the broker may have restarted in between).
	afterLoss bool
	// rebound: the destination's bindings were declared again on this
	// session (at most once; see producer.recoverBindings).
	rebound atomic.Bool

	mu sync.Mutex
	b  *batch // the batch Send is working on, nil between Sends
}

// signal wakes Send without blocking.
func (s *psession) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// failAll settles every unsettled message of the current batch with err.
func (s *psession) failAll(err error) {
	s.mu.Lock()
	if b := s.b; b != nil {
		for i := range b.state {
			b.settle(i, err)
		}
	}
	s.mu.Unlock()
	s.signal()
}

// pump consumes the channel's confirmations and returns for as long as the
// channel lives (amqp091-go's reader must never wait on them), and settles
// the current batch's messages.
func (s *psession) pump(p *producer, confirms <-chan amqp.Confirmation, returns <-chan amqp.Return) {
	done := s.done
	for confirms != nil || returns != nil || done != nil {
		select {
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			s.onReturn(r)
		case c, ok := <-confirms:
			if !ok {
				confirms = nil
				continue
			}
			// RabbitMQ sends basic.return before the basic.ack of the
			// same message, and amqp091-go hands both over on one
			// goroutine in that order: a return for c is already
			// buffered in returns.
		drain:
			for returns != nil {
				select {
				case r, ok := <-returns:
					if !ok {
						returns = nil
						break drain
					}
					s.onReturn(r)
				default:
					break drain
				}
			}
			s.onConfirm(p, c)
		case <-done:
			done = nil
			s.failAll(fmt.Errorf("not confirmed: %w", s.cause()))
		}
	}
}

// onReturn notes a returned message of the current batch.
func (s *psession) onReturn(r amqp.Return) {
	tag, err := strconv.ParseUint(r.MessageId, 10, 64)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.b.index(tag); ok && s.b.state[i] == msgPublished {
		s.b.returned[i] = fmt.Errorf("rabbitmq: %w (%d %s, exchange %q)", ErrUnroutable, r.ReplyCode, r.ReplyText, r.Exchange)
	}
}

// onConfirm settles one message of the current batch.
func (s *psession) onConfirm(p *producer, c amqp.Confirmation) {
	s.mu.Lock()
	b := s.b
	i, ok := b.index(c.DeliveryTag)
	settled := false
	if ok {
		var err error
		switch {
		case b.returned[i] != nil:
			err = b.returned[i]
		case !c.Ack:
			err = p.nackErr()
		}
		settled = b.settle(i, err)
	}
	s.mu.Unlock()
	if settled {
		s.signal()
	}
}

// producer implements driver.Producer.
type producer struct {
	d        *Driver
	dest     driver.Destination
	exchange string
	window   int
	confirm  bool  // confirm mode (Durable, Fast)
	mode     uint8 // delivery mode
	// partitions is the number of partition streams of a stream
	// destination (routing by key), 0 on classic queues.
	partitions int

	mu       sync.Mutex
	sess     *psession
	closed   bool
	closedCh chan struct{}
	lastFail time.Time // last failed reconnection; only the user goroutine touches it
}

func newProducer(d *Driver, dest driver.Destination, opts driver.ProducerOptions) *producer {
	p := &producer{
		d:        d,
		dest:     dest,
		exchange: exchangeName(dest.Name),
		window:   opts.MaxInFlight,
		confirm:  d.profile != driver.Unsafe,
		mode:     amqp.Transient,
		closedCh: make(chan struct{}),
	}
	if p.window <= 0 {
		p.window = DefaultMaxInFlight
	}
	if d.kind == streamQueues {
		p.partitions = partitionCount(dest)
	}
	if d.profile == driver.Durable {
		p.mode = amqp.Persistent
	}
	return p
}

// nackErr is the error of a nacked publish.
func (p *producer) nackErr() error {
	if p.dest.MaxLength > 0 {
		return fmt.Errorf("rabbitmq: basic.nack: queue full (x-max-length=%d, x-overflow=reject-publish): %w", p.dest.MaxLength, driver.ErrRejected)
	}
	return fmt.Errorf("rabbitmq: %w", ErrNacked)
}

// session returns the live session, opening a new connection when there is
// none or the last one died.
func (p *producer) session(ctx context.Context) (*psession, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, driver.ErrClosed
	}
	old := p.sess
	p.mu.Unlock()
	if old != nil && old.alive() {
		return old, nil
	}
	if old != nil {
		p.d.cfg.Log().Info("rabbitmq: producer reconnecting", "destination", p.dest.Name, "cause", old.cause())
		// Forget it, so that the pause below counts once from the loss
		// however many calls wait through it.
		p.drop(old)
		p.lastFail = p.d.lostAt(p.lastFail)
	}
	if err := pauseAfterFailure(ctx, p.lastFail, p.closedCh); err != nil {
		if errors.Is(err, errClosedByUs) {
			return nil, driver.ErrClosed
		}
		return nil, err
	}
	s, err := p.open(ctx)
	if err != nil {
		p.lastFail = time.Now()
		return nil, err
	}
	s.afterLoss = old != nil || !p.lastFail.IsZero()
	p.lastFail = time.Time{}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		go s.shutdown()
		return nil, driver.ErrClosed
	}
	p.sess = s
	return s, nil
}

// open dials a producer connection, checks the exchange and enables
// confirms.
func (p *producer) open(ctx context.Context) (*psession, error) {
	t := p.d.timeout
	var (
		confirms chan amqp.Confirmation
		returns  chan amqp.Return
	)
	l, err := openLink(ctx, p.d.url, t, "mqbench-producer "+p.dest.Name, p.d.cfg.Log(), p.d.blocks, func(ch *amqp.Channel) error {
		if err := bounded(ctx, t, "check exchange "+p.exchange, func() error {
			return ch.ExchangeDeclarePassive(p.exchange, amqp.ExchangeFanout, true, false, false, false, nil)
		}); err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) && ae.Code == amqp.NotFound {
				return fmt.Errorf("%w (destination %q is not provisioned)", err, p.dest.Name)
			}
			return err
		}
		if !p.confirm {
			return nil
		}
		if err := bounded(ctx, t, "confirm.select", func() error { return ch.Confirm(false) }); err != nil {
			return err
		}
		confirms = ch.NotifyPublish(make(chan amqp.Confirmation, 1024))
		returns = ch.NotifyReturn(make(chan amqp.Return, 64))
		return nil
	})
	if err != nil {
		return nil, err
	}
	s := &psession{link: l, notify: make(chan struct{}, 1)}
	if p.confirm {
		go s.pump(p, confirms, returns)
	}
	return s, nil
}

// Send publishes msgs and, unless the profile is Unsafe, waits for their
// confirms, keeping at most the producer's window of messages unconfirmed.
// A returned (unroutable) message fails with ErrUnroutable; a nack on a
// destination with MaxLength fails with driver.ErrRejected. Send gives up
// on the messages still unconfirmed when ctx is done, when the producer is
// closed, when the connection dies, or when no confirm arrives for the
// operation timeout (wrapping ErrBlocked if the broker blocked the
// connection; the connection is then dropped). A publish blocked in a
// socket write is bounded by the write deadline, or cut short shortly after
// ctx is done by closing the connection. The next Send after a lost
// connection reconnects.
func (p *producer) Send(ctx context.Context, msgs []driver.Message) error {
	s, err := p.session(ctx)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	stop := context.AfterFunc(ctx, func() { p.abandon(s, ctx) })
	defer stop()
	if !p.confirm {
		return p.sendUnsafe(ctx, s, msgs)
	}

	n := len(msgs)
	b := &batch{state: make([]uint8, n), errs: make([]error, n), returned: make([]error, n)}
	s.mu.Lock()
	b.first = s.ch.GetNextPublishSeqNo()
	s.b = b
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.b = nil
		s.mu.Unlock()
	}()

	timer := time.NewTimer(p.d.timeout)
	defer timer.Stop()
	var failed error
	next := 0
	for next < n && failed == nil {
		s.mu.Lock()
		inflight := b.unsettled
		s.mu.Unlock()
		if inflight >= p.window {
			failed = p.wait(ctx, s, timer)
			continue
		}
		if err := ctx.Err(); err != nil {
			failed = err
			break
		}
		failed = p.publish(s, b, next, msgs[next])
		next++
	}
	if failed != nil {
		for i := next; i < n; i++ {
			b.errs[i] = fmt.Errorf("rabbitmq: not sent: %w", failed)
		}
	}
	for {
		s.mu.Lock()
		left := b.unsettled
		s.mu.Unlock()
		if left == 0 {
			break
		}
		if err := p.wait(ctx, s, timer); err != nil {
			s.failAll(fmt.Errorf("rabbitmq: not confirmed: %w", err))
		}
	}
	sendErr := result(b.errs)
	if sendErr != nil && anyIs(b.errs, ErrUnroutable) {
		p.recoverBindings(ctx, s)
	}
	if sendErr != nil && p.dest.MaxLength == 0 && anyIs(b.errs, ErrNacked) {
		p.d.cfg.Log().Info("rabbitmq: producer reopening its connection after the broker nacked a publish", "destination", p.dest.Name)
		p.drop(s)
	}
	return sendErr
}

// anyIs reports whether one of a batch's errors is target.
func anyIs(errs []error, target error) bool {
	for _, err := range errs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// recoverBindings binds the destination's group queues to its exchange
// again, once per session, when a publish came back unroutable on a session
// opened after a lost connection. RabbitMQ 3.10 was seen to recover a
// durable queue after a kill -9 without the route from its exchange
// (rabbitmq-server#1873: the binding stays in the durable table but not in
// the routing one), so every publish returned NO_ROUTE until a queue.bind,
// which the broker accepts to repair exactly that. Redeclaring the topology
// on reconnection is what RabbitMQ's own clients do (the Java client's
// topology recovery); the messages that came back stay failed, never
// confirmed. Classic queues only: a stream destination's routes are by
// partition key. A queue that no longer exists is left alone.
func (p *producer) recoverBindings(ctx context.Context, s *psession) {
	if !s.afterLoss || p.partitions > 0 || !s.rebound.CompareAndSwap(false, true) {
		return
	}
	p.d.cfg.Log().Warn("rabbitmq: a publish came back unroutable after a reconnection; binding the destination's queues again (topology recovery)", "destination", p.dest.Name, "exchange", p.exchange)
	for _, g := range p.dest.Groups {
		q := queueName(p.dest.Name, g)
		err := p.d.withChannel(ctx, "recover binding of "+q, func(ch *amqp.Channel, call func(string, func() error) error) error {
			return call("bind", func() error { return ch.QueueBind(q, "", p.exchange, false, nil) })
		})
		if err != nil {
			p.d.cfg.Log().Warn("rabbitmq: topology recovery: binding not restored", "queue", q, "err", err)
		}
	}
}

// drop forgets session s, if it is still the producer's, and shuts it
// down, so that the next Send opens a new connection and channel. Send
// drops a session after a nack without a length limit: on a cluster, a
// channel opened while a quorum queue was electing a new leader was seen
// to keep nacking every publish until the old leader's node came back
// (RabbitMQ 3.10.8), and a new channel finds the new leader.
func (p *producer) drop(s *psession) {
	p.mu.Lock()
	if p.sess == s {
		p.sess = nil
	}
	p.mu.Unlock()
	go s.shutdown()
}

// sendUnsafe publishes without confirms (fire and forget).
func (p *producer) sendUnsafe(ctx context.Context, s *psession, msgs []driver.Message) error {
	var errs []error
	for i, m := range msgs {
		err := ctx.Err()
		if err == nil {
			err = p.publish(s, nil, i, m)
		}
		if err != nil {
			errs = make([]error, len(msgs))
			for j := i; j < len(msgs); j++ {
				errs[j] = fmt.Errorf("rabbitmq: not sent: %w", err)
			}
			break
		}
	}
	return result(errs)
}

// publish sends message i of b (b is nil without confirms). On failure the
// message is settled with the error, which is returned.
func (p *producer) publish(s *psession, b *batch, i int, m driver.Message) error {
	pub := amqp.Publishing{DeliveryMode: p.mode, Body: m.Body}
	key, headers := p.routing(m.Key)
	pub.Headers = headers
	if b != nil {
		pub.MessageId = strconv.FormatUint(b.first+uint64(i), 10)
		s.mu.Lock()
		b.state[i] = msgPublished
		b.unsettled++
		s.mu.Unlock()
	}
	s.pubSeq.Add(1)
	s.publishing.Store(true)
	err := s.ch.Publish(p.exchange, key, p.confirm, false, pub)
	s.publishing.Store(false)
	if err == nil {
		return nil
	}
	if cause := s.cause(); cause != nil {
		err = fmt.Errorf("rabbitmq: publish: %w (%v)", cause, err)
	} else {
		err = fmt.Errorf("rabbitmq: publish: %w", err)
	}
	if b != nil {
		s.mu.Lock()
		b.settle(i, err)
		s.mu.Unlock()
	}
	return err
}

// routing returns the routing key and headers of a message with key: on
// classic queues the key itself (the fanout exchange ignores it), or the
// keyHeader when it is too long for a routing key; on streams the partition
// (see partitionOf), with the key in keyHeader.
func (p *producer) routing(key []byte) (string, amqp.Table) {
	if p.partitions > 0 {
		return strconv.Itoa(partitionOf(key, p.partitions)), amqp.Table{keyHeader: key}
	}
	if len(key) <= maxShortStr {
		return string(key), nil
	}
	return "", amqp.Table{keyHeader: key}
}

// wait blocks until the pump reports progress, or gives the reason to stop
// waiting. When no confirm arrives for the operation timeout it drops the
// session's connection.
func (p *producer) wait(ctx context.Context, s *psession, timer *time.Timer) error {
	timer.Reset(p.d.timeout)
	select {
	case <-s.notify:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closedCh:
		return driver.ErrClosed
	case <-s.done:
		return s.cause()
	case <-timer.C:
		err := fmt.Errorf("no publisher confirm within %v: %w", p.d.timeout, errTimeout)
		if reason := s.blockedReason(); reason != "" {
			err = fmt.Errorf("no publisher confirm within %v: %w (%s): %w", p.d.timeout, ErrBlocked, reason, errTimeout)
		}
		// A channel that confirms nothing for a whole timeout is in a
		// state this producer cannot see into: drop it, so the next
		// Send starts on a fresh connection instead of waiting on the
		// same one again.
		s.kill(fmt.Errorf("rabbitmq: connection dropped: %w", err))
		return err
	}
}

// abandon runs when Send's ctx is done: a publish still blocked in a socket
// write after killGrace is cut short by closing the connection.
func (p *producer) abandon(s *psession, ctx context.Context) {
	if !s.publishing.Load() {
		return
	}
	seq := s.pubSeq.Load()
	time.AfterFunc(killGrace, func() {
		if s.publishing.Load() && s.pubSeq.Load() == seq {
			s.kill(fmt.Errorf("rabbitmq: publish blocked past its context: %w", ctx.Err()))
		}
	})
}

// Close closes the producer's connection; a pending Send returns with its
// unconfirmed messages failed with driver.ErrClosed.
func (p *producer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closedCh)
	s := p.sess
	p.sess = nil
	p.mu.Unlock()
	p.d.forget(p, nil)
	if s == nil {
		return nil
	}
	if s.publishing.Load() {
		s.kill(fmt.Errorf("rabbitmq: producer: %w", driver.ErrClosed))
		return nil
	}
	return s.shutdown()
}

// result turns per-message errors into Send's answer.
func result(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return &driver.SendError{Errs: errs}
		}
	}
	return nil
}
