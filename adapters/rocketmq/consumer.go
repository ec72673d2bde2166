package rocketmq

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/rocketmq/internal/remoting"
)

// Why the pull consumer and not the push consumer.
//
// The push consumer calls a callback and commits when it returns. Bridging it
// to Receive/Ack means parking the callback until Ack, and then:
//   - in concurrent mode it hands the batches of one queue to racing
//     goroutines, so messages of one key can reach Receive out of order;
//   - in orderly mode it needs broker-side queue locks, and this client never
//     unlocks a queue it loses in a rebalance, so a consumer joining a group
//     waits up to the broker's lock expiry (60 s) for those queues, and its
//     suspend delay on failure defaults to none.
//
// The pull consumer ("lite pull") does the rebalance, long polling and offset
// bookkeeping, and hands out each queue's batches in order through Poll; ACK
// advances the committed offset to the lowest unacknowledged message. Receive
// is Poll, Ack is ACK once every message of the polled batch is settled. Nack
// is done here, not by the client, because its ACK cannot choose the delay:
// the message is sent back to the broker (CONSUMER_SEND_MSG_BACK) with delay
// level 1, after which it counts as settled; the broker redelivers it through
// the group's %RETRY% topic (which the client subscribes to) or moves it to
// %DLQ% after MaxReconsumeTimes.

// Rebalance waits are bounded by this, whatever ctx allows.
const rebalanceWaitMax = 20 * time.Second

// commitInterval is how often a consumer commits its positions to the broker
// (one way). The client does it every five seconds on its own; committing
// more often bounds what a crashed consumer's group receives again.
const commitInterval = time.Second

// ConsumerStats counts what a consumer handed back to the broker.
type ConsumerStats struct {
	// Retried messages were nacked and sent back for redelivery through the
	// group's %RETRY% topic.
	Retried int64
	// DeadLettered messages were nacked after MaxReconsumeTimes deliveries
	// and moved by the broker to the group's %DLQ% topic.
	DeadLettered int64
}

// Consumer receives one group's messages of one topic. One goroutine at a
// time, except Close.
type Consumer struct {
	d      *Driver
	group  string
	topic  string
	inst   string
	pc     rmq.PullConsumer
	buf    []*driver.Delivery
	closed chan struct{}
	once   sync.Once

	retried      atomic.Int64
	deadLettered atomic.Int64
}

// polled is one batch returned by Poll; it is ACKed once every message in it
// is settled (acked, or sent back by Nack).
type polled struct {
	cr      *consumer.ConsumeRequest
	pending int
}

// token is a Delivery's acknowledgement handle.
type token struct {
	c       *Consumer
	b       *polled
	msg     *primitive.MessageExt
	settled bool
}

// NewConsumer starts a pull consumer in group opts.Group (clustering mode)
// on a provisioned destination. A group with no committed position starts at
// the oldest retained message; Provision commits one for every group it
// creates. It returns once the broker lists the consumer in its group and
// the consumer has taken its share of the queues from the other consumers of
// the group opened by this driver, or after rebalanceWaitMax; the wait is
// logged. opts.Prefetch sets the pull batch size (1..32, default 32); the
// client buffers up to about 34 batches per queue, unacknowledged messages
// included.
func (d *Driver) NewConsumer(ctx context.Context, dest driver.Destination, opts driver.ConsumerOptions) (driver.Consumer, error) {
	n, err := resolve(dest)
	if err != nil {
		return nil, err
	}
	g := groupName(n.topic, opts.Group)
	if !n.hasGroup(g) {
		return nil, fmt.Errorf("rocketmq: group %q is not one of destination %q's groups %v", opts.Group, dest.Name, dest.Groups)
	}
	batch := int32(32)
	if opts.Prefetch > 0 && opts.Prefetch < 32 {
		batch = int32(opts.Prefetch)
	}
	inst := d.instanceName("c")
	pc, err := rmq.NewPullConsumer(
		consumer.WithGroupName(g),
		consumer.WithNameServer(d.namesrvs),
		consumer.WithInstance(inst),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithPullBatchSize(batch),
		consumer.WithMaxReconsumeTimes(MaxReconsumeTimes),
	)
	if err != nil {
		return nil, fmt.Errorf("rocketmq: new consumer: %w", err)
	}
	if err := pc.Subscribe(n.topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"}); err != nil {
		return nil, fmt.Errorf("rocketmq: subscribe %s: %w", n.topic, err)
	}
	c := &Consumer{d: d, group: g, topic: n.topic, inst: inst, pc: pc, closed: make(chan struct{})}

	start := time.Now()
	started := make(chan error, 1)
	go func() { started <- pc.Start() }()
	select {
	case err := <-started:
		if err != nil {
			pc.Shutdown()
			return nil, fmt.Errorf("rocketmq: start consumer of %s in %s: %w", n.topic, g, err)
		}
	case <-ctx.Done():
		go func() {
			<-started
			pc.Shutdown()
		}()
		return nil, fmt.Errorf("rocketmq: start consumer of %s in %s: %w", n.topic, g, ctx.Err())
	}
	if err := d.track(c); err != nil {
		pc.Shutdown()
		return nil, err
	}
	go c.commitLoop()
	wait, err := c.waitRebalance(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	d.log.Info("consumer started", "topic", n.topic, "group", g, "instance", inst,
		"start", time.Since(start)-wait, "rebalance_wait", wait)
	return c, nil
}

// commitLoop commits the consumer's positions every commitInterval until
// it closes.
func (c *Consumer) commitLoop() {
	t := time.NewTicker(commitInterval)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
			_ = c.pc.PersistOffset(context.Background(), c.topic) // one way; fails only once shut down
		}
	}
}

