package activemq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// testAddr is the broker under test: $MQBENCH_ACTIVEMQ_ADDR or DefaultAddr.
func testAddr() string {
	if a := os.Getenv("MQBENCH_ACTIVEMQ_ADDR"); a != "" {
		return a
	}
	return DefaultAddr
}

// needBroker skips (or, with MQBENCH_REQUIRE_BROKERS=1, fails) when no
// STOMP broker answers at testAddr.
func needBroker(t *testing.T) string {
	t.Helper()
	addr := testAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := stompclient.Dial(ctx, addr, 3*time.Second, driver.Config{}.Log())
	if err != nil {
		if os.Getenv("MQBENCH_REQUIRE_BROKERS") == "1" {
			t.Fatalf("activemq at %s required but unreachable: %v", addr, err)
		}
		t.Skipf("activemq at %s unreachable: %v", addr, err)
	}
	_ = c.Close()
	return addr
}

func uniqueName(prefix string) string {
	return fmt.Sprintf("mqbtest.%s.%d", prefix, rand.Uint64())
}

func open(t *testing.T, profile driver.Profile) driver.Driver {
	t.Helper()
	addr := needBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := New(ctx, driver.Config{Addr: addr, Profile: profile, OpTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func provision(t *testing.T, d driver.Driver, dest driver.Destination) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cleanup, err := d.Provision(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cleanup(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

func msgs(key string, from, n int) []driver.Message {
	out := make([]driver.Message, n)
	for i := range out {
		out[i] = driver.Message{Key: []byte(key), Body: []byte(key + ":" + strconv.Itoa(from+i))}
	}
	return out
}

// receiveN receives until n deliveries arrived (acking them when ack) or the
// deadline passes.
func receiveN(t *testing.T, c driver.Consumer, n int, ack bool) []*driver.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*driver.Delivery
	for len(out) < n {
		ds, err := c.Receive(ctx, n-len(out))
		if err != nil {
			t.Fatalf("receive after %d of %d: %v", len(out), n, err)
		}
		if ack {
			if err := c.Ack(ctx, ds); err != nil {
				t.Fatalf("ack: %v", err)
			}
		}
		out = append(out, ds...)
	}
	return out
}

// expectNone checks that nothing arrives within a short wait.
func expectNone(t *testing.T, c driver.Consumer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	ds, err := c.Receive(ctx, 10)
	if err == nil {
		t.Fatalf("unexpected deliveries: %d, first %q", len(ds), ds[0].Body)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receive: %v", err)
	}
}

func bodies(ds []*driver.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.Body)
	}
	return out
}

func TestInfo(t *testing.T) {
	d := open(t, driver.Durable)
	info := d.Info()
	if info.Name != Name || info.Protocol != protocol || info.Client != clientModule {
		t.Fatalf("info = %+v", info)
	}
	if info.BrokerVersion == "" || info.ClientVersion == "" {
		t.Fatalf("missing versions: %+v", info)
	}
	t.Logf("broker %s, client %s", info.BrokerVersion, info.ClientVersion)
}

func TestProfilesRoundTrip(t *testing.T) {
	for _, p := range driver.Profiles() {
		t.Run(string(p), func(t *testing.T) {
			d := open(t, p)
			dest := driver.Destination{Name: uniqueName("rt"), Groups: []string{"g"}}
			provision(t, d, dest)
			ctx := context.Background()
			prod, err := d.NewProducer(ctx, dest, driver.ProducerOptions{MaxInFlight: 8})
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			// Sent before any consumer subscribed: Provision made the queue.
			want := msgs("k", 0, 50)
			for _, batch := range [][]driver.Message{want[:1], want[1:20], want[20:]} {
				if err := prod.Send(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			cons, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			got := receiveN(t, cons, len(want), true)
			for i, dl := range got {
				if string(dl.Body) != string(want[i].Body) || string(dl.Key) != "k" || dl.Redelivered {
					t.Fatalf("delivery %d = %q key %q redelivered %v, want %q", i, dl.Body, dl.Key, dl.Redelivered, want[i].Body)
				}
			}
			expectNone(t, cons)
		})
	}
}

func TestFanOutAndCompetingConsumers(t *testing.T) {
	d := open(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName("fan"), Groups: []string{"a", "b.x_y"}}
	provision(t, d, dest)
	ctx := context.Background()
	a1, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "a", Prefetch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer a1.Close()
	a2, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "a", Prefetch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	prod, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	// Distinct keys: message groups spread them over both consumers.
	var sent []string
	for k := range 40 {
		m := msgs("key"+strconv.Itoa(k), 0, 5)
		if err := prod.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		for _, x := range m {
			sent = append(sent, string(x.Body))
		}
	}
	// Group b (escaped name) gets everything.
	b, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "b.x_y"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	gotB := bodies(receiveN(t, b, len(sent), true))
	if !sameSet(gotB, sent) {
		t.Fatalf("group b got %d messages, not the %d sent", len(gotB), len(sent))
	}
	// Group a: both consumers together get everything exactly once.
	var gotA []string
	ctxR, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	perConsumer := [2]int{}
	for len(gotA) < len(sent) {
		for i, c := range []driver.Consumer{a1, a2} {
			rctx, rc := context.WithTimeout(ctxR, 50*time.Millisecond)
			ds, err := c.Receive(rctx, 100)
			rc()
			if err != nil {
				if ctxR.Err() != nil {
					t.Fatalf("group a: %d of %d received", len(gotA), len(sent))
				}
				continue
			}
			if err := c.Ack(ctx, ds); err != nil {
				t.Fatal(err)
			}
			perConsumer[i] += len(ds)
			gotA = append(gotA, bodies(ds)...)
		}
	}
	if !sameSet(gotA, sent) {
		t.Fatalf("group a got %d messages, not the %d sent", len(gotA), len(sent))
	}
	if perConsumer[0] == 0 || perConsumer[1] == 0 {
		t.Fatalf("competing consumers did not share: %v", perConsumer)
	}
	expectNone(t, a1)
	expectNone(t, a2)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestPerKeyOrderWithCompetingConsumers(t *testing.T) {
	d := open(t, driver.Fast)
	dest := driver.Destination{Name: uniqueName("order"), Groups: []string{"g"}}
	provision(t, d, dest)
	ctx := context.Background()
	var cons []driver.Consumer
	for range 3 {
		c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g", Prefetch: 10})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cons = append(cons, c)
	}
	prod, err := d.NewProducer(ctx, dest, driver.ProducerOptions{MaxInFlight: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const keys, per = 6, 100
	for round := range per / 10 {
		for k := range keys {
			if err := prod.Send(ctx, msgs("k"+strconv.Itoa(k), round*10, 10)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Each key must be seen by a single consumer, in order.
	owner := map[string]int{}
	next := map[string]int{}
	total := 0
	deadline := time.Now().Add(30 * time.Second)
	for total < keys*per && time.Now().Before(deadline) {
		for i, c := range cons {
			rctx, rc := context.WithTimeout(ctx, 50*time.Millisecond)
			ds, err := c.Receive(rctx, 50)
			rc()
			if err != nil {
				continue
			}
			for _, dl := range ds {
				k := string(dl.Key)
				if o, ok := owner[k]; ok && o != i {
					t.Fatalf("key %s delivered to consumers %d and %d", k, o, i)
				}
				owner[k] = i
				if want := k + ":" + strconv.Itoa(next[k]); string(dl.Body) != want {
					t.Fatalf("consumer %d: got %q, want %q", i, dl.Body, want)
				}
				next[k]++
			}
			total += len(ds)
			if err := c.Ack(ctx, ds); err != nil {
				t.Fatal(err)
			}
		}
	}
	if total != keys*per {
		t.Fatalf("received %d of %d", total, keys*per)
	}
}

func TestNackRedelivers(t *testing.T) {
	d := open(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName("nack"), Groups: []string{"g"}}
	provision(t, d, dest)
	ctx := context.Background()
	prod, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	key := []byte{0xff, 0x00, 'k'} // not UTF-8: travels hex-encoded
	if err := prod.Send(ctx, []driver.Message{{Key: key, Body: []byte("payload\x00\n")}}); err != nil {
		t.Fatal(err)
	}
	c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first := receiveN(t, c, 1, false)[0]
	if first.Redelivered || !bytes.Equal(first.Key, key) || string(first.Body) != "payload\x00\n" {
		t.Fatalf("first delivery %+v", first)
	}
	if err := c.Nack(ctx, []*driver.Delivery{first}); err != nil {
		t.Fatal(err)
	}
	again := receiveN(t, c, 1, true)[0]
	if !again.Redelivered || !bytes.Equal(again.Key, key) || string(again.Body) != "payload\x00\n" {
		t.Fatalf("redelivery %+v", again)
	}
	expectNone(t, c)
}

func TestCloseWithoutAckRedelivers(t *testing.T) {
	d := open(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName("unacked"), Groups: []string{"g"}}
	provision(t, d, dest)
	ctx := context.Background()
	prod, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.Send(ctx, msgs("k", 0, 3)); err != nil {
		t.Fatal(err)
	}
	c1, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	got := receiveN(t, c1, 3, false)
	if err := c1.Ack(ctx, got[:1]); err != nil {
		t.Fatal(err)
	}
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c1.Ack(ctx, got[1:]); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("ack after close: %v", err)
	}
	if _, err := c1.Receive(ctx, 1); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("receive after close: %v", err)
	}
	c2, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	re := receiveN(t, c2, 2, true)
	for i, dl := range re {
		if !dl.Redelivered || string(dl.Body) != string(got[i+1].Body) {
			t.Fatalf("redelivery %d: %q redelivered=%v", i, dl.Body, dl.Redelivered)
		}
	}
	expectNone(t, c2)
}

func TestReceiveUnblocksOnClose(t *testing.T) {
	d := open(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName("close"), Groups: []string{"g"}}
	provision(t, d, dest)
	c, err := d.NewConsumer(context.Background(), dest, driver.ConsumerOptions{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Receive(context.Background(), 1)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let Receive block (not a timing assertion)
	_ = d.Close()                     // closes the consumer too
	select {
	case err := <-errc:
		if !errors.Is(err, driver.ErrClosed) {
			t.Fatalf("receive: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Receive still blocked after Close")
	}
	if _, err := d.NewConsumer(context.Background(), dest, driver.ConsumerOptions{Group: "g"}); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("NewConsumer after driver Close: %v", err)
	}
}

func TestProvisionRejects(t *testing.T) {
	d := open(t, driver.Durable)
	ctx := context.Background()
	_, err := d.Provision(ctx, driver.Destination{Name: uniqueName("max"), Groups: []string{"g"}, MaxLength: 10})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("MaxLength: %v", err)
	}
	if _, err := d.NewConsumer(ctx, driver.Destination{Name: "x", Groups: []string{"g"}}, driver.ConsumerOptions{Group: "other"}); err == nil {
		t.Fatal("consumer of an unknown group accepted")
	}
}

func TestSendHonoursContext(t *testing.T) {
	d := open(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName("ctx"), Groups: []string{"g"}}
	provision(t, d, dest)
	prod, err := d.NewProducer(context.Background(), dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := prod.Send(ctx, msgs("k", 0, 3)); !errors.Is(err, context.Canceled) {
		t.Fatalf("send with cancelled ctx: %v", err)
	}
	// The producer still works.
	if err := prod.Send(context.Background(), msgs("k", 0, 3)); err != nil {
		t.Fatal(err)
	}
}

// TestRestart: a group queue provisioned before a broker restart still
// receives messages sent after it, and a producer and a consumer opened
// before the restart reconnect by themselves. Durable messages survive the
// restart, Unsafe (non-persistent) ones do not, which is what the negative
// control of the fault scenarios relies on.
func TestRestart(t *testing.T) {
	restart := restartHook()
	if restart == nil {
		t.Skip("no restart hook (MQBENCH_RESTART=1 or MQBENCH_ACTIVEMQ_RESTART_CMD)")
	}
	durable := open(t, driver.Durable)
	unsafe := open(t, driver.Unsafe)
	ctx := context.Background()
	dest := driver.Destination{Name: uniqueName("restart"), Groups: []string{"g", "late"}}
	provision(t, durable, dest)
	unsafeDest := driver.Destination{Name: uniqueName("restart-unsafe"), Groups: []string{"g"}}
	provision(t, unsafe, unsafeDest)
	prod, err := durable.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	cons, err := durable.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	if err := prod.Send(ctx, msgs("k", 0, 10)); err != nil {
		t.Fatal(err)
	}
	up, err := unsafe.NewProducer(ctx, unsafeDest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if err := up.Send(ctx, msgs("u", 0, 10)); err != nil {
		t.Fatal(err)
	}
	// Make sure the unsafe messages reached the broker before it restarts.
	if err := prod.Send(ctx, msgs("k", 10, 1)); err != nil {
		t.Fatal(err)
	}

	rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := restart(rctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	waitBroker(t, rctx)

	// The producer reconnects on its next Send.
	var sendErr error
	for range 10 {
		if sendErr = prod.Send(rctx, msgs("k", 11, 9)); sendErr == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if sendErr != nil {
		t.Fatalf("send after restart: %v", sendErr)
	}
	// The consumer reconnects within Receive: everything arrives.
	var got []string
	for len(got) < 20 && rctx.Err() == nil {
		ds, err := cons.Receive(rctx, 20)
		if err != nil {
			t.Logf("receive: %v", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if err := cons.Ack(rctx, ds); err != nil {
			t.Logf("ack: %v", err) // deliveries of the old connection
		}
		got = append(got, bodies(ds)...)
	}
	for i := range 20 {
		if !slices.Contains(got, "k:"+strconv.Itoa(i)) {
			t.Fatalf("group g is missing k:%d after the restart (got %d)", i, len(got))
		}
	}
	// The late group's queue, provisioned before the restart, has all 20.
	late, err := durable.NewConsumer(rctx, dest, driver.ConsumerOptions{Group: "late"})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	lateGot := bodies(receiveN(t, late, 20, true))
	if !sameSet(lateGot, bodies(toDeliveries(msgs("k", 0, 20)))) {
		t.Fatalf("late group got %v", lateGot)
	}
	// The unsafe (non-persistent) messages are gone.
	uc, err := unsafe.NewConsumer(rctx, unsafeDest, driver.ConsumerOptions{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	expectNone(t, uc)
}

func toDeliveries(ms []driver.Message) []*driver.Delivery {
	out := make([]*driver.Delivery, len(ms))
	for i, m := range ms {
		out[i] = &driver.Delivery{Key: m.Key, Body: m.Body}
	}
	return out
}

// waitBroker waits until a STOMP handshake succeeds at testAddr.
func waitBroker(t *testing.T, ctx context.Context) {
	t.Helper()
	for {
		c, err := stompclient.Dial(ctx, testAddr(), 2*time.Second, driver.Config{}.Log())
		if err == nil {
			_ = c.Close()
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("broker not back after restart: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
