package kafka

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// brokerAddr returns the Kafka address for integration tests
// (MQBENCH_KAFKA_ADDR, default DefaultAddr), skipping the test when nothing
// listens there, or failing it when MQBENCH_REQUIRE_BROKERS=1.
func brokerAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("MQBENCH_KAFKA_ADDR")
	if addr == "" {
		addr = DefaultAddr
	}
	first, _, _ := strings.Cut(addr, ",")
	c, err := net.DialTimeout("tcp", first, 2*time.Second)
	if err != nil {
		if os.Getenv("MQBENCH_REQUIRE_BROKERS") == "1" {
			t.Fatalf("kafka at %s: %v (MQBENCH_REQUIRE_BROKERS=1)", addr, err)
		}
		t.Skipf("kafka at %s: %v", addr, err)
	}
	c.Close()
	return addr
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("MQBENCH_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func openTest(t testing.TB, profile driver.Profile) *Driver {
	t.Helper()
	addr := brokerAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := open(ctx, driver.Config{Addr: addr, Profile: profile, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func uniqueName(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

func provision(t testing.TB, d *Driver, dest driver.Destination) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
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

// msg builds a message whose body carries its key and sequence.
func msg(key string, seq int) driver.Message {
	body := make([]byte, 64)
	binary.BigEndian.PutUint64(body, uint64(seq))
	copy(body[8:], key)
	return driver.Message{Key: []byte(key), Body: body}
}

// seqOf returns the sequence a msg body carries, or -1 for a foreign body.
func seqOf(d *driver.Delivery) int {
	if len(d.Body) < 8 {
		return -1
	}
	return int(binary.BigEndian.Uint64(d.Body))
}

func send(t testing.TB, p driver.Producer, msgs []driver.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
}

// receiveN receives until n deliveries arrived (failing after 30 s).
func receiveN(t testing.TB, c driver.Consumer, n int, ack bool) []*driver.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*driver.Delivery
	for len(out) < n {
		ds, err := c.Receive(ctx, n-len(out))
		if err != nil {
			t.Fatalf("after %d of %d: %v", len(out), n, err)
		}
		if ack {
			if err := c.Ack(ctx, ds); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, ds...)
	}
	return out
}

// receiveNone checks that nothing arrives within a short while.
func receiveNone(t testing.TB, c driver.Consumer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ds, err := c.Receive(ctx, 100)
	if err == nil {
		t.Fatalf("unexpected %d deliveries", len(ds))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

func newConsumer(t testing.TB, d *Driver, dest driver.Destination, group string, fromStart bool) driver.Consumer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: group, FromStart: fromStart})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newProducer(t testing.TB, d *Driver, dest driver.Destination) driver.Producer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestFanOutLateJoinAndOrder: two groups provisioned, messages sent before
// either consumer exists; each group gets every message once, and each key
// in order.
func TestFanOutLateJoinAndOrder(t *testing.T) {
	for _, profile := range driver.Profiles() {
		t.Run(string(profile), func(t *testing.T) {
			d := openTest(t, profile)
			dest := driver.Destination{Name: uniqueName("mqb-fan"), Groups: []string{"a", "b"}, Partitions: 3}
			provision(t, d, dest)
			p := newProducer(t, d, dest)
			const keys, per = 5, 40
			var batch []driver.Message
			for i := range per {
				for k := range keys {
					batch = append(batch, msg(fmt.Sprintf("k%d", k), i))
				}
				if len(batch) >= 37 || i == per-1 {
					send(t, p, batch)
					batch = batch[:0]
				}
			}
			for _, g := range dest.Groups {
				c := newConsumer(t, d, dest, g, false)
				ds := receiveN(t, c, keys*per, true)
				next := map[string]int{}
				for _, dl := range ds {
					k := string(dl.Key)
					if seqOf(dl) != next[k] {
						t.Fatalf("group %s key %s: got seq %d, want %d", g, k, seqOf(dl), next[k])
					}
					next[k]++
				}
				receiveNone(t, c)
				eventuallyDepth(t, d, dest, g, 0)
			}
		})
	}
}

// TestProvisionPositionsGroups: messages sent before Provision of a reused
// topic are not delivered to a newly listed group; later ones are.
func TestProvisionPositionsGroups(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName("mqb-pos"), Groups: []string{"a"}}
	provision(t, d, dest)
	p := newProducer(t, d, dest)
	send(t, p, []driver.Message{msg("k", 0), msg("k", 1)})

	dest2 := dest
	dest2.Groups = []string{"a", "late"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cleanup, err := d.Provision(ctx, dest2) // idempotent: topic exists
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup(ctx)
	send(t, p, []driver.Message{msg("k", 2)})

	late := newConsumer(t, d, dest, "late", false)
	ds := receiveN(t, late, 1, true)
	if seqOf(ds[0]) != 2 {
		t.Fatalf("late group got seq %d first, want 2", seqOf(ds[0]))
	}
	receiveNone(t, late)

	// Replay: a group with no position, asked to start from the start,
	// reads everything retained.
	replay := newConsumer(t, d, dest, "replay", true)
	if got := len(receiveN(t, replay, 3, true)); got != 3 {
		t.Fatalf("replay got %d", got)
	}
}

// TestRedeliveryAfterClose: unacked deliveries (and the acked ones after the
// first gap) come back to the next member of the group.
func TestRedeliveryAfterClose(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName("mqb-redeliver"), Groups: []string{"g"}}
	provision(t, d, dest)
	p := newProducer(t, d, dest)
	var batch []driver.Message
	for i := range 10 {
		batch = append(batch, msg("k", i))
	}
	send(t, p, batch)

	c1 := newConsumer(t, d, dest, "g", false)
	ds := receiveN(t, c1, 10, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Ack 0-4 and 6: the commit stops before 5.
	if err := c1.Ack(ctx, append(ds[:5:5], ds[6])); err != nil {
		t.Fatal(err)
	}
	if err := c1.Nack(ctx, ds[5:6]); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Nack error = %v, want ErrUnsupported", err)
	}
	eventuallyDepth(t, d, dest, "g", 5) // commits are pipelined
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Receive(ctx, 1); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("Receive after Close = %v, want ErrClosed", err)
	}

	c2 := newConsumer(t, d, dest, "g", false)
	again := receiveN(t, c2, 5, true)
	for i, dl := range again {
		if seqOf(dl) != 5+i {
			t.Fatalf("redelivery %d: seq %d, want %d", i, seqOf(dl), 5+i)
		}
	}
	receiveNone(t, c2)
}

// TestCompeting: two members of one group share the messages, each message
// to exactly one of them.
func TestCompeting(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName("mqb-compete"), Groups: []string{"g"}, Partitions: 4}
	provision(t, d, dest)
	c1 := newConsumer(t, d, dest, "g", false)
	c2 := newConsumer(t, d, dest, "g", false)
	p := newProducer(t, d, dest)
	var batch []driver.Message
	const n = 400
	for i := range n {
		batch = append(batch, msg(fmt.Sprintf("k%d", i%16), i))
	}
	send(t, p, batch)

	seen := make(map[int]int)
	got := [2]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for total := 0; total < n; {
		for i, c := range []driver.Consumer{c1, c2} {
			rctx, rcancel := context.WithTimeout(ctx, 200*time.Millisecond)
			ds, err := c.Receive(rctx, 100)
			rcancel()
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				continue
			}
			if err != nil {
				t.Fatalf("after %d: %v", total, err)
			}
			if err := c.Ack(ctx, ds); err != nil {
				t.Fatal(err)
			}
			for _, dl := range ds {
				seen[seqOf(dl)]++
			}
			got[i] += len(ds)
			total += len(ds)
		}
	}
	if len(seen) != n {
		t.Fatalf("distinct = %d, want %d", len(seen), n)
	}
	for s, k := range seen {
		if k != 1 {
			t.Errorf("seq %d delivered %d times", s, k)
		}
	}
	if got[0] == 0 || got[1] == 0 {
		t.Errorf("one member got nothing: %v", got)
	}
}

