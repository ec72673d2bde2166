package rocketmq

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"sync/atomic"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/mqbench/mqbench/adapters/driver"
)

// keyProperty carries Message.Key, hex-encoded because RocketMQ property
// strings cannot hold the separators \x01 and \x02.
const keyProperty = "mqbk"

// Batches sent in one request stay well under the broker's maxMessageSize
// (4 MiB by default).
const (
	maxBatchCount = 256
	maxBatchBytes = 1 << 20
)

// hashSelector picks the queue whose index is the hint left in
// Message.Queue.QueueId modulo the number of queues. The hint is a hash of
// the message key (or a round-robin counter when there is no key), so all
// messages of one key go to one queue in send order. For a batch the client
// copies the first message's Queue into the batch message.
type hashSelector struct{}

func (hashSelector) Select(m *primitive.Message, mqs []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	if len(mqs) == 0 {
		return nil
	}
	hint := 0
	if m.Queue != nil {
		hint = m.Queue.QueueId
	}
	return mqs[hint%len(mqs)]
}

// queueHint returns a non-negative hash of key.
func queueHint(key []byte) int {
	h := fnv.New32a()
	h.Write(key)
	return int(h.Sum32() & math.MaxInt32)
}

func producerOptions(d *Driver, group, instance string) []producer.Option {
	return []producer.Option{
		producer.WithNameServer(d.namesrvs),
		producer.WithGroupName(group),
		producer.WithInstanceName(instance),
		producer.WithQueueSelector(hashSelector{}),
		producer.WithSendMsgTimeout(d.sendTimeout),
		// One attempt: a retry after a timeout may store the message twice,
		// and the caller already counts an error as "not confirmed".
		producer.WithRetry(0),
		// Compression would spend CPU on mqbench's padding and change what
		// is measured.
		producer.WithCompressMsgBodyOverHowmuch(math.MaxInt32),
	}
}

// Producer sends to one topic. One goroutine at a time; Close from any.
type Producer struct {
	d      *Driver
	topic  string
	p      rmq.Producer
	unsafe bool
	rr     atomic.Uint32
	closed chan struct{}
	once   sync.Once
}

// NewProducer starts a producer on a provisioned destination. Its route is
// fetched from the name server on the first Send.
func (d *Driver) NewProducer(ctx context.Context, dest driver.Destination, _ driver.ProducerOptions) (driver.Producer, error) {
	n, err := resolve(dest)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inst := d.instanceName("p")
	p, err := rmq.NewProducer(producerOptions(d, "mqbench_"+inst, inst)...)
	if err != nil {
		return nil, fmt.Errorf("rocketmq: new producer: %w", err)
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("rocketmq: start producer: %w", err)
	}
	pr := &Producer{d: d, topic: n.topic, p: p, unsafe: d.cfg.EffectiveProfile() == driver.Unsafe, closed: make(chan struct{})}
	if err := d.track(pr); err != nil {
		p.Shutdown()
		return nil, err
	}
	return pr, nil
}

// message builds the client message for m; hint is its queue hint.
func (pr *Producer) message(m driver.Message) *primitive.Message {
	msg := primitive.NewMessage(pr.topic, append([]byte(nil), m.Body...))
	hint := 0
	if len(m.Key) > 0 {
		msg.WithProperty(keyProperty, hex.EncodeToString(m.Key))
		hint = queueHint(m.Key)
	} else {
		hint = int(pr.rr.Add(1) & math.MaxInt32)
	}
	msg.Queue = &primitive.MessageQueue{Topic: pr.topic, QueueId: hint}
	return msg
}

