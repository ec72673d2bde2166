package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

// maxRequestBytes bounds the records of one produce request, below the
// broker's default message.max.bytes (1 MiB per record batch).
const maxRequestBytes = 900 << 10

// producer sends to one topic. Send is called by one goroutine at a time;
// Close may be called from any goroutine.
type producer struct {
	d        *Driver
	topic    string
	parts    []int // 0..n-1, as the balancer wants them
	balancer kafkago.Hash
	maxChunk int // ProducerOptions.MaxInFlight: messages in flight per Send; 0 = no limit

	life   context.Context // cancelled by Close
	cancel context.CancelFunc

	queue     chan unsafeBatch // Unsafe profile only
	queueDone chan struct{}    // sendQueued exited
}

// NewProducer opens a producer on the provisioned topic dest.Name. It fails
// promptly if the topic does not exist (it never auto-creates it) and waits,
// bounded by Config.OpTimeout, until the topic's leaders are known.
func (d *Driver) NewProducer(ctx context.Context, dest driver.Destination, opts driver.ProducerOptions) (driver.Producer, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	if _, err := checkDest(dest); err != nil {
		return nil, err
	}
	if opts.MaxInFlight < 0 {
		return nil, fmt.Errorf("kafka: negative MaxInFlight %d", opts.MaxInFlight)
	}
	n, err := d.partitions(ctx, dest.Name)
	if err != nil {
		return nil, err
	}
	if err := d.waitRoutable(ctx, dest.Name, n); err != nil {
		return nil, err
	}
	p := &producer{
		d:        d,
		topic:    dest.Name,
		parts:    make([]int, n),
		maxChunk: opts.MaxInFlight,
	}
	p.life, p.cancel = context.WithCancel(context.Background())
	if d.cfg.EffectiveProfile() == driver.Unsafe {
		p.queue = make(chan unsafeBatch, unsafeQueue)
		p.queueDone = make(chan struct{})
		go p.sendQueued()
	}
	for i := range p.parts {
		p.parts[i] = i
	}
	if err := d.track(p); err != nil {
		return nil, err
	}
	return p, nil
}

// chunk is the messages of one produce request: their indexes in the Send
// batch and copies of their keys and bodies. The kafka-go records are built
// anew for each attempt: a kafkago.Bytes is a reader, consumed by encoding,
// so a retry with the same records would send empty messages.
type chunk struct {
	part   int
	idx    []int
	keys   [][]byte
	values [][]byte
	bytes  int
}

// Send sends msgs and returns when the broker acknowledged each at the
// profile's acks level, ctx is done, or Config.OpTimeout has passed.
// Messages are grouped by partition; each partition's messages go out in
// order, one request (of at most 900 KiB) at a time per partition,
// partitions in parallel, so that at most MaxInFlight messages are in
// flight when it is set (see split). After a request
// of a partition fails, the later messages of that partition are not sent (so
// per-key order holds among the confirmed messages). Failures are reported
// per message in a *driver.SendError. Key and Body are copied: the caller may
// reuse them after Send returns, even on a timeout.
//
// In the Unsafe profile Send only queues the messages (blocking, at most
// Config.OpTimeout, while unsafeQueue batches wait) for the producer's
// background sender, which
// sends them with acks=1 and logs failures: nothing tells the caller whether
// they were stored, and Close drops what is still queued.
func (p *producer) Send(ctx context.Context, msgs []driver.Message) error {
	if p.life.Err() != nil {
		return driver.ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	byPart := p.split(msgs)
	if p.queue != nil {
		t := time.NewTimer(p.d.cfg.Timeout())
		defer t.Stop()
		select {
		case p.queue <- unsafeBatch{byPart: byPart, n: len(msgs)}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-p.life.Done():
			return driver.ErrClosed
		case <-t.C:
			return fmt.Errorf("kafka: unsafe send queue still full after %v: %w", p.d.cfg.Timeout(), context.DeadlineExceeded)
		}
	}
	ctx, cancel := p.d.opCtx(ctx)
	defer cancel()
	ctx, cancelC := context.WithCancelCause(ctx)
	defer cancelC(nil)
	stop := context.AfterFunc(p.life, func() { cancelC(driver.ErrClosed) })
	defer stop()
	errs := make([]error, len(msgs))
	p.deliver(ctx, byPart, errs)
	for _, err := range errs {
		if err != nil {
			return &driver.SendError{Errs: errs}
		}
	}
	return nil
}

// deliver sends every partition's chunks, partitions in parallel, filling
// errs.
func (p *producer) deliver(ctx context.Context, byPart map[int][]*chunk, errs []error) {
	if len(byPart) == 1 {
		for _, chunks := range byPart {
			p.sendPartition(ctx, chunks, errs)
		}
		return
	}
	var wg sync.WaitGroup
	for _, chunks := range byPart {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.sendPartition(ctx, chunks, errs)
		}()
	}
	wg.Wait()
}

// unsafeQueue is how many Send batches an Unsafe producer queues.
const unsafeQueue = 64

// unsafeBatch is one queued Send of the Unsafe profile.
type unsafeBatch struct {
	byPart map[int][]*chunk
	n      int
}

