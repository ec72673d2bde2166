package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// The settings of mqbench's Kafka adapter (durable profile): a topic of
// --queues partitions, replication factor 1, created with flush.messages=1;
// every round one Produce request (kafka-go's Client.Produce) with
// acks=all to one partition, partitions taken in turn; consumers in one
// group, reading with MinBytes 1 and MaxWait 1.5 s (the broker answers a
// fetch as soon as a record is there), each receipt's offset committed by a
// background loop that commits the newest one as soon as the last commit
// returned, as the adapter's Ack does.

const (
	kafkaFetchMaxWait  = 1500 * time.Millisecond
	kafkaFetchMaxBytes = 4 << 20
)

// kafkaTopic is one Kafka topic.
type kafkaTopic struct {
	c      config
	client *kafkago.Client
	topic  string
	// With c.FetchAfterAck: acked counts the confirmed messages and
	// ackWake (cap 1) tells the poller a send was confirmed.
	acked   atomic.Int64
	ackWake chan struct{}
}

func openKafka(ctx context.Context, c config, name string) (session, error) {
	k := &kafkaTopic{c: c, topic: name, ackWake: make(chan struct{}, 1), client: &kafkago.Client{
		Addr:      kafkago.TCP(c.Addr),
		Timeout:   c.OpTimeout,
		Transport: &kafkago.Transport{DialTimeout: c.OpTimeout, ClientID: "plainloop"},
	}}
	ctx, cancel := context.WithTimeout(ctx, c.OpTimeout)
	defer cancel()
	res, err := k.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: name, NumPartitions: c.Queues, ReplicationFactor: 1,
		ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "flush.messages", ConfigValue: "1"}},
	}}})
	if err != nil {
		return nil, fmt.Errorf("create topic: %w", err)
	}
	if err := res.Errors[name]; err != nil {
		return nil, fmt.Errorf("create topic: %w", err)
	}
	return k, nil
}

func (k *kafkaTopic) cleanup(ctx context.Context) error {
	res, err := k.client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{k.topic}})
	if err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	return res.Errors[k.topic]
}

type kafkaSender struct {
	k    *kafkaTopic
	next atomic.Int64
}

func (k *kafkaTopic) newProducer(context.Context) (sender, error) { return &kafkaSender{k: k}, nil }

