package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Consumer tuning. The reader asks the broker to answer a fetch as soon as
// one byte is there (MinBytes 1), so MaxWait does not delay deliveries: it
// only paces the fetches of an idle partition. kafka-go (v0.4.51) turns
// MaxWait into the connection's read deadline and asks the broker to wait
// MaxWait minus min(1 s, MaxWait/4); a small MaxWait (say 50 ms) leaves
// 12 ms of slack, and on a busy host idle fetches then fail with i/o
// timeouts and reconnect (measured: latency spikes, warnings). 1.5 s means
// the broker holds an idle fetch 0.5 s with 1 s of slack; Close waits for
// the pending fetch, so at most about 0.5 s.
const (
	defaultPrefetch   = 512
	fetchMaxWait      = 1500 * time.Millisecond
	fetchMaxBytes     = 4 << 20
	heartbeatInterval = time.Second
	sessionTimeout    = 10 * time.Second // the broker's default minimum is 6 s
	joinGroupBackoff  = 200 * time.Millisecond
	// joinWaits bounds NewConsumer's wait for an assignment, in operation
	// timeouts: a join is several round trips (find coordinator, join,
	// sync, offset fetch) and may wait for the other members to rejoin
	// (RebalanceTimeout = one operation timeout).
	joinWaits = 3
)

// consumer is a member of one consumer group on one topic. Receive, Ack and
// Nack are called by one goroutine at a time; Close from any.
type consumer struct {
	d     *Driver
	topic string
	group string
	log   *slog.Logger
	r     *kafkago.Reader

	msgs chan kafkago.Message // filled by pump
	errs chan error           // fetch errors, latest first
	life context.Context      // cancelled by Close
	stop context.CancelFunc
	done chan struct{} // pump exited

	acks *ackTracker // used by the Receive/Ack goroutine only

	cmu        sync.Mutex
	pending    map[int]int64 // partition -> offset to commit next
	commitErr  error         // last failed commit, reported by the next Ack
	commitWake chan struct{} // cap 1
	commitStop chan struct{} // closed by Close: final commit, then exit
	commitDone chan struct{} // commit loop exited

	gmu       sync.Mutex
	joined    chan struct{} // closed at the first assignment
	revokedAt time.Time     // start of the current rebalance
	gens      int

	closeOnce sync.Once
	closeErr  error
}

