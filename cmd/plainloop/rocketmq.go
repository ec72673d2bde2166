package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"sync/atomic"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// The settings of mqbench's RocketMQ adapter (durable profile, broker with
// SYNC_FLUSH): a topic of --queues queues created on the broker; producers
// send each round as one batch with SendSync, one attempt (no retry), no
// compression, and count a message confirmed only on SEND_OK; consumers
// (clustering, one group, from the first offset) pull at most 32 messages
// per request. With --key-headers every message carries its producer's key
// as the adapter sends it: the mqbk property (the key hex-encoded) and the
// queue the key hashes to (FNV-1a modulo the queues), so each producer
// writes one queue in order.

// rocket is one RocketMQ topic.
type rocket struct {
	c     config
	ns    primitive.NsResolver
	topic string
	group string
	adm   admin.Admin
	n     int // instances opened, for unique instance names
	mu    sync.Mutex

	producers atomic.Uint32 // producers keyed, numbering their keys
}

func openRocket(ctx context.Context, c config, name string) (session, error) {
	rlog.SetLogLevel("error")
	r := &rocket{c: c, ns: primitive.NewPassthroughResolver([]string{c.Addr}), topic: name, group: name + "_g0"}
	adm, err := admin.NewAdmin(admin.WithResolver(r.ns))
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	r.adm = adm
	cctx, cancel := context.WithTimeout(ctx, c.OpTimeout)
	defer cancel()
	err = adm.CreateTopic(cctx, admin.WithTopicCreate(name), admin.WithBrokerAddrCreate(c.RocketMQ),
		admin.WithReadQueueNums(c.Queues), admin.WithWriteQueueNums(c.Queues))
	if err != nil {
		adm.Close()
		return nil, fmt.Errorf("create topic %s on %s: %w", name, c.RocketMQ, err)
	}
	// Wait (bounded) until the name server routes the topic.
	wctx, wcancel := context.WithTimeout(ctx, max(c.OpTimeout, 30*time.Second))
	defer wcancel()
	for {
		qs, err := adm.FetchPublishMessageQueues(wctx, name)
		if err == nil && len(qs) >= c.Queues {
			return r, nil
		}
		select {
		case <-wctx.Done():
			adm.Close()
			return nil, fmt.Errorf("topic %s not routed by the name server: %w", name, wctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (r *rocket) instance(kind string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	return fmt.Sprintf("%s-%s%d", r.topic, kind, r.n)
}

func (r *rocket) cleanup(ctx context.Context) error {
	defer r.adm.Close()
	return r.adm.DeleteTopic(ctx, admin.WithTopicDelete(r.topic), admin.WithBrokerAddrDelete(r.c.RocketMQ),
		admin.WithNameSrvAddr([]string{r.c.Addr}))
}

type rocketSender struct {
	r    *rocket
	p    rmq.Producer
	msgs []*primitive.Message
	// keyHex and queue are the producer's key property and its queue
	// hint (keyed only).
	keyHex string
	queue  *primitive.MessageQueue
}

// keyQueue sends a message to the queue its hint names (Queue.QueueId
// modulo the queues), as the adapter's selector does.
type keyQueue struct{}

func (keyQueue) Select(m *primitive.Message, mqs []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	if len(mqs) == 0 || m.Queue == nil {
		return nil
	}
	return mqs[m.Queue.QueueId%len(mqs)]
}

func (r *rocket) newProducer(ctx context.Context) (sender, error) {
	s := &rocketSender{r: r}
	opts := []producer.Option{
		producer.WithNsResolver(r.ns),
		producer.WithGroupName(r.topic + "_p"),
		producer.WithInstanceName(r.instance("p")),
		producer.WithSendMsgTimeout(r.c.OpTimeout),
		producer.WithRetry(0),
		producer.WithCompressMsgBodyOverHowmuch(math.MaxInt32)}
	if r.c.KeyHeaders {
		key := binary.BigEndian.AppendUint32(nil, r.producers.Add(1)-1)
		h := fnv.New32a()
		h.Write(key)
		s.keyHex = hex.EncodeToString(key)
		s.queue = &primitive.MessageQueue{Topic: r.topic, QueueId: int(h.Sum32() & math.MaxInt32)}
		opts = append(opts, producer.WithQueueSelector(keyQueue{}))
	}
	p, err := rmq.NewProducer(opts...)
	if err != nil {
		return nil, fmt.Errorf("new producer: %w", err)
	}
	if err := bounded(ctx, r.c.OpTimeout, "producer start", p.Start); err != nil {
		return nil, err
	}
	s.p = p
	return s, nil
}

// send sends the bodies as one batch and waits for SEND_OK.
func (s *rocketSender) send(ctx context.Context, bodies [][]byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.r.c.OpTimeout)
	defer cancel()
	s.msgs = s.msgs[:0]
	for _, b := range bodies {
		m := primitive.NewMessage(s.r.topic, b)
		if s.queue != nil {
			m.WithProperty("mqbk", s.keyHex)
			m.Queue = s.queue
		}
		s.msgs = append(s.msgs, m)
	}
	res, err := s.p.SendSync(ctx, s.msgs...)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if res == nil || res.Status != primitive.SendOK {
		return errors.New("send: not SEND_OK")
	}
	return nil
}

func (s *rocketSender) close() { _ = s.p.Shutdown() }

type rocketConsumer struct {
	pc   rmq.PushConsumer
	hold chan struct{} // closed by close: releases an idle consumer's callback
}

func (r *rocket) newConsumer(ctx context.Context, onMsg func([]byte)) (closer, error) {
	pc, err := rmq.NewPushConsumer(
		consumer.WithNsResolver(r.ns),
		consumer.WithGroupName(r.group),
		consumer.WithInstance(r.instance("c")),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithPullBatchSize(int32(min(r.c.Prefetch, 32))),
		consumer.WithConsumeMessageBatchMaxSize(min(r.c.Prefetch, 32)))
	if err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	hold := make(chan struct{}) // idle (onMsg nil): the callback waits here until close
	if onMsg == nil {
		onMsg = func([]byte) { <-hold }
	}
	err = pc.Subscribe(r.topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, ms ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, m := range ms {
				onMsg(m.Body)
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	if err := bounded(ctx, r.c.OpTimeout, "consumer start", pc.Start); err != nil {
		return nil, err
	}
	return &rocketConsumer{pc: pc, hold: hold}, nil
}

func (rc *rocketConsumer) close() {
	close(rc.hold)
	_ = rc.pc.Shutdown()
}
