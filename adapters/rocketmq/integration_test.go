package rocketmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
)

// Focused integration tests against a real RocketMQ. They skip when no name
// server answers on MQBENCH_ROCKETMQ_ADDR (default 127.0.0.1:9876), unless
// MQBENCH_REQUIRE_BROKERS=1.

func brokerAddr() string {
	if a := os.Getenv("MQBENCH_ROCKETMQ_ADDR"); a != "" {
		return a
	}
	return DefaultAddr
}

func needBroker(t *testing.T) string {
	t.Helper()
	addr := brokerAddr()
	drivertest.RequireBroker(t, "rocketmq", addr)
	return addr
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("MQBENCH_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func openTest(t *testing.T, profile driver.Profile) *Driver {
	t.Helper()
	addr := needBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := open(ctx, driver.Config{Addr: addr, Profile: profile, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func uniqueDest(t *testing.T, partitions int, groups ...string) driver.Destination {
	suffix := fmt.Sprintf("%x", rand.Uint64()&0xffffffff)
	for i := range groups {
		groups[i] = groups[i] + "-" + suffix
	}
	return driver.Destination{Name: "mqbt-" + suffix, Groups: groups, Partitions: partitions}
}

func provision(t *testing.T, d *Driver, dest driver.Destination) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cleanup, err := d.Provision(ctx, dest)
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cleanup(ctx); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
}

// newConsumer opens a consumer of group on dest, closed when the test ends.
func newConsumer(t *testing.T, ctx context.Context, d *Driver, dest driver.Destination, group string) driver.Consumer {
	t.Helper()
	c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: group})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newProducer opens a producer on dest, closed when the test ends.
func newProducer(t *testing.T, ctx context.Context, d *Driver, dest driver.Destination) driver.Producer {
	t.Helper()
	p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func msgsFor(key string, from, n int) []driver.Message {
	out := make([]driver.Message, n)
	for i := range out {
		out[i] = driver.Message{Key: []byte(key), Body: fmt.Appendf(nil, "%s:%06d", key, from+i)}
	}
	return out
}

// receiveN receives until n deliveries arrived, acking each, or fails.
func receiveN(t *testing.T, c driver.Consumer, n int, timeout time.Duration) []*driver.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var got []*driver.Delivery
	for len(got) < n {
		ds, err := c.Receive(ctx, 64)
		if err != nil {
			t.Fatalf("receive after %d of %d: %v", len(got), n, err)
		}
		if err := c.Ack(ctx, ds); err != nil {
			t.Fatalf("ack: %v", err)
		}
		got = append(got, ds...)
	}
	return got
}

func TestIntegrationInfo(t *testing.T) {
	d := openTest(t, driver.Durable)
	info := d.Info()
	if info.BrokerVersion == "" {
		t.Errorf("broker version empty")
	}
	t.Logf("info: %+v", info)
}

func TestIntegrationRoundTrip(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := uniqueDest(t, 4, "g")
	provision(t, d, dest)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := newProducer(t, ctx, d, dest)
	c := newConsumer(t, ctx, d, dest, dest.Groups[0])

	in := msgsFor("k1", 0, 10)
	if err := p.Send(ctx, in[:1]); err != nil {
		t.Fatalf("send one: %v", err)
	}
	if err := p.Send(ctx, in[1:]); err != nil {
		t.Fatalf("send batch: %v", err)
	}
	got := receiveN(t, c, len(in), 30*time.Second)
	for i, dl := range got {
		if !bytes.Equal(dl.Body, in[i].Body) || !bytes.Equal(dl.Key, in[i].Key) {
			t.Errorf("delivery %d = %q/%q, want %q/%q", i, dl.Key, dl.Body, in[i].Key, in[i].Body)
		}
	}
}

// A group that subscribes only after messages were sent still gets all of
// them: Provision committed its start position.
func TestIntegrationLateGroupsFanOut(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := uniqueDest(t, 2, "a", "b")
	provision(t, d, dest)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p := newProducer(t, ctx, d, dest)
	in := append(msgsFor("x", 0, 50), msgsFor("y", 0, 50)...)
	if err := p.Send(ctx, in); err != nil {
		t.Fatal(err)
	}
	// The broker indexes a stored message for consumers asynchronously, so
	// Depth may lag a confirmed Send briefly.
	eventuallyDepth(t, d, dest, dest.Groups[0], int64(len(in)))
	for _, g := range dest.Groups {
		c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: g})
		if err != nil {
			t.Fatal(err)
		}
		got := receiveN(t, c, len(in), 30*time.Second)
		seen := map[string]bool{}
		for _, dl := range got {
			seen[string(dl.Body)] = true
		}
		if len(seen) != len(in) {
			t.Errorf("group %s: %d distinct of %d", g, len(seen), len(in))
		}
		c.Close()
	}
	eventuallyDepth(t, d, dest, dest.Groups[0], 0)
}