// Send sends msgs and returns when the broker answered for all of them. Runs
// of consecutive messages with the same key go as one batch request to that
// key's queue (split to stay under the broker's size limit). A message is
// confirmed only by SEND_OK; after the first batch that is not confirmed the
// rest are not sent (so a key's order never has a hole followed by later
// messages of the same Send), and all are reported in a *driver.SendError.
// In the Unsafe profile batches are sent one way and count as confirmed
// once written to the connection. A message with an empty body is refused
// without a round trip (the broker cannot store it).
func (pr *Producer) Send(ctx context.Context, msgs []driver.Message) error {
	select {
	case <-pr.closed:
		return driver.ErrClosed
	default:
	}
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(closedCtx(pr.closed), cancel)
	defer stop()

	errs := make([]error, len(msgs))
	failed := false
	var sendErr error
	for start := 0; start < len(msgs); {
		end := batchEnd(msgs, start)
		if failed {
			for i := start; i < end; i++ {
				errs[i] = fmt.Errorf("not sent after an earlier failure in the same Send: %w", sendErr)
			}
			start = end
			continue
		}
		if len(msgs[start].Body) == 0 {
			failed, sendErr = true, errEmptyBody
			errs[start] = errEmptyBody
			start = end
			continue
		}
		batch := make([]*primitive.Message, 0, end-start)
		for i := start; i < end; i++ {
			batch = append(batch, pr.message(msgs[i]))
		}
		if err := pr.sendBatch(ctx, batch); err != nil {
			failed, sendErr = true, err
			for i := start; i < end; i++ {
				errs[i] = err
			}
		}
		start = end
	}
	if !failed {
		return nil
	}
	select {
	case <-pr.closed:
		sendErr = fmt.Errorf("%w: %w", driver.ErrClosed, sendErr)
		for i := range errs {
			if errs[i] != nil {
				errs[i] = sendErr
			}
		}
	default:
	}
	return &driver.SendError{Errs: errs}
}

// errEmptyBody refuses a message RocketMQ cannot store (the broker fails on
// an empty body).
var errEmptyBody = errors.New("rocketmq: empty message body: RocketMQ needs at least one byte")

// batchEnd returns the end of the batch starting at start: consecutive
// messages with the same key and a body, within the count and size limits.
// A message with an empty body is a batch of its own.
func batchEnd(msgs []driver.Message, start int) int {
	size := len(msgs[start].Body)
	end := start + 1
	if size == 0 {
		return end
	}
	for end < len(msgs) && end-start < maxBatchCount && string(msgs[end].Key) == string(msgs[start].Key) && len(msgs[end].Body) > 0 {
		size += len(msgs[end].Body) + len(msgs[end].Key)*2 + 64
		if size > maxBatchBytes {
			break
		}
		end++
	}
	return end
}

func (pr *Producer) sendBatch(ctx context.Context, batch []*primitive.Message) error {
	if pr.unsafe {
		if err := pr.p.SendOneWay(ctx, batch...); err != nil {
			return fmt.Errorf("rocketmq: send one way: %w", err)
		}
		return nil
	}
	res, err := pr.p.SendSync(ctx, batch...)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("rocketmq: send: %w (%v)", ctx.Err(), err)
		}
		return fmt.Errorf("rocketmq: send: %w", err)
	}
	return sendStatusErr(res)
}

// sendStatusErr is nil only for SEND_OK.
func sendStatusErr(res *primitive.SendResult) error {
	if res == nil {
		return errors.New("rocketmq: send: no result")
	}
	if res.Status == primitive.SendOK {
		return nil
	}
	return fmt.Errorf("rocketmq: send status %s: stored but not confirmed durable (indeterminate)", statusName(res.Status))
}

func statusName(s primitive.SendStatus) string {
	switch s {
	case primitive.SendOK:
		return "SEND_OK"
	case primitive.SendFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case primitive.SendFlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case primitive.SendSlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	default:
		return fmt.Sprintf("UNKNOWN(%d)", int(s))
	}
}

// Close stops the producer; a pending Send returns (not confirmed).
func (pr *Producer) Close() error {
	pr.once.Do(func() {
		close(pr.closed)
		pr.d.untrack(pr)
		pr.p.Shutdown()
	})
	return nil
}

// closedCtx is a context cancelled when ch is closed; used with
// context.AfterFunc to cancel work when a producer or consumer closes.
type closedCtx chan struct{}

func (c closedCtx) Deadline() (deadlineTime time.Time, ok bool) { return }
func (c closedCtx) Done() <-chan struct{}                       { return c }
func (c closedCtx) Err() error {
	select {
	case <-c:
		return context.Canceled
	default:
		return nil
	}
}
func (c closedCtx) Value(any) any { return nil }