// waitRebalance waits until the broker lists this consumer in its group and
// no other consumer of the group in this driver holds a queue this one was
// assigned. It gives up quietly after rebalanceWaitMax (the rebalance goes
// on in the background); it fails only when ctx ends.
func (c *Consumer) waitRebalance(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(rebalanceWaitMax)
	delay := 10 * time.Millisecond
	listed := false
	for time.Now().Before(deadline) {
		if !listed {
			ids, err := c.d.consumerIDs(ctx, c.group)
			if err == nil {
				for _, id := range ids {
					if strings.HasSuffix(id, "@"+c.inst) {
						listed = true
					}
				}
			}
		}
		if listed {
			mine := queuesOf(c.pc, c.topic)
			if len(mine) > 0 && !c.d.heldByOthers(c, mine) {
				return time.Since(start), nil
			}
			if len(mine) == 0 && c.d.groupSize(c.group) > 0 && time.Since(start) > time.Second {
				// More consumers than queues: this one may rightly get none.
				return time.Since(start), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("rocketmq: wait for rebalance of %s: %w", c.group, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
	c.d.log.Warn("rebalance not settled in time; continuing", "group", c.group, "waited", time.Since(start))
	return time.Since(start), nil
}

// consumerIDs asks a broker which clients it lists in group.
func (d *Driver) consumerIDs(ctx context.Context, group string) ([]string, error) {
	var out []string
	for _, b := range d.masters() {
		var ids struct {
			ConsumerIDList []string `json:"consumerIdList"`
		}
		err := d.withOp(ctx, func(ctx context.Context) error {
			resp, err := d.admin.Invoke(ctx, b.addr, remoting.CodeGetConsumerListByGrp, map[string]string{"consumerGroup": group}, nil)
			if err != nil {
				return err
			}
			return unmarshalLoose(resp.Body, &ids)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, ids.ConsumerIDList...)
	}
	return out, nil
}

// queuesOf returns the queues of topic a client consumer is assigned, as
// "broker/queue" strings. The client exposes them only through
// GetConsumerRunningInfo, whose result type is in its internal package, so
// it is read by reflection; nil if that ever changes.
func queuesOf(pc any, topic string) map[string]bool {
	m := reflect.ValueOf(pc).MethodByName("GetConsumerRunningInfo")
	if !m.IsValid() || m.Type().NumIn() != 1 || m.Type().NumOut() != 1 {
		return nil
	}
	out := m.Call([]reflect.Value{reflect.ValueOf(false)})[0]
	if out.Kind() == reflect.Pointer {
		if out.IsNil() {
			return nil
		}
		out = out.Elem()
	}
	if out.Kind() != reflect.Struct {
		return nil
	}
	table := out.FieldByName("MQTable")
	if !table.IsValid() || table.Kind() != reflect.Map {
		return nil
	}
	res := map[string]bool{}
	for _, k := range table.MapKeys() {
		mq, ok := k.Interface().(primitive.MessageQueue)
		if ok && mq.Topic == topic {
			res[fmt.Sprintf("%s/%d", mq.BrokerName, mq.QueueId)] = true
		}
	}
	return res
}

// heldByOthers reports whether another open consumer of c's group and topic
// in this driver still holds one of the queues in mine.
func (d *Driver) heldByOthers(c *Consumer, mine map[string]bool) bool {
	for _, o := range d.consumersOf(c.group, c.topic) {
		if o == c {
			continue
		}
		for q := range queuesOf(o.pc, c.topic) {
			if mine[q] {
				return true
			}
		}
	}
	return false
}

func (d *Driver) consumersOf(group, topic string) []*Consumer {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*Consumer
	for x := range d.open {
		if c, ok := x.(*Consumer); ok && c.group == group && c.topic == topic {
			out = append(out, c)
		}
	}
	return out
}

func (d *Driver) groupSize(group string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for x := range d.open {
		if c, ok := x.(*Consumer); ok && c.group == group {
			n++
		}
	}
	return n
}

// Receive returns between 1 and max deliveries (max <= 0 means 1). It blocks
// until messages arrive, ctx is done (ctx.Err()) or the consumer is closed
// (driver.ErrClosed).
func (c *Consumer) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
	if max <= 0 {
		max = 1
	}
	for len(c.buf) == 0 {
		select {
		case <-c.closed:
			return nil, driver.ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := c.poll(ctx); err != nil {
			return nil, err
		}
	}
	n := min(max, len(c.buf))
	out := make([]*driver.Delivery, n)
	copy(out, c.buf)
	clear(c.buf[:n])
	c.buf = c.buf[n:]
	return out, nil
}

// poll waits for one batch and appends it to c.buf. It returns an error
// only when ctx is done or the consumer closed.
func (c *Consumer) poll(ctx context.Context) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(closedCtx(c.closed), cancel)
	defer stop()
	cr, err := c.pc.Poll(pctx, time.Hour)
	if err != nil {
		select {
		case <-c.closed:
			return driver.ErrClosed
		default:
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if consumer.IsNoNewMsgError(err) {
			return nil // an empty or dropped batch: poll again
		}
		return fmt.Errorf("rocketmq: poll: %w", err)
	}
	msgs := cr.GetMsgList()
	b := &polled{cr: cr, pending: len(msgs)}
	for _, m := range msgs {
		var key []byte
		if k := m.GetProperty(keyProperty); k != "" {
			key, _ = hex.DecodeString(k)
		}
		c.buf = append(c.buf, &driver.Delivery{
			Key:         key,
			Body:        m.Body,
			Redelivered: m.ReconsumeTimes > 0,
			Token:       &token{c: c, b: b, msg: m},
		})
	}
	return nil
}

func (c *Consumer) token(d *driver.Delivery) (*token, error) {
	if d == nil {
		return nil, errors.New("rocketmq: nil delivery")
	}
	t, ok := d.Token.(*token)
	if !ok || t.c != c {
		return nil, errors.New("rocketmq: delivery was not received by this consumer")
	}
	return t, nil
}

// settle marks t settled and ACKs its batch once all of it is.
func (c *Consumer) settle(ctx context.Context, t *token) {
	t.settled = true
	t.b.pending--
	if t.b.pending == 0 {
		c.pc.ACK(ctx, t.b.cr, consumer.ConsumeSuccess)
	}
}

// Ack marks the deliveries processed. The group's position advances past a
// message once it and every earlier message of its queue are settled; the
// consumer commits positions to the broker every second and on Close, so a
// consumer that crashes makes its group receive again up to a second of
// acknowledged messages plus those behind its oldest unsettled one.
// Acking a settled delivery again does nothing. No network I/O.
func (c *Consumer) Ack(ctx context.Context, ds []*driver.Delivery) error {
	for _, d := range ds {
		t, err := c.token(d)
		if err != nil {
			return err
		}
		if !t.settled {
			c.settle(ctx, t)
		}
	}
	return nil
}

// Nack sends each delivery back to the broker, which redelivers it to the
// group through its %RETRY% topic after about one second (delay level 1), or
// moves it to the %DLQ% topic once it was delivered MaxReconsumeTimes times
// (counted in Stats). A delivery whose send-back fails stays unsettled and
// is redelivered after this consumer closes; the failures are returned.
func (c *Consumer) Nack(ctx context.Context, ds []*driver.Delivery) error {
	var errs []error
	for _, d := range ds {
		t, err := c.token(d)
		if err != nil {
			return err
		}
		if t.settled {
			continue
		}
		m := t.msg
		origin := m.GetProperty(primitive.PropertyRetryTopic)
		if origin == "" {
			origin = m.Topic
		}
		originID := m.GetProperty("ORIGIN_MESSAGE_ID")
		if originID == "" {
			originID = m.MsgId
		}
		var brokerName string
		if m.Queue != nil {
			brokerName = m.Queue.BrokerName
		}
		err = c.d.onMaster(ctx, brokerName, func(ctx context.Context, addr string) error {
			if addr == "" {
				addr = m.StoreHost
			}
			return c.d.sendBack(ctx, addr, sendBackHeader{
				commitLogOffset: m.CommitLogOffset,
				group:           c.group,
				delayLevel:      nackDelayLevel,
				originMsgID:     originID,
				originTopic:     origin,
				maxReconsume:    c.d.maxReconsume,
				brokerName:      brokerName,
			})
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("rocketmq: nack: %w", err))
			continue
		}
		if int(m.ReconsumeTimes) >= c.d.maxReconsume {
			c.deadLettered.Add(1)
			c.d.log.Warn("message moved to the dead-letter topic", "group", c.group,
				"topic", dlqTopic(c.group), "msg_id", m.MsgId, "deliveries", m.ReconsumeTimes+1)
		} else {
			c.retried.Add(1)
		}
		c.settle(ctx, t)
	}
	return errors.Join(errs...)
}

// Stats returns how many messages this consumer sent back for retry and how
// many of those the broker moved to the dead-letter topic. Safe for
// concurrent use.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{Retried: c.retried.Load(), DeadLettered: c.deadLettered.Load()}
}

// Close leaves the group, committing the positions of settled messages.
// Unsettled deliveries are redelivered to the group. It unblocks Receive.
func (c *Consumer) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.d.untrack(c)
		if s := c.Stats(); s.Retried > 0 || s.DeadLettered > 0 {
			c.d.log.Info("consumer closed", "group", c.group, "retried", s.Retried, "dead_lettered", s.DeadLettered)
		}
		c.pc.Shutdown()
	})
	return nil
}