func eventuallyDepth(t *testing.T, d *Driver, dest driver.Destination, group string, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, err := d.Depth(ctx, dest, group)
		cancel()
		if err != nil {
			t.Fatalf("depth: %v", err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("depth = %d, want %d", n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Per-key order across several queues, and competing consumers share.
func TestIntegrationOrderAndCompeting(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := uniqueDest(t, 4, "g")
	provision(t, d, dest)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var cs []driver.Consumer
	for range 2 {
		c := newConsumer(t, ctx, d, dest, dest.Groups[0])
		cs = append(cs, c)
	}
	p := newProducer(t, ctx, d, dest)
	const keys, per = 8, 100
	for i := 0; i < per; i += 10 {
		for k := range keys {
			if err := p.Send(ctx, msgsFor(fmt.Sprintf("key%d", k), i, 10)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	count := map[string]int{}
	perConsumer := make([]int, len(cs))
	last := map[string]string{}
	var wg sync.WaitGroup
	rctx, rcancel := context.WithTimeout(ctx, 40*time.Second)
	defer rcancel()
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := c.Receive(rctx, 32)
				if err != nil {
					return
				}
				mu.Lock()
				for _, dl := range ds {
					k := string(dl.Key)
					if last[k] >= string(dl.Body) {
						t.Errorf("key %s: %s after %s", k, dl.Body, last[k])
					}
					last[k] = string(dl.Body)
					count[string(dl.Body)]++
					perConsumer[i]++
				}
				done := len(count) == keys*per
				mu.Unlock()
				c.Ack(rctx, ds)
				if done {
					rcancel()
				}
			}
		}()
	}
	wg.Wait()
	if len(count) != keys*per {
		t.Fatalf("received %d distinct of %d", len(count), keys*per)
	}
	for b, n := range count {
		if n != 1 {
			t.Errorf("%s received %d times", b, n)
		}
	}
	if perConsumer[0] == 0 || perConsumer[1] == 0 {
		t.Errorf("competing consumers did not share: %v", perConsumer)
	}
}

func TestIntegrationNack(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := uniqueDest(t, 1, "g")
	provision(t, d, dest)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := newConsumer(t, ctx, d, dest, dest.Groups[0])
	p := newProducer(t, ctx, d, dest)
	if err := p.Send(ctx, msgsFor("n", 0, 2)); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	var first []*driver.Delivery
	for len(first) < 2 {
		ds, err := c.Receive(rctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, ds...)
	}
	if err := c.Ack(rctx, first[:1]); err != nil {
		t.Fatal(err)
	}
	if err := c.Nack(rctx, first[1:]); err != nil {
		t.Fatal(err)
	}
	ds, err := c.Receive(rctx, 1)
	if err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if !bytes.Equal(ds[0].Body, first[1].Body) || !ds[0].Redelivered || !bytes.Equal(ds[0].Key, first[1].Key) {
		t.Errorf("redelivered %q (flag %v), want %q", ds[0].Body, ds[0].Redelivered, first[1].Body)
	}
	c.Ack(rctx, ds)
	if s := c.(*Consumer).Stats(); s.Retried != 1 || s.DeadLettered != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestIntegrationTransactions(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := uniqueDest(t, 2, "g")
	provision(t, d, dest)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var checked sync.Map
	check := func(_ context.Context, m driver.Message) driver.TxState {
		checked.Store(string(m.Body), true)
		if bytes.HasPrefix(m.Body, []byte("check-commit")) {
			return driver.TxCommit
		}
		return driver.TxRollback
	}
	tp, err := d.NewTxProducer(ctx, dest, check)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	c := newConsumer(t, ctx, d, dest, dest.Groups[0])
	cases := []struct {
		body  string
		local driver.TxState
	}{
		{"commit", driver.TxCommit},
		{"rollback", driver.TxRollback},
		{"check-commit", driver.TxUnknown},
		{"check-rollback", driver.TxUnknown},
	}
	for _, tc := range cases {
		ran := false
		st, err := tp.SendTx(ctx, driver.Message{Key: []byte("tx"), Body: []byte(tc.body)}, func(context.Context) driver.TxState {
			ran = true
			return tc.local
		})
		if err != nil || st != tc.local || !ran {
			t.Fatalf("SendTx(%s) = %v, %v (local ran %v)", tc.body, st, err, ran)
		}
	}
	// Commit arrives now; check-commit after the broker's check-back
	// (transactionTimeOut + up to transactionCheckInterval).
	got := receiveN(t, c, 2, 120*time.Second)
	bodies := map[string]bool{}
	for _, dl := range got {
		bodies[string(dl.Body)] = true
	}
	if !bodies["commit"] || !bodies["check-commit"] {
		t.Fatalf("received %v, want commit and check-commit", bodies)
	}
	if _, ok := checked.Load("check-commit"); !ok {
		t.Errorf("check-commit delivered without a check-back")
	}
	// Nothing else arrives (rollback and check-rollback were discarded).
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	if ds, err := c.Receive(rctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unexpected delivery after rollbacks: %v, %v", ds, err)
	}
}

func TestIntegrationReceiveBounded(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := uniqueDest(t, 1, "g")
	provision(t, d, dest)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: dest.Groups[0]})
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer rcancel()
	if _, err := c.Receive(rctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Receive on empty topic = %v, want deadline exceeded", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Receive(context.Background(), 1)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, driver.ErrClosed) {
			t.Errorf("Receive after Close = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
}

// A message nacked more than maxReconsume times goes to the %DLQ% topic,
// where it is counted by the consumer and by the broker, not lost.
func TestIntegrationDeadLetter(t *testing.T) {
	d := openTest(t, driver.Durable)
	d.maxReconsume = 1
	dest := uniqueDest(t, 1, "g")
	provision(t, d, dest)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := newConsumer(t, ctx, d, dest, dest.Groups[0])
	p := newProducer(t, ctx, d, dest)
	if err := p.Send(ctx, msgsFor("dlq", 0, 1)); err != nil {
		t.Fatal(err)
	}
	// Delivery 1 (ReconsumeTimes 0) and 2 (1) are nacked; the second
	// nack moves it to the DLQ.
	for i := range 2 {
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
		ds, err := c.Receive(rctx, 1)
		rcancel()
		if err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
		if err := c.Nack(ctx, ds); err != nil {
			t.Fatalf("nack %d: %v", i+1, err)
		}
	}
	if s := c.(*Consumer).Stats(); s.Retried != 1 || s.DeadLettered != 1 {
		t.Errorf("stats = %+v, want 1 retried and 1 dead-lettered", s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := d.DeadLetters(ctx, dest, dest.Groups[0])
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker counts %d dead letters, want 1", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	if ds, err := c.Receive(rctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("dead letter redelivered: %v, %v", ds, err)
	}
}

// An empty body is refused with a clear error (the broker cannot store
// one), an empty key is fine, and bad deliveries are refused; nothing panics.
func TestIntegrationEmptyMessage(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := uniqueDest(t, 1, "g")
	provision(t, d, dest)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newConsumer(t, ctx, d, dest, dest.Groups[0])
	p := newProducer(t, ctx, d, dest)
	err := p.Send(ctx, []driver.Message{{Body: []byte("x")}, {}, {Body: []byte("y")}})
	if !errors.Is(driver.MessageErr(err, 3, 1), errEmptyBody) || !driver.Confirmed(err, 3, 0) || driver.Confirmed(err, 3, 2) {
		t.Errorf("send of x, empty, y: %v", err)
	}
	got := receiveN(t, c, 1, 30*time.Second)
	if string(got[0].Body) != "x" || len(got[0].Key) != 0 {
		t.Errorf("got key %q body %q, want no key and x", got[0].Key, got[0].Body)
	}
	if err := p.Send(ctx, nil); err != nil {
		t.Errorf("Send(nil) = %v", err)
	}
	if err := c.Ack(ctx, []*driver.Delivery{{Token: "foreign"}}); err == nil {
		t.Error("Ack of a foreign delivery succeeded")
	}
	if err := c.Nack(ctx, []*driver.Delivery{nil}); err == nil {
		t.Error("Nack of a nil delivery succeeded")
	}
}

// Two destinations whose groups have the same name do not share a RocketMQ
// group: with a consumer on each running, each receives all its messages.
// (Were the group shared, each consumer would be allotted only half of its
// topic's queues, the other half going to the consumer of the other topic.)
func TestIntegrationSameGroupNameTwoTopics(t *testing.T) {
	d := openTest(t, driver.Durable)
	a := uniqueDest(t, 2, "shared")
	b := a
	b.Name += "-b"
	b.Groups = append([]string(nil), a.Groups...)
	provision(t, d, a)
	provision(t, d, b)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var cs []driver.Consumer
	for _, dest := range []driver.Destination{a, b} {
		c := newConsumer(t, ctx, d, dest, dest.Groups[0])
		cs = append(cs, c)
	}
	for _, dest := range []driver.Destination{a, b} {
		p := newProducer(t, ctx, d, dest)
		for k := range 8 {
			if err := p.Send(ctx, msgsFor(fmt.Sprintf("k%d", k), 0, 5)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, c := range cs {
		got := receiveN(t, c, 40, 30*time.Second)
		if len(got) != 40 {
			t.Errorf("consumer %d: %d messages", i, len(got))
		}
	}
}