// send produces every body in one request with acks=all to the next
// partition in turn, and returns once the broker acknowledged it.
func (s *kafkaSender) send(ctx context.Context, bodies [][]byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.k.c.OpTimeout)
	defer cancel()
	recs := make([]kafkago.Record, len(bodies))
	for i, b := range bodies {
		recs[i] = kafkago.Record{Value: kafkago.NewBytes(b)}
	}
	part := int(s.next.Add(1)-1) % s.k.c.Queues
	backoff := 20 * time.Millisecond
	for {
		res, err := s.k.client.Produce(ctx, &kafkago.ProduceRequest{
			Topic: s.k.topic, Partition: part, RequiredAcks: kafkago.RequireAll,
			Records: kafkago.NewRecordReader(recs...),
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err == nil {
			s.k.acked.Add(int64(len(bodies)))
			select {
			case s.k.ackWake <- struct{}{}:
			default:
			}
			return nil
		}
		// A new topic's leader may not be known yet (Not Leader For
		// Partition): retry temporary errors until the op timeout, as the
		// adapter does.
		var kerr kafkago.Error
		if !errors.As(err, &kerr) || !kerr.Temporary() {
			return fmt.Errorf("produce: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("produce: %w (last: %w)", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

func (s *kafkaSender) close() {}

type kafkaConsumer struct {
	r       *kafkago.Reader
	stop    context.CancelFunc
	done    chan struct{}
	timeout time.Duration
	wake    chan struct{} // cap 1: a receipt to commit
	mu      sync.Mutex
	pending *kafkago.Message // newest receipt not yet committed
}

// newConsumer joins the topic's group from the oldest record (the topic is
// new, so nothing sent before the join is missed) and commits what it
// received (commitLoop). An idle consumer (onMsg nil) joins and never
// reads: its reader fetches up to its queue and stops.
func (k *kafkaTopic) newConsumer(ctx context.Context, onMsg func([]byte)) (closer, error) {
	if k.c.FetchAfterAck && onMsg != nil {
		return k.newPoller(ctx, onMsg)
	}
	rc := kafkago.ReaderConfig{
		Brokers:         []string{k.c.Addr},
		GroupID:         k.topic + "-g0",
		Topic:           k.topic,
		Dialer:          &kafkago.Dialer{Timeout: k.c.OpTimeout, ClientID: "plainloop"},
		QueueCapacity:   k.c.Prefetch,
		MinBytes:        1,
		MaxBytes:        kafkaFetchMaxBytes,
		MaxWait:         kafkaFetchMaxWait,
		ReadLagInterval: -1,
		CommitInterval:  0, // CommitMessages waits for the broker (commitLoop)
		StartOffset:     kafkago.FirstOffset,
	}
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("reader config: %w", err)
	}
	life, stop := context.WithCancel(context.Background())
	kc := &kafkaConsumer{r: kafkago.NewReader(rc), stop: stop, done: make(chan struct{}), timeout: k.c.OpTimeout, wake: make(chan struct{}, 1)}
	if onMsg == nil {
		go func() { defer close(kc.done); <-life.Done() }()
		return kc, nil
	}
	commitDone := make(chan struct{})
	go kc.commitLoop(life, commitDone)
	go func() {
		defer close(kc.done)
		defer func() { <-commitDone }()
		for {
			m, err := kc.r.FetchMessage(life) // retries broker errors itself
			if err != nil {
				return // stopped, or the reader closed
			}
			onMsg(m.Value)
			kc.mu.Lock()
			kc.pending = &m
			kc.mu.Unlock()
			select {
			case kc.wake <- struct{}{}:
			default:
			}
		}
	}()
	return kc, nil
}

// commitLoop commits the newest received offset each time it is woken,
// one commit at a time, until life ends.
func (kc *kafkaConsumer) commitLoop(life context.Context, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-life.Done():
			return
		case <-kc.wake:
		}
		kc.mu.Lock()
		m := kc.pending
		kc.pending = nil
		kc.mu.Unlock()
		if m != nil {
			ctx, cancel := context.WithTimeout(life, kc.timeout)
			_ = kc.r.CommitMessages(ctx, *m) // a failed commit is retried by the next receipt's
			cancel()
		}
	}
}

func (kc *kafkaConsumer) close() {
	kc.stop()
	<-kc.done
	_ = kc.r.Close()
}

// kafkaPoller is EndToEndLatency's consumer: it fetches only once a send
// was acknowledged, each fetch with a zero wait (the tool's
// fetch.max.wait.ms=0), until it has read every acknowledged message. One
// partition, no group, no commit (the tool commits once, at its end).
type kafkaPoller struct {
	conn *kafkago.Conn
	stop context.CancelFunc
	done chan struct{}
}

func (k *kafkaTopic) newPoller(ctx context.Context, onMsg func([]byte)) (closer, error) {
	dctx, cancel := context.WithTimeout(ctx, k.c.OpTimeout)
	defer cancel()
	d := &kafkago.Dialer{Timeout: k.c.OpTimeout, ClientID: "plainloop"}
	conn, err := d.DialLeader(dctx, "tcp", k.c.Addr, k.topic, 0)
	if err != nil {
		return nil, fmt.Errorf("dial partition leader: %w", err)
	}
	if _, err := conn.Seek(0, kafkago.SeekStart); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("seek: %w", err)
	}
	life, stop := context.WithCancel(context.Background())
	p := &kafkaPoller{conn: conn, stop: stop, done: make(chan struct{})}
	go p.loop(life, k, onMsg)
	return p, nil
}

// loop waits for an acknowledgement, then fetches until every
// acknowledged message was read, until life ends or a fetch fails.
func (p *kafkaPoller) loop(life context.Context, k *kafkaTopic, onMsg func([]byte)) {
	defer close(p.done)
	var read int64
	cfg := kafkago.ReadBatchConfig{MinBytes: 1, MaxBytes: kafkaFetchMaxBytes, MaxWait: time.Nanosecond} // sent as 0 ms
	for {
		select {
		case <-life.Done():
			return
		case <-k.ackWake:
		}
		for read < k.acked.Load() {
			if err := p.conn.SetReadDeadline(time.Now().Add(k.c.OpTimeout)); err != nil {
				return
			}
			b := p.conn.ReadBatchWith(cfg)
			for {
				m, err := b.ReadMessage()
				if err != nil {
					break
				}
				read++
				onMsg(m.Value)
			}
			if err := b.Close(); err != nil || life.Err() != nil {
				return
			}
		}
	}
}

func (p *kafkaPoller) close() {
	p.stop()
	_ = p.conn.Close()
	<-p.done
}
