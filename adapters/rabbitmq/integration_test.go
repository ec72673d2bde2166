package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
)

// testAddr is the broker under test: MQBENCH_RABBITMQ_ADDR or DefaultAddr.
func testAddr() string {
	if a := os.Getenv("MQBENCH_RABBITMQ_ADDR"); a != "" {
		return a
	}
	return DefaultAddr
}

// testHostPort is the host:port part of testAddr, for the reachability check.
func testHostPort(t *testing.T) string {
	t.Helper()
	first, _, _ := strings.Cut(testAddr(), ",")
	u, err := brokerURL(first)
	if err != nil {
		t.Fatal(err)
	}
	uri, err := amqp.ParseURI(u)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port))
}

// requireBroker skips the test when nothing listens at the broker address,
// unless MQBENCH_REQUIRE_BROKERS=1 makes that a failure.
func requireBroker(t *testing.T) {
	t.Helper()
	drivertest.RequireBroker(t, Name, testHostPort(t))
}

// ---- helpers for the integration tests ----

func uniqueName(t *testing.T) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "t-" + hex.EncodeToString(b[:])
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func openDriver(t *testing.T, p driver.Profile) *Driver {
	t.Helper()
	requireBroker(t)
	d, err := New(ctxFor(t, 10*time.Second), driver.Config{Addr: testAddr(), Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d.(*Driver)
}

func provision(t *testing.T, d *Driver, dest driver.Destination) {
	t.Helper()
	cleanup, err := d.Provision(ctxFor(t, 10*time.Second), dest)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cleanup(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

func newProducerT(t *testing.T, d *Driver, dest driver.Destination, window int) driver.Producer {
	t.Helper()
	p, err := d.NewProducer(ctxFor(t, 10*time.Second), dest, driver.ProducerOptions{MaxInFlight: window})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newConsumerT(t *testing.T, d *Driver, dest driver.Destination, group string, prefetch int) driver.Consumer {
	t.Helper()
	c, err := d.NewConsumer(ctxFor(t, 10*time.Second), dest, driver.ConsumerOptions{Group: group, Prefetch: prefetch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func messages(n int, key string) []driver.Message {
	msgs := make([]driver.Message, n)
	for i := range msgs {
		msgs[i] = driver.Message{Key: []byte(key), Body: []byte{byte(i >> 8), byte(i)}}
	}
	return msgs
}

// receiveN receives exactly n deliveries (acking them when ack is set) or
// fails the test.
func receiveN(t *testing.T, c driver.Consumer, n int, ack bool) []*driver.Delivery {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	var got []*driver.Delivery
	for len(got) < n {
		ds, err := c.Receive(ctx, n-len(got))
		if err != nil {
			t.Fatalf("receive after %d of %d: %v", len(got), n, err)
		}
		if ack {
			if err := c.Ack(ctx, ds); err != nil {
				t.Fatalf("ack: %v", err)
			}
		}
		got = append(got, ds...)
	}
	return got
}

// expectNothing asserts that no delivery arrives within a short wait.
func expectNothing(t *testing.T, c driver.Consumer) {
	t.Helper()
	ds, err := c.Receive(ctxFor(t, 300*time.Millisecond), 10)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expected no delivery, got %d, %v", len(ds), err)
	}
}

// waitDepth waits until group's queue holds exactly want ready messages.
func waitDepth(t *testing.T, d *Driver, dest driver.Destination, group string, want int64) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	for {
		n, err := d.Depth(ctx, dest, group)
		if err == nil && n == want {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("depth = %d, %v; want %d", n, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func seqOf(d *driver.Delivery) int { return int(d.Body[0])<<8 | int(d.Body[1]) }

// ---- integration tests ----

func TestInfo(t *testing.T) {
	d := openDriver(t, driver.Durable)
	info := d.Info()
	if info.Name != Name || info.Client != clientModule || info.ClientVersion == "" || info.Protocol != protocol {
		t.Errorf("info = %+v", info)
	}
	if info.BrokerVersion == "" {
		t.Error("broker version not read from server properties")
	}
	t.Logf("broker %s, client %s %s", info.BrokerVersion, info.Client, info.ClientVersion)
}

func TestRoundTripProfiles(t *testing.T) {
	for _, p := range driver.Profiles() {
		t.Run(string(p), func(t *testing.T) {
			d := openDriver(t, p)
			dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
			provision(t, d, dest)
			prod := newProducerT(t, d, dest, 0)
			cons := newConsumerT(t, d, dest, "g", 0)
			const n = 300
			if err := prod.Send(ctxFor(t, 30*time.Second), messages(n, "p1")); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := receiveN(t, cons, n, true)
			for i, del := range got {
				if seqOf(del) != i || string(del.Key) != "p1" || del.Redelivered {
					t.Fatalf("delivery %d: seq %d key %q redelivered %v", i, seqOf(del), del.Key, del.Redelivered)
				}
			}
			expectNothing(t, cons)
		})
	}
}

func TestKeysRoundTrip(t *testing.T) {
	long := make([]byte, 300)
	for i := range long {
		long[i] = byte(i)
	}
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	provision(t, d, dest)
	prod := newProducerT(t, d, dest, 0)
	cons := newConsumerT(t, d, dest, "g", 0)
	tests := []struct {
		name string
		key  []byte
	}{
		{"none", nil},
		{"text", []byte("producer-7")},
		{"binary", []byte{0, 0xff, 0x80, 1}},
		{"255 bytes", long[:255]},
		{"long, in a header", long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := prod.Send(ctxFor(t, 10*time.Second), []driver.Message{{Key: tt.key, Body: []byte("x")}}); err != nil {
				t.Fatal(err)
			}
			got := receiveN(t, cons, 1, true)
			if string(got[0].Key) != string(tt.key) {
				t.Errorf("key %x came back as %x", tt.key, got[0].Key)
			}
		})
	}
}

func TestConfirmsPipelinedAndDepth(t *testing.T) {
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	provision(t, d, dest)
	prod := newProducerT(t, d, dest, 64)
	const n = 2000
	if err := prod.Send(ctxFor(t, 60*time.Second), messages(n, "p")); err != nil {
		t.Fatalf("send: %v", err)
	}
	// Confirmed means enqueued: the depth must show all of them at once.
	depth, err := d.Depth(ctxFor(t, 10*time.Second), dest, "g")
	if err != nil || depth != n {
		t.Fatalf("depth = %d, %v; want %d", depth, err, n)
	}
	// A second batch on the same channel continues the delivery tags.
	if err := prod.Send(ctxFor(t, 60*time.Second), messages(10, "p")); err != nil {
		t.Fatalf("second send: %v", err)
	}
	if depth, err := d.Depth(ctxFor(t, 10*time.Second), dest, "g"); err != nil || depth != n+10 {
		t.Fatalf("depth = %d, %v; want %d", depth, err, n+10)
	}
	if _, err := d.Depth(ctxFor(t, 10*time.Second), dest, "nope"); err == nil {
		t.Error("depth of a missing queue succeeded")
	}
}

func TestUnroutableIsNotConfirmed(t *testing.T) {
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	provision(t, d, dest)
	prod := newProducerT(t, d, dest, 0)
	// Remove the only queue: the exchange then routes nowhere.
	if err := d.withChannel(ctxFor(t, 10*time.Second), "test", func(ch *amqp.Channel, call func(string, func() error) error) error {
		_, err := ch.QueueDelete(queueName(dest.Name, "g"), false, false, false)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	const n = 5
	err := prod.Send(ctxFor(t, 10*time.Second), messages(n, "p"))
	for i := 0; i < n; i++ {
		if driver.Confirmed(err, n, i) || !errors.Is(driver.MessageErr(err, n, i), ErrUnroutable) {
			t.Fatalf("message %d: %v, want ErrUnroutable", i, driver.MessageErr(err, n, i))
		}
	}
	// The producer stays usable once the queue is back.
	provision(t, d, dest)
	if err := prod.Send(ctxFor(t, 10*time.Second), messages(3, "p")); err != nil {
		t.Fatalf("send after re-provision: %v", err)
	}
}

// A binding the broker lost (as RabbitMQ 3.10 did in a crash recovery) is
// restored by the producer's topology recovery, but only on a connection
// opened after a lost one; the messages that came back stay unconfirmed.
func TestBindingRecoveredAfterReconnect(t *testing.T) {
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	provision(t, d, dest)
	prod := newProducerT(t, d, dest, 0)
	cons := newConsumerT(t, d, dest, "g", 0)
	unbind := func() {
		t.Helper()
		if err := d.withChannel(ctxFor(t, 10*time.Second), "test", func(ch *amqp.Channel, call func(string, func() error) error) error {
			return ch.QueueUnbind(queueName(dest.Name, "g"), "", exchangeName(dest.Name), nil)
		}); err != nil {
			t.Fatal(err)
		}
	}
	const n = 3
	allUnroutable := func(what string) {
		t.Helper()
		err := prod.Send(ctxFor(t, 10*time.Second), messages(n, "p"))
		for i := 0; i < n; i++ {
			if driver.Confirmed(err, n, i) || !errors.Is(driver.MessageErr(err, n, i), ErrUnroutable) {
				t.Fatalf("%s: message %d: %v, want ErrUnroutable", what, i, driver.MessageErr(err, n, i))
			}
		}
	}
	// On the first connection nothing is repaired: an unbound queue
	// stays unbound, Send after Send.
	unbind()
	allUnroutable("first connection")
	allUnroutable("first connection, again")
	// After a lost connection, the first unroutable Send binds again.
	ps := prod.(*producer).sess
	ps.raw.Close()
	for deadline := time.Now().Add(20 * time.Second); ps.alive(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection still counts as alive")
		}
	}
	allUnroutable("after reconnection")
	if err := prod.Send(ctxFor(t, 10*time.Second), messages(n, "p")); err != nil {
		t.Fatalf("send after the binding's recovery: %v", err)
	}
	ctx := ctxFor(t, 10*time.Second)
	got := 0
	for got < n {
		ds, err := cons.Receive(ctx, 10)
		if err != nil {
			t.Fatalf("received %d of the %d confirmed after the recovery: %v", got, n, err)
		}
		got += len(ds)
		if err := cons.Ack(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	if got != n {
		t.Fatalf("received %d, want the %d confirmed after the recovery and none of the returned", got, n)
	}
}

func TestRejectPublishAtMaxLength(t *testing.T) {
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}, MaxLength: 5}
	provision(t, d, dest)
	prod := newProducerT(t, d, dest, 0)
	const n = 8
	err := prod.Send(ctxFor(t, 10*time.Second), messages(n, "p"))
	var se *driver.SendError
	if !errors.As(err, &se) {
		t.Fatalf("send = %v, want *driver.SendError", err)
	}
	for i := 0; i < n; i++ {
		ok := driver.Confirmed(err, n, i)
		rejected := errors.Is(driver.MessageErr(err, n, i), driver.ErrRejected)
		if i < 5 && (!ok || rejected) || i >= 5 && (ok || !rejected) {
			t.Errorf("message %d: confirmed=%v err=%v", i, ok, driver.MessageErr(err, n, i))
		}
	}
	if depth, err := d.Depth(ctxFor(t, 10*time.Second), dest, "g"); err != nil || depth != 5 {
		t.Fatalf("depth = %d, %v; want 5", depth, err)
	}
	// Taking two out makes room for exactly two.
	cons := newConsumerT(t, d, dest, "g", 2)
	got := receiveN(t, cons, 2, true)
	if seqOf(got[0]) != 0 || seqOf(got[1]) != 1 {
		t.Errorf("got seqs %d, %d", seqOf(got[0]), seqOf(got[1]))
	}
	cons.Close()
	// x-max-length counts ready messages only: wait until the deliveries
	// the consumer held unacked when it closed are back in the queue.
	waitDepth(t, d, dest, "g", 3)
	err = prod.Send(ctxFor(t, 10*time.Second), messages(3, "p"))
	if !driver.Confirmed(err, 3, 0) || !driver.Confirmed(err, 3, 1) || !errors.Is(driver.MessageErr(err, 3, 2), driver.ErrRejected) {
		t.Errorf("after draining two: %v", err)
	}
	// Provision is idempotent with the same arguments and refuses others.
	if _, err := d.Provision(ctxFor(t, 10*time.Second), dest); err != nil {
		t.Errorf("re-provision: %v", err)
	}
	other := dest
	other.MaxLength = 7
	if _, err := d.Provision(ctxFor(t, 10*time.Second), other); err == nil {
		t.Error("provision with another max length succeeded")
	}
}

func TestFanOutAndCompetingConsumers(t *testing.T) {
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"a", "b"}}
	provision(t, d, dest)
	const n = 200
	// Sent before any consumer subscribes: Provision made the queues.
	if err := newProducerT(t, d, dest, 0).Send(ctxFor(t, 30*time.Second), messages(n, "p")); err != nil {
		t.Fatal(err)
	}
	// Group a: one consumer gets everything, in order.
	for i, del := range receiveN(t, newConsumerT(t, d, dest, "a", 0), n, true) {
		if seqOf(del) != i {
			t.Fatalf("group a: position %d has seq %d", i, seqOf(del))
		}
	}
	// Group b: two competing consumers share the messages without overlap.
	c1 := newConsumerT(t, d, dest, "b", 10)
	c2 := newConsumerT(t, d, dest, "b", 10)
	seen := map[int]int{}
	ctx := ctxFor(t, 30*time.Second)
	for total := 0; total < n; {
		for _, c := range []driver.Consumer{c1, c2} {
			rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			ds, err := c.Receive(rctx, 50)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
			if err := c.Ack(ctx, ds); err != nil {
				t.Fatal(err)
			}
			for _, del := range ds {
				seen[seqOf(del)]++
			}
			total += len(ds)
		}
		if ctx.Err() != nil {
			t.Fatalf("group b got %d of %d", total, n)
		}
	}
	for i := 0; i < n; i++ {
		if seen[i] != 1 {
			t.Fatalf("group b: seq %d seen %d times", i, seen[i])
		}
	}
	if _, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "c"}); err == nil {
		t.Error("consumer of an unlisted group accepted")
	}
}

func TestPrefetchAckNackRedelivered(t *testing.T) {
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	provision(t, d, dest)
	const n = 20
	if err := newProducerT(t, d, dest, 0).Send(ctxFor(t, 30*time.Second), messages(n, "p")); err != nil {
		t.Fatal(err)
	}
	cons := newConsumerT(t, d, dest, "g", 5)
	first := receiveN(t, cons, 5, false)
	// The prefetch holds back the sixth until something is settled.
	expectNothing(t, cons)
	ctx := ctxFor(t, 30*time.Second)
	// Ack the 2nd and 4th (not a prefix: individual acks), nack the others.
	if err := cons.Ack(ctx, []*driver.Delivery{first[1], first[3]}); err != nil {
		t.Fatal(err)
	}
	if err := cons.Nack(ctx, []*driver.Delivery{first[0], first[2], first[4]}); err != nil {
		t.Fatal(err)
	}
	// Settling twice is refused, not sent to the broker (which would close
	// the channel).
	if err := cons.Ack(ctx, first[:1]); !errors.Is(err, ErrStaleDelivery) {
		t.Errorf("double ack = %v, want ErrStaleDelivery", err)
	}
	redelivered := map[int]bool{}
	got := len(first)
	for got < n+3 { // 3 nacked come back
		ds, err := cons.Receive(ctx, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, del := range ds {
			if del.Redelivered {
				redelivered[seqOf(del)] = true
			}
		}
		if err := cons.Ack(ctx, ds); err != nil {
			t.Fatal(err)
		}
		got += len(ds)
	}
	if len(redelivered) != 3 || !redelivered[0] || !redelivered[2] || !redelivered[4] {
		t.Errorf("redelivered = %v, want {0, 2, 4}", redelivered)
	}
	expectNothing(t, cons)
	if depth, err := d.Depth(ctx, dest, "g"); err != nil || depth != 0 {
		t.Errorf("depth = %d, %v", depth, err)
	}
}

func TestUnackedGoBackOnClose(t *testing.T) {
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	provision(t, d, dest)
	if err := newProducerT(t, d, dest, 0).Send(ctxFor(t, 30*time.Second), messages(3, "p")); err != nil {
		t.Fatal(err)
	}
	c1 := newConsumerT(t, d, dest, "g", 0)
	receiveN(t, c1, 3, false)
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Receive(ctxFor(t, time.Second), 1); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("receive after close = %v", err)
	}
	for _, del := range receiveN(t, newConsumerT(t, d, dest, "g", 0), 3, true) {
		if !del.Redelivered {
			t.Errorf("seq %d not flagged redelivered", seqOf(del))
		}
	}
}

func TestCloseUnblocks(t *testing.T) {
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	provision(t, d, dest)
	cons := newConsumerT(t, d, dest, "g", 0)
	errc := make(chan error, 1)
	go func() {
		_, err := cons.Receive(ctxFor(t, time.Minute), 1)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cons.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, driver.ErrClosed) {
			t.Errorf("receive = %v, want ErrClosed", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
	prod := newProducerT(t, d, dest, 0)
	prod.Close()
	if err := prod.Send(ctxFor(t, time.Second), messages(1, "p")); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("send after close = %v", err)
	}
	// Driver.Close closes what is still open.
	d2 := openDriver(t, driver.Durable)
	p2 := newProducerT(t, d2, dest, 0)
	if err := d2.Close(); err != nil {
		t.Errorf("driver close: %v", err)
	}
	if err := p2.Send(ctxFor(t, time.Second), messages(1, "p")); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("send after driver close = %v", err)
	}
}

func TestNotProvisioned(t *testing.T) {
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	ctx := ctxFor(t, 10*time.Second)
	if _, err := d.NewProducer(ctx, dest, driver.ProducerOptions{}); err == nil {
		t.Error("producer on a missing destination")
	}
	if _, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"}); err == nil {
		t.Error("consumer on a missing destination")
	}
	if _, err := d.Provision(ctx, driver.Destination{Name: "bad name", Groups: []string{"g"}}); err == nil {
		t.Error("bad name accepted")
	}
	if _, err := d.Provision(ctx, driver.Destination{Name: "x"}); err == nil {
		t.Error("destination without groups accepted")
	}
}

// A connection that dies under a producer or consumer surfaces as an error,
// and the next call reconnects.
func TestLostConnectionSurfacesAndRecovers(t *testing.T) {
	d := openDriver(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	provision(t, d, dest)
	prod := newProducerT(t, d, dest, 0)
	cons := newConsumerT(t, d, dest, "g", 0)

	// Consumer: cut its socket while Receive waits.
	errc := make(chan error, 1)
	go func() {
		_, err := cons.Receive(ctxFor(t, time.Minute), 1)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cons.(*consumer).sess.raw.Close()
	select {
	case err := <-errc:
		if err == nil || errors.Is(err, driver.ErrClosed) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("receive on a lost connection = %v", err)
		}
		t.Logf("consumer saw: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("lost connection did not end Receive")
	}

	// Producer: cut its socket in the middle of a Send.
	const n = 3000
	sent := make(chan error, 1)
	go func() { sent <- prod.Send(ctxFor(t, 60*time.Second), messages(n, "p")) }()
	ps := prod.(*producer).sess
	for deadline := time.Now().Add(20 * time.Second); ; {
		ps.mu.Lock()
		started := false
		if ps.b != nil {
			for _, st := range ps.b.state {
				started = started || st == msgSettled
			}
		}
		ps.mu.Unlock()
		if started || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ps.raw.Close()
	var err error
	select {
	case err = <-sent:
	case <-time.After(30 * time.Second):
		t.Fatal("lost connection did not end Send")
	}
	if err == nil {
		t.Fatal("send on a lost connection reported success for every message")
	}
	confirmed := map[int]bool{}
	for i := 0; i < n; i++ {
		if driver.Confirmed(err, n, i) {
			confirmed[i] = true
		}
	}
	t.Logf("producer saw %d of %d confirmed: %v", len(confirmed), n, err)
	// Both reconnect on the next call.
	if err := prod.Send(ctxFor(t, 20*time.Second), []driver.Message{{Key: []byte("p"), Body: []byte{0xff, 0xff}}}); err != nil {
		t.Fatalf("send after reconnect: %v", err)
	}
	// Every confirmed message is in the queue: drain until the marker.
	ctx := ctxFor(t, 60*time.Second)
	received := map[int]bool{}
	for done := false; !done; {
		ds, err := cons.Receive(ctx, 100)
		if err != nil {
			t.Fatalf("receive after reconnect: %v", err)
		}
		for _, del := range ds {
			if seqOf(del) == 0xffff {
				done = true
			}
			received[seqOf(del)] = true
		}
		if err := cons.Ack(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	for i := range confirmed {
		if !received[i] {
			t.Errorf("confirmed message %d lost", i)
		}
	}
}

// The pump settles a batch from confirmations and returns alone (no broker):
// a return before the ack makes the message unroutable, a nack on a
// destination with a max length is ErrRejected, tags outside the batch are
// ignored, and a dead link fails what is left.
func TestPumpSettlesBatch(t *testing.T) {
	tests := []struct {
		name      string
		maxLength int
		nackIs    error
	}{
		{"max length", 5, driver.ErrRejected},
		{"no max length", 0, ErrNacked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &producer{dest: driver.Destination{Name: "d", MaxLength: tt.maxLength}}
			s := &psession{link: &link{done: make(chan struct{})}, notify: make(chan struct{}, 1)}
			b := &batch{first: 5, state: make([]uint8, 4), errs: make([]error, 4), returned: make([]error, 4)}
			for i := range b.state {
				b.state[i] = msgPublished
			}
			b.unsettled = 4
			s.b = b
			confirms := make(chan amqp.Confirmation, 8)
			returns := make(chan amqp.Return, 8)
			returns <- amqp.Return{MessageId: "6", ReplyCode: 312, ReplyText: "NO_ROUTE"}
			confirms <- amqp.Confirmation{DeliveryTag: 3, Ack: true} // stale
			confirms <- amqp.Confirmation{DeliveryTag: 5, Ack: true}
			confirms <- amqp.Confirmation{DeliveryTag: 6, Ack: true}
			confirms <- amqp.Confirmation{DeliveryTag: 7, Ack: false}
			done := make(chan struct{})
			go func() {
				s.pump(p, confirms, returns)
				close(done)
			}()
			for {
				s.mu.Lock()
				left := b.unsettled
				s.mu.Unlock()
				if left == 1 {
					break
				}
				<-s.notify
			}
			s.fail(errors.New("connection lost"))
			close(confirms)
			close(returns)
			<-done
			if b.errs[0] != nil {
				t.Errorf("tag 5: %v, want confirmed", b.errs[0])
			}
			if !errors.Is(b.errs[1], ErrUnroutable) {
				t.Errorf("tag 6: %v, want ErrUnroutable", b.errs[1])
			}
			if !errors.Is(b.errs[2], tt.nackIs) {
				t.Errorf("tag 7: %v, want %v", b.errs[2], tt.nackIs)
			}
			if b.errs[3] == nil || b.unsettled != 0 {
				t.Errorf("tag 8: %v (unsettled %d), want the link's failure", b.errs[3], b.unsettled)
			}
		})
	}
}

// Closing the driver ends every goroutine the adapter and amqp091-go started
// (pumps, watchers, readers, heartbeaters).
func TestCloseLeavesNoGoroutines(t *testing.T) {
	requireBroker(t)
	before := runtime.NumGoroutine()
	ctx := ctxFor(t, 30*time.Second)
	d, err := New(ctx, driver.Config{Addr: testAddr()})
	if err != nil {
		t.Fatal(err)
	}
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	cleanup, err := d.Provision(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(ctx, messages(10, "p")); err != nil {
		t.Fatal(err)
	}
	receiveN(t, c, 10, true)
	if err := cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil { // closes p and c too
		t.Fatal(err)
	}
	var now int
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if now = runtime.NumGoroutine(); now <= before {
			return
		}
	}
	buf := make([]byte, 1<<16)
	t.Errorf("%d goroutines before, %d after Close:\n%s", before, now, buf[:runtime.Stack(buf, true)])
}