// NewConsumer joins the consumer group "<topic>.<opts.Group>" on dest.Name
// and waits, bounded by ctx and 3 × Config.OpTimeout, until the group has given
// it its partitions (possibly none, when the group has more members than the
// topic has partitions). The wait is logged at info level.
//
// The group resumes from its committed offsets: those of its consumers, or
// the position Provision gave it. With opts.FromStart, every partition where
// no consumer of the group has committed yet is first moved to the oldest
// retained message (a member of the group already running but not yet
// committing would then see messages again: duplicates, never loss). A
// partition with no committed offset at all starts at the oldest retained
// message with FromStart, else at the end.
// opts.Prefetch (default 512) sizes the buffer of fetched, not yet received
// messages.
func (d *Driver) NewConsumer(ctx context.Context, dest driver.Destination, opts driver.ConsumerOptions) (driver.Consumer, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	if _, err := checkDest(dest); err != nil {
		return nil, err
	}
	if !validName(opts.Group) {
		return nil, fmt.Errorf("kafka: bad group name %q", opts.Group)
	}
	if opts.Prefetch < 0 {
		return nil, fmt.Errorf("kafka: negative prefetch %d", opts.Prefetch)
	}
	n, err := d.partitions(ctx, dest.Name)
	if err != nil {
		return nil, err
	}
	if opts.FromStart {
		if err := d.rewindGroup(ctx, groupID(dest, opts.Group), dest.Name, n); err != nil {
			return nil, err
		}
	}
	prefetch := opts.Prefetch
	if prefetch == 0 {
		prefetch = defaultPrefetch
	}
	startOffset := kafkago.LastOffset
	if opts.FromStart {
		startOffset = kafkago.FirstOffset
	}
	c := &consumer{
		d:          d,
		topic:      dest.Name,
		group:      groupID(dest, opts.Group),
		msgs:       make(chan kafkago.Message, prefetch),
		errs:       make(chan error, 1),
		done:       make(chan struct{}),
		acks:       newAckTracker(),
		pending:    make(map[int]int64),
		commitWake: make(chan struct{}, 1),
		commitStop: make(chan struct{}),
		commitDone: make(chan struct{}),
		joined:     make(chan struct{}),
		revokedAt:  time.Now(),
	}
	c.log = d.log.With("topic", c.topic, "group", c.group)
	timeout := d.cfg.Timeout()
	rc := kafkago.ReaderConfig{
		Brokers:           d.addrs,
		GroupID:           c.group,
		Topic:             c.topic,
		Dialer:            d.dialer,
		QueueCapacity:     prefetch,
		MinBytes:          1,
		MaxBytes:          fetchMaxBytes,
		MaxWait:           fetchMaxWait,
		ReadBatchTimeout:  timeout,
		ReadLagInterval:   -1,
		HeartbeatInterval: heartbeatInterval,
		CommitInterval:    0, // CommitMessages waits for the broker (called by commitLoop)
		SessionTimeout:    sessionTimeout,
		RebalanceTimeout:  timeout,
		JoinGroupBackoff:  joinGroupBackoff,
		StartOffset:       startOffset,
		ReadBackoffMin:    20 * time.Millisecond,
		ReadBackoffMax:    500 * time.Millisecond,
		MaxAttempts:       3,
		Logger:            kafkago.LoggerFunc(c.libLog),
		ErrorLogger:       kafkago.LoggerFunc(c.libError),
	}
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("kafka: reader config: %w", err)
	}
	c.r = kafkago.NewReader(rc)
	c.life, c.stop = context.WithCancel(context.Background())
	go c.pump()
	go c.commitLoop()

	if err := c.waitJoined(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := d.track(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// waitJoined waits for the first assignment, a permanent fetch error, ctx
// or 3 operation timeouts; transient errors (kafka-go retries them) only
// end up in the message when the wait fails.
func (c *consumer) waitJoined(ctx context.Context) error {
	bound := joinWaits * c.d.cfg.Timeout()
	t := time.NewTimer(bound)
	defer t.Stop()
	start := time.Now()
	var last error
	for {
		select {
		case <-c.joined:
			c.log.Info("kafka consumer joined group", "wait", time.Since(start))
			return nil
		case err := <-c.errs:
			if !retriable(err) {
				return fmt.Errorf("kafka: join group %q: %w", c.group, err)
			}
			last = err // kafka-go keeps trying (coordinator moving, broker restarting)
		case <-ctx.Done():
			return fmt.Errorf("kafka: join group %q: %w (last error: %v)", c.group, ctx.Err(), last)
		case <-t.C:
			return fmt.Errorf("kafka: join group %q: no assignment within %v: %w (last error: %v)", c.group, bound, context.DeadlineExceeded, last)
		}
	}
}

// libLog receives kafka-go's reader log. It watches the generation
// boundaries to time rebalances and passes the rest on at debug level.
func (c *consumer) libLog(format string, args ...any) {
	switch {
	case strings.HasPrefix(format, "subscribed to topics and partitions"):
		c.gmu.Lock()
		c.gens++
		wait, gen := time.Since(c.revokedAt), c.gens
		first := gen == 1
		if first {
			close(c.joined)
		}
		c.gmu.Unlock()
		if !first {
			c.log.Info("kafka consumer group rebalanced", "generation", gen, "wait", wait)
		}
	case strings.HasPrefix(format, "stopped heartbeat for group"):
		c.gmu.Lock()
		c.revokedAt = time.Now()
		c.gmu.Unlock()
	}
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("kafka-go: " + strings.TrimSpace(fmt.Sprintf(format, args...)))
	}
}

func (c *consumer) libError(format string, args ...any) {
	c.log.Warn("kafka-go: " + strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// pump moves fetched messages from the reader into c.msgs until Close.
// kafka-go reconnects and rejoins by itself, so fetch errors (other than the
// reader closing) are logged (at most one a second), offered on c.errs for
// NewConsumer's join wait (the latest one wins), and retried after a pause.
func (c *consumer) pump() {
	defer close(c.done)
	var lastWarn time.Time
	for {
		m, err := c.r.FetchMessage(c.life)
		if err != nil {
			if c.life.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			if time.Since(lastWarn) >= time.Second {
				c.log.Warn("kafka fetch failed; retrying", "err", err)
				lastWarn = time.Now()
			}
			select {
			case <-c.errs:
			default:
			}
			c.errs <- err
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-c.life.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		select {
		case c.msgs <- m:
		case <-c.life.Done():
			return
		}
	}
}

// Receive blocks until at least one message is there, then returns it with
// those already fetched, up to max (max <= 0 means 1). It returns ctx.Err()
// when ctx is done and driver.ErrClosed once the consumer is closed. Fetch
// errors are not returned: kafka-go reconnects and rejoins the group by
// itself (they are logged), and Receive keeps waiting for messages.
func (c *consumer) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
	if max <= 0 {
		max = 1
	}
	if c.life.Err() != nil {
		return nil, driver.ErrClosed
	}
	var first kafkago.Message
	select {
	case first = <-c.msgs:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.life.Done():
		return nil, driver.ErrClosed
	}
	out := make([]*driver.Delivery, 0, min(max, 1+len(c.msgs)))
	out = append(out, c.delivery(first))
	for len(out) < max {
		select {
		case m := <-c.msgs:
			out = append(out, c.delivery(m))
			continue
		default:
		}
		break
	}
	return out, nil
}

func (c *consumer) delivery(m kafkago.Message) *driver.Delivery {
	epoch := c.acks.delivered(m.Partition, m.Offset)
	return &driver.Delivery{
		Key:   m.Key,
		Body:  m.Value,
		Token: &ackToken{owner: c, partition: m.Partition, offset: m.Offset, epoch: epoch},
	}
}

// Ack marks ds processed. Kafka keeps one committed offset per partition,
// so the offset committed for a partition is the one after the longest
// prefix of acknowledged deliveries; deliveries already covered, or from
// before a rebalance that handed their partition back, are ignored, and
// deliveries of another consumer are refused.
//
// Ack does not wait for the broker: the offsets go to a commit loop that
// keeps one synchronous OffsetCommit in flight and merges the acks that
// arrive meanwhile (Kafka's usual commitAsync-per-poll pattern: the broker's
// group coordinator may hold a commit a few milliseconds, which would
// otherwise cap a consumer at one batch per commit). Close commits what is
// left before leaving the group. If the process dies first, those messages
// are delivered again (duplicates, never loss). A commit that failed is
// reported by the next Ack and retried with the next one.
func (c *consumer) Ack(ctx context.Context, ds []*driver.Delivery) error {
	if c.life.Err() != nil {
		return driver.ErrClosed
	}
	commit := make(map[int]int64)
	for _, d := range ds {
		tok, ok := d.Token.(*ackToken)
		if !ok || tok.owner != c {
			return fmt.Errorf("kafka: ack of a delivery this consumer did not make")
		}
		if off, ok := c.acks.ack(tok.partition, tok.offset, tok.epoch); ok {
			commit[tok.partition] = off
		}
	}
	c.cmu.Lock()
	for part, off := range commit {
		if cur, ok := c.pending[part]; !ok || off > cur {
			c.pending[part] = off
		}
	}
	err := c.commitErr
	c.commitErr = nil
	c.cmu.Unlock()
	if len(commit) > 0 {
		select {
		case c.commitWake <- struct{}{}:
		default:
		}
	}
	if err != nil {
		return fmt.Errorf("kafka: an earlier commit for %q failed (will be retried): %w", c.group, err)
	}
	return nil
}

// commitLoop commits the pending offsets whenever Ack adds some, one commit
// at a time, and once more when Close asks it to stop.
func (c *consumer) commitLoop() {
	defer close(c.commitDone)
	for {
		select {
		case <-c.commitWake:
			c.commitPending()
		case <-c.commitStop:
			c.commitPending()
			return
		}
	}
}

// commitPending commits the pending offsets synchronously, bounded by
// Config.OpTimeout; on failure it keeps them pending (unless newer ones
// arrived) and records the error.
func (c *consumer) commitPending() {
	c.cmu.Lock()
	batch := c.pending
	c.pending = make(map[int]int64, len(batch))
	c.cmu.Unlock()
	if len(batch) == 0 {
		return
	}
	msgs := make([]kafkago.Message, 0, len(batch))
	for part, off := range batch {
		// CommitMessages commits Offset+1.
		msgs = append(msgs, kafkago.Message{Topic: c.topic, Partition: part, Offset: off - 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.d.cfg.Timeout())
	err := c.r.CommitMessages(ctx, msgs...)
	cancel()
	if err == nil {
		return
	}
	c.log.Warn("kafka commit failed", "err", err)
	c.cmu.Lock()
	c.commitErr = err
	for part, off := range batch {
		if _, newer := c.pending[part]; !newer {
			c.pending[part] = off
		}
	}
	c.cmu.Unlock()
}

// Nack is not supported: Kafka has no per-message negative acknowledgement.
// The deliveries stay unacknowledged, holding back their partition's
// commits; they come back after the consumer closes.
func (c *consumer) Nack(ctx context.Context, ds []*driver.Delivery) error {
	return fmt.Errorf("kafka: nack: %w", errors.ErrUnsupported)
}

// Close unblocks Receive, commits the acknowledged offsets not yet committed
// and leaves the group (the broker then hands the partitions to the
// remaining members, from the committed offsets). The final commit and
// kafka-go's shutdown are each bounded by Config.OpTimeout. Idempotent.
func (c *consumer) Close() error {
	c.closeOnce.Do(func() {
		c.stop()
		close(c.commitStop)
		t0 := time.NewTimer(c.d.cfg.Timeout())
		select {
		case <-c.commitDone:
			c.cmu.Lock()
			if len(c.pending) > 0 {
				c.closeErr = fmt.Errorf("kafka: close %q: final commit failed (those messages will be delivered again): %w", c.group, c.commitErr)
			}
			c.cmu.Unlock()
		case <-t0.C:
			c.closeErr = fmt.Errorf("kafka: close %q: final commit not done within %v (those messages may be delivered again)", c.group, c.d.cfg.Timeout())
		}
		t0.Stop()
		closed := make(chan error, 1)
		go func() { closed <- c.r.Close() }()
		t := time.NewTimer(c.d.cfg.Timeout())
		defer t.Stop()
		select {
		case err := <-closed:
			if err != nil && c.closeErr == nil {
				c.closeErr = fmt.Errorf("kafka: close reader of %q: %w", c.group, err)
			}
		case <-t.C:
			c.closeErr = errors.Join(c.closeErr, fmt.Errorf("kafka: close reader of %q: not done within %v", c.group, c.d.cfg.Timeout()))
		}
		<-c.done
		c.d.untrack(c)
	})
	return c.closeErr
}