// sendQueued is the Unsafe profile's background sender. It runs until
// Close, sending each queued batch like a Durable Send would, each bounded
// by Config.OpTimeout.
func (p *producer) sendQueued() {
	defer close(p.queueDone)
	for {
		select {
		case <-p.life.Done():
			return
		case b := <-p.queue:
			ctx, cancel := p.d.opCtx(p.life)
			errs := make([]error, b.n)
			p.deliver(ctx, b.byPart, errs)
			cancel()
			failed, first := 0, error(nil)
			for _, err := range errs {
				if err != nil {
					if first == nil {
						first = err
					}
					failed++
				}
			}
			if failed > 0 && p.life.Err() == nil {
				p.d.log.Warn("kafka unsafe send failed (the caller was not told)", "topic", p.topic, "messages", failed, "err", first)
			}
		}
	}
}

// split groups msgs by partition into requests, copying keys and bodies.
// With MaxInFlight set, a request carries at most MaxInFlight divided by the
// number of partitions the batch touches (at least 1), since the partitions
// are sent in parallel, one request each at a time.
func (p *producer) split(msgs []driver.Message) map[int][]*chunk {
	parts := make([]int, len(msgs))
	touched := make(map[int]bool)
	for i, m := range msgs {
		parts[i] = p.partition(m.Key)
		touched[parts[i]] = true
	}
	limit := 0
	if p.maxChunk > 0 {
		limit = max(1, p.maxChunk/len(touched))
	}
	byPart := make(map[int][]*chunk, len(touched))
	for i, m := range msgs {
		part := parts[i]
		chunks := byPart[part]
		size := len(m.Key) + len(m.Body) + 64
		var c *chunk
		if k := len(chunks); k > 0 {
			c = chunks[k-1]
			if (limit > 0 && len(c.idx) >= limit) || c.bytes+size > maxRequestBytes {
				c = nil
			}
		}
		if c == nil {
			c = &chunk{part: part}
			byPart[part] = append(chunks, c)
		}
		c.idx = append(c.idx, i)
		c.bytes += size
		var key []byte
		if m.Key != nil {
			key = append([]byte(nil), m.Key...)
		}
		c.keys = append(c.keys, key)
		c.values = append(c.values, append([]byte(nil), m.Body...))
	}
	return byPart
}

// records builds fresh kafka-go records for one attempt at sending c.
func (c *chunk) records() []kafkago.Record {
	out := make([]kafkago.Record, len(c.values))
	for i, v := range c.values {
		out[i].Value = kafkago.NewBytes(v)
		if c.keys[i] != nil {
			out[i].Key = kafkago.NewBytes(c.keys[i])
		}
	}
	return out
}

// partition picks the partition of key with kafka-go's Hash balancer (FNV-1a,
// as Sarama's hash partitioner); nil keys go round robin.
func (p *producer) partition(key []byte) int {
	if len(p.parts) == 1 {
		return 0
	}
	return p.balancer.Balance(kafkago.Message{Key: key}, p.parts...)
}

// sendPartition sends one partition's chunks in order, stopping at the first
// that fails; it fills errs for every message it could not confirm.
func (p *producer) sendPartition(ctx context.Context, chunks []*chunk, errs []error) {
	for i, c := range chunks {
		err := p.sendChunk(ctx, c)
		if err == nil {
			continue
		}
		for _, j := range c.idx {
			if errs[j] == nil {
				errs[j] = err
			}
		}
		skipped := fmt.Errorf("kafka: not sent after an earlier failure on the same partition: %w", err)
		for _, later := range chunks[i+1:] {
			for _, j := range later.idx {
				errs[j] = skipped
			}
		}
		return
	}
}

// sendChunk produces one request, retrying retriable failures until ctx is
// done. A per-record error is reported for its message, the request's error
// for the others.
func (p *producer) sendChunk(ctx context.Context, c *chunk) error {
	part := c.part
	backoff := 20 * time.Millisecond
	for {
		res, err := p.d.client.Produce(ctx, &kafkago.ProduceRequest{
			Topic:        p.topic,
			Partition:    part,
			RequiredAcks: p.d.acks,
			Records:      kafkago.NewRecordReader(c.records()...),
		})
		if err == nil && res != nil && res.Error != nil {
			err = res.Error
			if len(res.RecordErrors) > 0 {
				err = fmt.Errorf("%w (record errors: %v)", err, res.RecordErrors)
			}
		}
		if err == nil {
			return nil
		}
		if cause := context.Cause(ctx); cause != nil {
			return fmt.Errorf("kafka: produce to %s[%d]: %w (last: %v)", p.topic, part, cause, err)
		}
		if !retriable(err) {
			return fmt.Errorf("kafka: produce to %s[%d]: %w", p.topic, part, err)
		}
		p.d.log.Debug("kafka produce retry", "topic", p.topic, "partition", part, "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("kafka: produce to %s[%d]: %w (last: %v)", p.topic, part, context.Cause(ctx), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// Close marks the producer closed and unblocks a pending Send, which then
// returns driver.ErrClosed for its unconfirmed messages; an Unsafe
// producer's queued messages are dropped. It is idempotent.
func (p *producer) Close() error {
	p.cancel()
	if p.queueDone != nil {
		<-p.queueDone
	}
	p.d.untrack(p)
	return nil
}