func TestUnsupportedAndMissing(t *testing.T) {
	d := openTest(t, driver.Durable)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := uniqueName("mqb-missing")
	if _, err := d.Provision(ctx, driver.Destination{Name: name, Groups: []string{"g"}, MaxLength: 10}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("MaxLength: error = %v, want ErrUnsupported", err)
	}
	dest := driver.Destination{Name: name, Groups: []string{"g"}}
	if _, err := d.NewProducer(ctx, dest, driver.ProducerOptions{}); err == nil {
		t.Error("NewProducer on a missing topic succeeded")
	}
	if _, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"}); err == nil {
		t.Error("NewConsumer on a missing topic succeeded")
	}
	// The failed lookups must not have auto-created the topic.
	if _, err := d.partitions(ctx, name); err == nil {
		t.Error("topic was auto-created")
	}
	info := d.Info()
	if info.Name != Name || info.ClientVersion == "" || info.Capabilities.Nack || info.Capabilities.MaxLengthReject {
		t.Errorf("Info = %+v", info)
	}
}

// TestCloseUnblocks: Close unblocks a pending Receive and makes Send fail
// with ErrClosed; the driver's Close closes what is still open.
func TestCloseUnblocks(t *testing.T) {
	admin := openTest(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName("mqb-close"), Groups: []string{"g"}}
	provision(t, admin, dest)
	d := openTest(t, driver.Durable)
	c := newConsumer(t, d, dest, "g", false)
	p := newProducer(t, d, dest)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Receive(context.Background(), 1)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, driver.ErrClosed) {
			t.Fatalf("Receive = %v, want ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Receive still blocked after Close")
	}
	if err := p.Send(context.Background(), []driver.Message{msg("k", 0)}); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	if _, err := d.NewProducer(context.Background(), dest, driver.ProducerOptions{}); err == nil {
		t.Fatal("NewProducer after Close succeeded")
	}
}

// eventuallyDepth waits (30 s at most) until the group's depth is want.
func eventuallyDepth(t testing.TB, d *Driver, dest driver.Destination, group string, want int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		depth, err := d.Depth(ctx, dest, group)
		if err != nil {
			t.Fatalf("depth of %s: %v", group, err)
		}
		if depth == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("depth of %s = %d, want %d", group, depth, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestFromStartWithLiveMembers: a FromStart consumer joining a group whose
// members are already running leaves the positions to them instead of
// failing.
func TestFromStartWithLiveMembers(t *testing.T) {
	d := openTest(t, driver.Durable)
	dest := driver.Destination{Name: uniqueName("mqb-live"), Groups: []string{"g"}, Partitions: 2}
	provision(t, d, dest)
	p := newProducer(t, d, dest)
	send(t, p, []driver.Message{msg("a", 0), msg("b", 1), msg("c", 2)})
	a := newConsumer(t, d, dest, "g", false)
	receiveN(t, a, 3, false) // received, not acked: no consumer commit yet
	b := newConsumer(t, d, dest, "g", true)
	if b == nil {
		t.Fatal("no consumer")
	}
}
