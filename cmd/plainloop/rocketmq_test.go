package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TestRocketKeyHeaders sends through two keyed plainloop producers to the
// real broker (MQBENCH_ROCKETMQ_ADDR, default 127.0.0.1:9876) and reads the
// messages back: each carries its producer's key in the mqbk property, as
// the adapter sends it, and all of a producer's messages sit on one queue,
// the queue its key hashes to (FNV-1a modulo the queues: keys 0 and 1 land
// on different queues of two).
func TestRocketKeyHeaders(t *testing.T) {
	addr := liveBroker(t, "rocketmq", "MQBENCH_ROCKETMQ_ADDR")
	c, err := parse([]string{"--broker", "rocketmq", "--addr", addr, "--queues", "2", "--key-headers", "--op-timeout", "15s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("plainloop_keys_%d", time.Now().UnixNano())
	s, err := open(ctx, c, name)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.cleanup(context.Background())
	const perProducer = 5
	for p := range 2 {
		snd, err := s.newProducer(ctx)
		if err != nil {
			t.Fatalf("producer %d: %v", p, err)
		}
		bodies := make([][]byte, perProducer)
		for i := range bodies {
			bodies[i] = fmt.Appendf(nil, "p%d-m%d", p, i)
		}
		err = snd.send(ctx, bodies)
		snd.close()
		if err != nil {
			t.Fatalf("producer %d send: %v", p, err)
		}
	}

	var mu sync.Mutex
	queues := map[string]map[int]int{} // key → queue → messages
	got := 0
	done := make(chan struct{})
	pc, err := rmq.NewPushConsumer(consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{addr})),
		consumer.WithGroupName(name+"_check"), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	err = pc.Subscribe(name, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, ms ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range ms {
				k := m.GetProperty("mqbk")
				if queues[k] == nil {
					queues[k] = map[int]int{}
				}
				queues[k][m.Queue.QueueId]++
				if got++; got == 2*perProducer {
					close(done)
				}
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("received %d of %d messages", got, 2*perProducer)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]map[int]int{
		hex.EncodeToString([]byte{0, 0, 0, 0}): {1: perProducer}, // FNV-1a 1268118805, odd
		hex.EncodeToString([]byte{0, 0, 0, 1}): {0: perProducer}, // FNV-1a 1251341186, even
	}
	if fmt.Sprint(queues) != fmt.Sprint(want) {
		t.Errorf("key → queue → messages %v, want %v", queues, want)
	}
}
