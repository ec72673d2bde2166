// Package drivertest is the conformance suite every adapter runs against its
// real broker (and the memory driver runs in every `go test`).
//
// An adapter test calls RequireBroker first, then Run with a Harness:
//
//	func TestConformance(t *testing.T) {
//		drivertest.RequireBroker(t, "rabbitmq", addr)
//		drivertest.Run(t, drivertest.Harness{
//			Name: "rabbitmq",
//			New: func(ctx context.Context, p driver.Profile) (driver.Driver, error) {
//				return rabbitmq.New(ctx, driver.Config{Addr: addr, Profile: p})
//			},
//		})
//	}
//
// Every subtest uses its own destination and groups, named with a random
// suffix, and deletes them through the Provision cleanup. A declared
// capability that does not hold fails; an undeclared one is skipped with a
// message, never passed. Waits are bounded by Harness.Timeout and loop on
// "receive until the expected count or the deadline", so slow rebalances only
// cost time. The persistence test restarts the broker and runs last.
package drivertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Harness connects the suite to one driver.
type Harness struct {
	// New opens a driver connected to the broker under test with profile.
	// It returns an error wrapping errors.ErrUnsupported for a profile the
	// adapter cannot honour.
	New func(ctx context.Context, profile driver.Profile) (driver.Driver, error)
	// Restart stops and starts the broker keeping its data. Nil skips the
	// persistence test (it is then reported as skipped, never passed).
	// Drivers opened before Restart are closed by the suite first and not
	// used afterwards.
	Restart func(ctx context.Context) error
	// Timeout bounds each wait for a delivery (and each broker operation of
	// the suite). Zero means 30s. A broker whose transaction check-back comes
	// later than this (RocketMQ checks every 60s by default) needs a larger
	// Timeout or a shorter broker check interval.
	Timeout time.Duration
	// Settle is how long the suite waits to be sure that nothing more
	// arrives (no duplicate, no rolled-back message). Zero means 2s.
	Settle time.Duration
	// Name is the adapter name, used in destination names (optional).
	Name string
}

func (h Harness) timeout() time.Duration {
	if h.Timeout <= 0 {
		return 30 * time.Second
	}
	return h.Timeout
}

func (h Harness) settle() time.Duration {
	if h.Settle <= 0 {
		return 2 * time.Second
	}
	return h.Settle
}

// RequireBroker makes an integration test depend on a broker listening at
// addr: it dials addr (2s timeout) and skips the test when nothing answers,
// or fails it when the environment sets MQBENCH_REQUIRE_BROKERS=1.
func RequireBroker(t *testing.T, name, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		_ = conn.Close()
		return
	}
	if os.Getenv("MQBENCH_REQUIRE_BROKERS") == "1" {
		t.Fatalf("%s broker not reachable at %s (MQBENCH_REQUIRE_BROKERS=1): %v", name, addr, err)
	}
	t.Skipf("%s broker not reachable at %s, skipping (set MQBENCH_REQUIRE_BROKERS=1 to fail instead): %v", name, addr, err)
}

// Run runs the whole conformance suite against h, one subtest each:
//
//   - Info: Name, Client, ClientVersion and Protocol are set.
//   - Provision: a repeated Provision succeeds and the destination works.
//   - RoundTrip: key and a 4 KiB binary body arrive intact, although the
//     caller cleared its buffers after Send; first delivery not Redelivered.
//   - Profiles: every profile New accepts delivers (ErrUnsupported skips).
//   - Batches: Sends of 1, 7, 100, 500 (capped at MaxBatch) arrive exactly
//     once; Receive never returns more than max.
//   - Ack: acked messages are not delivered to a new consumer of the group.
//   - UnackedRedeliveredAfterClose: unacked deliveries reach the next
//     consumer of the group (marked Redelivered when RedeliveryFlag).
//   - Nack: Nack redelivers (Nack declared) or returns ErrUnsupported.
//   - CompetingConsumers: two consumers of a group both get messages; the
//     sets are disjoint and cover all.
//   - FanOut: three groups, messages sent before any consumer subscribed;
//     each group gets all, once.
//   - PerKeyOrder: four interleaved keys, order kept per key.
//   - MaxLength: MaxLength 5 confirms exactly messages 0-4 and rejects 5-9
//     with ErrRejected (or Provision returns ErrUnsupported if undeclared).
//   - Depth, Replay, Transaction (commit, rollback, check-back commit and
//     rollback): when declared.
//   - CloseUnblocksReceive, ReceiveHonoursContext, SendAfterClose: the
//     errors wrap driver.ErrClosed or the context's error.
//   - Persistence (last; needs Persistent and Harness.Restart): confirmed
//     Durable messages are delivered after the restart.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("drivertest: Harness.New is nil")
	}
	s := &suite{h: h}
	drv, err := h.New(s.ctx(t), driver.Durable)
	if err != nil {
		t.Fatalf("open driver (profile %s): %v", driver.Durable, err)
	}
	s.drv = drv
	t.Cleanup(s.closeShared)
	s.info = s.drv.Info()
	s.caps = s.info.Capabilities
	t.Logf("driver %s (%s %s), broker %q, capabilities %+v", s.info.Name, s.info.Client, s.info.ClientVersion, s.info.BrokerVersion, s.caps)

	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"Info", s.testInfo},
		{"Provision", s.testProvision},
		{"RoundTrip", s.testRoundTrip},
		{"Profiles", s.testProfiles},
		{"Batches", s.testBatches},
		{"Ack", s.testAck},
		{"UnackedRedeliveredAfterClose", s.testUnackedAfterClose},
		{"Nack", s.testNack},
		{"CompetingConsumers", s.testCompeting},
		{"FanOut", s.testFanOut},
		{"PerKeyOrder", s.testPerKeyOrder},
		{"MaxLength", s.testMaxLength},
		{"Depth", s.testDepth},
		{"Replay", s.testReplay},
		{"CloseUnblocksReceive", s.testCloseUnblocks},
		{"ReceiveHonoursContext", s.testReceiveContext},
		{"SendAfterClose", s.testSendAfterClose},
		{"Transaction", s.testTransaction},
		{"Persistence", s.testPersistence}, // last: it restarts the broker
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

// suite carries what every subtest shares.
type suite struct {
	h         Harness
	drv       driver.Driver // Durable profile, shared by the subtests
	info      driver.Info
	caps      driver.Capabilities
	closeOnce sync.Once
}

// closeShared closes the shared driver once.
func (s *suite) closeShared() {
	s.closeOnce.Do(func() { _ = s.drv.Close() })
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.h.timeout())
	t.Cleanup(cancel)
	return ctx
}

// open opens a driver with profile, closed when t ends.
func (s *suite) open(t *testing.T, profile driver.Profile) driver.Driver {
	t.Helper()
	d, err := s.h.New(s.ctx(t), profile)
	if err != nil {
		t.Fatalf("open driver (profile %s): %v", profile, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Logf("close driver: %v", err)
		}
	})
	return d
}

func randSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newDest returns a destination with a unique name and groups.
func (s *suite) newDest(tag string, groups, partitions int) driver.Destination {
	suffix := randSuffix()
	prefix := "mqbt"
	if s.h.Name != "" {
		prefix += "-" + s.h.Name
	}
	d := driver.Destination{Name: prefix + "-" + tag + "-" + suffix, Partitions: partitions}
	for i := range groups {
		d.Groups = append(d.Groups, fmt.Sprintf("%s-%s-g%d-%s", prefix, tag, i+1, suffix))
	}
	return d
}

// provision provisions dest on drv and deletes it when t ends.
func (s *suite) provision(t *testing.T, drv driver.Driver, dest driver.Destination) {
	t.Helper()
	cleanup, err := drv.Provision(s.ctx(t), dest)
	if err != nil {
		t.Fatalf("provision %+v: %v", dest, err)
	}
	if cleanup == nil {
		t.Fatalf("provision %s: nil cleanup with nil error", dest.Name)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.h.timeout())
		defer cancel()
		if err := cleanup(ctx); err != nil {
			t.Logf("cleanup %s: %v", dest.Name, err)
		}
	})
}

// setup provisions a fresh destination on the shared driver.
func (s *suite) setup(t *testing.T, tag string, groups, partitions int) driver.Destination {
	t.Helper()
	dest := s.newDest(tag, groups, partitions)
	s.provision(t, s.drv, dest)
	return dest
}

func (s *suite) producer(t *testing.T, drv driver.Driver, dest driver.Destination) driver.Producer {
	t.Helper()
	p, err := drv.NewProducer(s.ctx(t), dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatalf("new producer on %s: %v", dest.Name, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func (s *suite) consumer(t *testing.T, drv driver.Driver, dest driver.Destination, group string, prefetch int) driver.Consumer {
	t.Helper()
	c, err := drv.NewConsumer(s.ctx(t), dest, driver.ConsumerOptions{Group: group, Prefetch: prefetch})
	if err != nil {
		t.Fatalf("new consumer on %s group %s: %v", dest.Name, group, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// body returns the body of message i of a test run tagged id; bodies are
// padded to 64 bytes with bytes that include zero and 0xff.
func body(id string, i int) []byte {
	b := fmt.Appendf(nil, "%s#%d#", id, i)
	for len(b) < 64 {
		b = append(b, byte(len(b)*37))
	}
	return b
}

// parse returns the index of a body made by body(id, ...), or false for a
// foreign body.
func parse(id string, b []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(id+"#"))
	if !ok {
		return 0, false
	}
	num, _, ok := bytes.Cut(rest, []byte("#"))
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(num))
	if err != nil || !bytes.Equal(b, body(id, n)) {
		return 0, false
	}
	return n, true
}

// messages returns messages from..to-1 of id, with key(i).
func messages(id string, from, to int, key func(i int) []byte) []driver.Message {
	ms := make([]driver.Message, 0, to-from)
	for i := from; i < to; i++ {
		ms = append(ms, driver.Message{Key: key(i), Body: body(id, i)})
	}
	return ms
}

func oneKey(i int) []byte { return []byte("key-0") }

// send sends ms in chunks of at most MaxBatch and fails t unless all are
// confirmed.
func (s *suite) send(t *testing.T, p driver.Producer, ms []driver.Message) {
	t.Helper()
	step := len(ms)
	if s.caps.MaxBatch > 0 {
		step = s.caps.MaxBatch
	}
	for len(ms) > 0 {
		n := min(step, len(ms))
		if err := p.Send(s.ctx(t), ms[:n]); err != nil {
			t.Fatalf("send %d messages: %v", n, err)
		}
		ms = ms[n:]
	}
}

// got is one received message of the test run.
type got struct {
	i           int
	key         []byte
	redelivered bool
	d           *driver.Delivery
}

// receive receives from c until stop says so or the deadline passes,
// acking each batch when ack is set. Foreign bodies are acked and logged.
// It fails t on a receive error and when Receive returns more than max.
func (s *suite) receive(t *testing.T, c driver.Consumer, id string, ack bool, deadline time.Duration, stop func([]got) bool) []got {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var out []got
	const max = 50
	for !stop(out) {
		ds, err := c.Receive(ctx, max)
		if err != nil {
			if ctx.Err() != nil {
				return out
			}
			t.Fatalf("receive: %v", err)
		}
		if len(ds) == 0 || len(ds) > max {
			t.Fatalf("Receive(max=%d) returned %d deliveries with nil error", max, len(ds))
		}
		for _, d := range ds {
			i, ok := parse(id, d.Body)
			if !ok {
				t.Logf("ignoring foreign message %q", d.Body)
				continue
			}
			out = append(out, got{i: i, key: d.Key, redelivered: d.Redelivered, d: d})
		}
		if ack {
			if err := c.Ack(s.ctx(t), ds); err != nil {
				t.Fatalf("ack %d deliveries: %v", len(ds), err)
			}
		}
	}
	return out
}

// collect receives until n messages of the run arrived, then for Settle more
// to catch extra ones, and fails t when fewer than n arrived within Timeout.
func (s *suite) collect(t *testing.T, c driver.Consumer, id string, n int, ack bool) []got {
	t.Helper()
	out := s.receive(t, c, id, ack, s.h.timeout(), func(g []got) bool { return len(g) >= n })
	if len(out) < n {
		t.Fatalf("received %d of %d messages within %v: %v", len(out), n, s.h.timeout(), indexes(out))
	}
	more := s.receive(t, c, id, ack, s.h.settle(), func([]got) bool { return false })
	return append(out, more...)
}

// until receives until message want arrived; it fails t if it did not
// within Timeout.
func (s *suite) until(t *testing.T, c driver.Consumer, id string, want int, ack bool) []got {
	t.Helper()
	out := s.receive(t, c, id, ack, s.h.timeout(), func(g []got) bool {
		return len(g) > 0 && slices.ContainsFunc(g, func(x got) bool { return x.i == want })
	})
	if !slices.ContainsFunc(out, func(x got) bool { return x.i == want }) {
		t.Fatalf("message %d not received within %v (got %v)", want, s.h.timeout(), indexes(out))
	}
	return out
}

// indexes lists the message indexes of gs compactly, in arrival order, as
// runs like "0-48 50-98".
func indexes(gs []got) string {
	is := make([]int, len(gs))
	for k, g := range gs {
		is[k] = g.i
	}
	return ranges(is)
}

// ranges writes ascending runs of is as "a-b", others one by one.
func ranges(is []int) string {
	var b []byte
	for k := 0; k < len(is); {
		j := k
		for j+1 < len(is) && is[j+1] == is[j]+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		if j > k {
			b = fmt.Appendf(b, "%d-%d", is[k], is[j])
		} else {
			b = strconv.AppendInt(b, int64(is[k]), 10)
		}
		k = j + 1
		if len(b) > 400 {
			return string(b) + " ..."
		}
	}
	return "[" + string(b) + "]"
}

// expectExactly fails t unless gs holds each of want exactly once.
func expectExactly(t *testing.T, what string, gs []got, want []int) {
	t.Helper()
	seen := map[int]int{}
	for _, g := range gs {
		seen[g.i]++
	}
	var missing, dup, extra []int
	wanted := map[int]bool{}
	for _, i := range want {
		wanted[i] = true
		switch seen[i] {
		case 0:
			missing = append(missing, i)
		case 1:
		default:
			dup = append(dup, i)
		}
	}
	for i := range seen {
		if !wanted[i] {
			extra = append(extra, i)
		}
	}
	if len(missing)+len(dup)+len(extra) > 0 {
		slices.Sort(dup)
		slices.Sort(extra)
		t.Fatalf("%s: want each of %d messages exactly once; missing %s, duplicated %s, unexpected %s", what, len(want), ranges(missing), ranges(dup), ranges(extra))
	}
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func (s *suite) skipUnless(t *testing.T, declared bool, capability string) {
	t.Helper()
	if !declared {
		t.Skipf("capability %s not declared by %s: not tested", capability, s.info.Name)
	}
}

func (s *suite) testInfo(t *testing.T) {
	info := s.info
	if info.Name == "" || info.Client == "" || info.ClientVersion == "" {
		t.Errorf("Info must name the adapter, client library and its version: %+v", info)
	}
	if info.Protocol == "" {
		t.Errorf("Info.Protocol is empty")
	}
	if info.Capabilities.MaxBatch < 0 {
		t.Errorf("Capabilities.MaxBatch = %d, want >= 0", info.Capabilities.MaxBatch)
	}
	if info.BrokerVersion == "" {
		t.Logf("broker version unknown")
	}
}

func (s *suite) testProvision(t *testing.T) {
	dest := s.setup(t, "prov", 2, 0)
	// Idempotent: a second Provision of the same destination succeeds.
	cleanup, err := s.drv.Provision(s.ctx(t), dest)
	if err != nil {
		t.Fatalf("second Provision of %s: %v", dest.Name, err)
	}
	if cleanup == nil {
		t.Fatalf("second Provision returned a nil cleanup")
	}
	// The destination is usable.
	id := randSuffix()
	p := s.producer(t, s.drv, dest)
	s.send(t, p, messages(id, 0, 1, oneKey))
	c := s.consumer(t, s.drv, dest, dest.Groups[1], 0)
	expectExactly(t, "after repeated Provision", s.collect(t, c, id, 1, true), []int{0})
}

func (s *suite) testRoundTrip(t *testing.T) {
	dest := s.setup(t, "rt", 1, 0)
	c := s.consumer(t, s.drv, dest, dest.Groups[0], 0)
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	key := []byte("key-\x00\xff-" + id)
	b := body(id, 0)
	for len(b) < 4096 {
		b = append(b, byte(len(b)))
	}
	sendKey, sendBody := bytes.Clone(key), bytes.Clone(b)
	if err := p.Send(s.ctx(t), []driver.Message{{Key: sendKey, Body: sendBody}}); err != nil {
		t.Fatalf("send: %v", err)
	}
	// The caller may reuse its buffers once Send returned.
	clear(sendKey)
	clear(sendBody)
	ctx := s.ctx(t)
	ds, err := c.Receive(ctx, 10)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(ds) != 1 {
		t.Fatalf("received %d deliveries, want 1", len(ds))
	}
	if !bytes.Equal(ds[0].Body, b) {
		t.Errorf("body changed in transit: got %d bytes %q..., want %d bytes", len(ds[0].Body), ds[0].Body[:min(32, len(ds[0].Body))], len(b))
	}
	if !bytes.Equal(ds[0].Key, key) {
		t.Errorf("key changed in transit: got %q, want %q", ds[0].Key, key)
	}
	if s.caps.RedeliveryFlag && ds[0].Redelivered {
		t.Errorf("first delivery marked Redelivered")
	}
	if err := c.Ack(ctx, ds); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

func (s *suite) testProfiles(t *testing.T) {
	for _, profile := range driver.Profiles() {
		t.Run(string(profile), func(t *testing.T) {
			d, err := s.h.New(s.ctx(t), profile)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skipf("profile %s unsupported: %v", profile, err)
			}
			if err != nil {
				t.Fatalf("open driver with profile %s: %v", profile, err)
			}
			t.Cleanup(func() { _ = d.Close() })
			dest := s.newDest("prof", 1, 0)
			s.provision(t, d, dest)
			c := s.consumer(t, d, dest, dest.Groups[0], 0)
			p := s.producer(t, d, dest)
			id := randSuffix()
			s.send(t, p, messages(id, 0, 10, oneKey))
			expectExactly(t, "profile "+string(profile), s.collect(t, c, id, 10, true), seq(0, 10))
		})
	}
}

func (s *suite) testBatches(t *testing.T) {
	sizes := []int{1, 7, 100, 500}
	if m := s.caps.MaxBatch; m > 0 {
		sizes = slices.DeleteFunc(sizes, func(n int) bool { return n >= m })
		sizes = append(sizes, m)
	}
	dest := s.setup(t, "batch", 1, 0)
	c := s.consumer(t, s.drv, dest, dest.Groups[0], 0)
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	total := 0
	for _, n := range sizes {
		ms := messages(id, total, total+n, func(i int) []byte { return []byte("key-" + strconv.Itoa(i%3)) })
		if err := p.Send(s.ctx(t), ms); err != nil {
			t.Fatalf("Send of a batch of %d: %v", n, err)
		}
		total += n
	}
	gs := s.collect(t, c, id, total, true)
	expectExactly(t, fmt.Sprintf("batches of %v", sizes), gs, seq(0, total))
	for _, g := range gs {
		if want := "key-" + strconv.Itoa(g.i%3); string(g.key) != want {
			t.Fatalf("message %d: key %q, want %q", g.i, g.key, want)
		}
	}
}

func (s *suite) testAck(t *testing.T) {
	dest := s.setup(t, "ack", 1, 0)
	group := dest.Groups[0]
	c1, err := s.drv.NewConsumer(s.ctx(t), dest, driver.ConsumerOptions{Group: group})
	if err != nil {
		t.Fatal(err)
	}
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	s.send(t, p, messages(id, 0, 20, oneKey))
	expectExactly(t, "first consumer", s.collect(t, c1, id, 20, true), seq(0, 20))
	if err := c1.Close(); err != nil {
		t.Fatalf("close consumer: %v", err)
	}
	// A new consumer of the group sees only what was sent after: acked
	// messages are gone for good.
	c2 := s.consumer(t, s.drv, dest, group, 0)
	s.send(t, p, messages(id, 20, 21, oneKey))
	gs := s.until(t, c2, id, 20, true)
	gs = append(gs, s.receive(t, c2, id, true, s.h.settle(), func([]got) bool { return false })...)
	expectExactly(t, "after re-opening the group", gs, []int{20})
}

func (s *suite) testUnackedAfterClose(t *testing.T) {
	dest := s.setup(t, "unacked", 1, 0)
	group := dest.Groups[0]
	c1, err := s.drv.NewConsumer(s.ctx(t), dest, driver.ConsumerOptions{Group: group})
	if err != nil {
		t.Fatal(err)
	}
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	s.send(t, p, messages(id, 0, 5, oneKey))
	first := s.receive(t, c1, id, false, s.h.timeout(), func(g []got) bool { return len(g) >= 5 })
	expectExactly(t, "first delivery", first, seq(0, 5))
	if s.caps.RedeliveryFlag {
		for _, g := range first {
			if g.redelivered {
				t.Errorf("message %d: first delivery marked Redelivered", g.i)
			}
		}
	}
	if err := c1.Close(); err != nil {
		t.Fatalf("close consumer: %v", err)
	}
	c2 := s.consumer(t, s.drv, dest, group, 0)
	again := s.collect(t, c2, id, 5, true)
	expectExactly(t, "unacked messages after the consumer closed", again, seq(0, 5))
	if s.caps.RedeliveryFlag {
		for _, g := range again {
			if !g.redelivered {
				t.Errorf("message %d: redelivery not marked Redelivered (RedeliveryFlag declared)", g.i)
			}
		}
	}
}

func (s *suite) testNack(t *testing.T) {
	dest := s.setup(t, "nack", 1, 0)
	c := s.consumer(t, s.drv, dest, dest.Groups[0], 0)
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	if !s.caps.Nack {
		s.send(t, p, messages(id, 0, 1, oneKey))
		gs := s.receive(t, c, id, false, s.h.timeout(), func(g []got) bool { return len(g) >= 1 })
		if len(gs) != 1 {
			t.Fatalf("received %d messages, want 1", len(gs))
		}
		err := c.Nack(s.ctx(t), []*driver.Delivery{gs[0].d})
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Nack without the Nack capability: got %v, want errors.ErrUnsupported", err)
		}
		if err := c.Ack(s.ctx(t), []*driver.Delivery{gs[0].d}); err != nil {
			t.Errorf("ack: %v", err)
		}
		t.Skipf("capability Nack not declared by %s: only checked that Nack returns ErrUnsupported", s.info.Name)
	}
	s.send(t, p, messages(id, 0, 3, oneKey))
	first := s.receive(t, c, id, false, s.h.timeout(), func(g []got) bool { return len(g) >= 3 })
	expectExactly(t, "first delivery", first, seq(0, 3))
	ds := make([]*driver.Delivery, len(first))
	for k, g := range first {
		ds[k] = g.d
	}
	if err := c.Nack(s.ctx(t), ds); err != nil {
		t.Fatalf("nack: %v", err)
	}
	again := s.collect(t, c, id, 3, true)
	expectExactly(t, "after Nack", again, seq(0, 3))
	if s.caps.RedeliveryFlag {
		for _, g := range again {
			if !g.redelivered {
				t.Errorf("message %d: redelivery after Nack not marked Redelivered", g.i)
			}
		}
	}
}

func (s *suite) testCompeting(t *testing.T) {
	s.skipUnless(t, s.caps.CompetingConsumers, "CompetingConsumers")
	dest := s.setup(t, "compete", 1, 2)
	group := dest.Groups[0]
	cs := []driver.Consumer{
		s.consumer(t, s.drv, dest, group, 1),
		s.consumer(t, s.drv, dest, group, 1),
	}
	p := s.producer(t, s.drv, dest)
	warm, test := randSuffix(), randSuffix()
	key := func(i int) []byte { return []byte("key-" + strconv.Itoa(i%8)) }

	ctx, cancel := context.WithTimeout(context.Background(), 2*s.h.timeout()+s.h.settle())
	defer cancel()
	recs, wait := s.consumeAll(ctx, cs, []string{warm, test}, 1)
	defer wait()

	// Warm-up, until each consumer has received something (real brokers
	// need a rebalance first); duplicates do not count here.
	deadline := time.Now().Add(s.h.timeout())
	per := make([]int, len(cs))
	n := 0
	for per[0] == 0 || per[1] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("within %v, the consumers received %v warm-up messages: the group does not share messages between its consumers", s.h.timeout(), per)
		}
		s.send(t, p, messages(warm, n, n+2, key))
		n += 2
		round := time.NewTimer(s.h.settle() / 4)
	drain:
		for {
			select {
			case r := <-recs:
				if r.run == warm {
					per[r.who]++
				}
			case <-round.C:
				break drain
			}
		}
	}
	t.Logf("warm-up: %d messages sent, received per consumer %v", n, per)

	const total = 100
	s.send(t, p, messages(test, 0, total, key))
	var gs []got
	who := map[int][]int{}
	timeout := time.NewTimer(s.h.timeout())
	defer timeout.Stop()
	for len(gs) < total {
		select {
		case r := <-recs:
			if r.run == test {
				gs = append(gs, r.g)
				who[r.g.i] = append(who[r.g.i], r.who)
			}
		case <-timeout.C:
			t.Fatalf("received %d of %d messages within %v", len(gs), total, s.h.timeout())
		}
	}
	settle := time.NewTimer(s.h.settle())
	defer settle.Stop()
	for done := false; !done; {
		select {
		case r := <-recs:
			if r.run == test {
				gs = append(gs, r.g)
				who[r.g.i] = append(who[r.g.i], r.who)
			}
		case <-settle.C:
			done = true
		}
	}
	if err := wait(); err != nil {
		t.Fatalf("consumers: %v", err)
	}
	for i, ws := range who {
		if len(ws) > 1 {
			t.Errorf("message %d delivered to consumers %v: competing consumers must receive disjoint sets", i, ws)
		}
	}
	expectExactly(t, "competing consumers together", gs, seq(0, total))
	clear(per)
	for _, ws := range who {
		per[ws[0]]++
	}
	t.Logf("messages per consumer: %v", per)
}

// runRec is a message of one of several runs received by consumer who.
type runRec struct {
	who int
	run string
	g   got
}

// consumeAll runs one receiving goroutine per consumer, acking each batch,
// until ctx is done, and passes on every message of runs. wait stops and
// waits for the goroutines (it may be called more than once) and reports the
// first receive or ack error.
func (s *suite) consumeAll(ctx context.Context, cs []driver.Consumer, runs []string, max int) (<-chan runRec, func() error) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan runRec, 4096)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	var once sync.Once
	for who, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := c.Receive(ctx, max)
				if err != nil {
					if ctx.Err() == nil {
						firstErr.CompareAndSwap(nil, &err)
					}
					return
				}
				if err := c.Ack(ctx, ds); err != nil {
					if ctx.Err() == nil {
						firstErr.CompareAndSwap(nil, &err)
					}
					return
				}
				for _, d := range ds {
					for _, run := range runs {
						if i, ok := parse(run, d.Body); ok {
							select {
							case out <- runRec{who: who, run: run, g: got{i: i, key: d.Key, redelivered: d.Redelivered}}:
							case <-ctx.Done():
								return
							}
						}
					}
				}
			}
		}()
	}
	var result error
	return out, func() error {
		once.Do(func() {
			cancel()
			wg.Wait()
			if p := firstErr.Load(); p != nil {
				result = *p
			}
		})
		return result
	}
}

func (s *suite) testFanOut(t *testing.T) {
	s.skipUnless(t, s.caps.FanOut, "FanOut")
	dest := s.setup(t, "fanout", 3, 0)
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	// Sent before any consumer subscribes: Provision promises every group
	// keeps them.
	const n = 50
	s.send(t, p, messages(id, 0, n, oneKey))
	for _, group := range dest.Groups {
		c := s.consumer(t, s.drv, dest, group, 0)
		expectExactly(t, "group "+group, s.collect(t, c, id, n, true), seq(0, n))
	}
}

func (s *suite) testPerKeyOrder(t *testing.T) {
	s.skipUnless(t, s.caps.PerKeyOrder, "PerKeyOrder")
	dest := s.setup(t, "order", 1, 2)
	c := s.consumer(t, s.drv, dest, dest.Groups[0], 0)
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	const n, keys = 400, 4
	key := func(i int) []byte { return []byte("key-" + strconv.Itoa(i%keys)) }
	for from := 0; from < n; from += 20 {
		s.send(t, p, messages(id, from, from+20, key))
	}
	gs := s.collect(t, c, id, n, true)
	expectExactly(t, "per-key order", gs, seq(0, n))
	last := map[string]int{}
	for _, g := range gs {
		if g.redelivered {
			continue
		}
		k := string(g.key)
		if prev, ok := last[k]; ok && g.i < prev {
			t.Fatalf("key %s: message %d arrived after %d", k, g.i, prev)
		}
		last[k] = g.i
	}
}

func (s *suite) testMaxLength(t *testing.T) {
	dest := s.newDest("maxlen", 1, 0)
	dest.MaxLength = 5
	if !s.caps.MaxLengthReject {
		cleanup, err := s.drv.Provision(s.ctx(t), dest)
		if err == nil {
			_ = cleanup(s.ctx(t))
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Provision with MaxLength > 0 without the MaxLengthReject capability: got %v, want errors.ErrUnsupported", err)
		}
		t.Skipf("capability MaxLengthReject not declared by %s: only checked that Provision refuses MaxLength", s.info.Name)
	}
	s.provision(t, s.drv, dest)
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	// No consumer yet, so all five stay waiting; the next five overflow.
	const n = 10
	ms := messages(id, 0, n, oneKey)
	var confirmed, rejected []int
	step := n
	if s.caps.MaxBatch > 0 {
		step = s.caps.MaxBatch
	}
	for from := 0; from < n; from += step {
		batch := ms[from:min(from+step, n)]
		err := p.Send(s.ctx(t), batch)
		for k := range batch {
			switch e := driver.MessageErr(err, len(batch), k); {
			case e == nil:
				confirmed = append(confirmed, from+k)
			case errors.Is(e, driver.ErrRejected):
				rejected = append(rejected, from+k)
			default:
				t.Fatalf("message %d: %v (want nil or ErrRejected)", from+k, e)
			}
		}
	}
	if !slices.Equal(confirmed, seq(0, 5)) || !slices.Equal(rejected, seq(5, n)) {
		t.Fatalf("MaxLength 5: confirmed %v, rejected %v; want 0-4 confirmed and 5-9 rejected", confirmed, rejected)
	}
	if dr, ok := s.drv.(driver.DepthReader); ok && s.caps.Depth {
		s.eventuallyDepth(t, dr, dest, dest.Groups[0], 5)
	}
	c := s.consumer(t, s.drv, dest, dest.Groups[0], 0)
	expectExactly(t, "accepted messages", s.collect(t, c, id, 5, true), seq(0, 5))
	// Room again once consumed.
	if err := p.Send(s.ctx(t), messages(id, n, n+1, oneKey)); err != nil {
		t.Fatalf("send after draining: %v", err)
	}
	expectExactly(t, "after draining", s.collect(t, c, id, 1, true), []int{n})
}

// eventuallyDepth polls Depth until it equals want or Timeout passes (broker
// statistics may lag).
func (s *suite) eventuallyDepth(t *testing.T, dr driver.DepthReader, dest driver.Destination, group string, want int64) {
	t.Helper()
	deadline := time.Now().Add(s.h.timeout())
	for {
		n, err := dr.Depth(s.ctx(t), dest, group)
		if err != nil {
			t.Fatalf("Depth: %v", err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Depth = %d, want %d (within %v)", n, want, s.h.timeout())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *suite) testDepth(t *testing.T) {
	s.skipUnless(t, s.caps.Depth, "Depth")
	dr, ok := s.drv.(driver.DepthReader)
	if !ok {
		t.Fatalf("Depth declared but %T does not implement driver.DepthReader", s.drv)
	}
	dest := s.setup(t, "depth", 2, 0)
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	s.eventuallyDepth(t, dr, dest, dest.Groups[0], 0)
	s.send(t, p, messages(id, 0, 7, oneKey))
	s.eventuallyDepth(t, dr, dest, dest.Groups[0], 7)
	s.eventuallyDepth(t, dr, dest, dest.Groups[1], 7)
	c := s.consumer(t, s.drv, dest, dest.Groups[0], 0)
	expectExactly(t, "drain", s.collect(t, c, id, 7, true), seq(0, 7))
	s.eventuallyDepth(t, dr, dest, dest.Groups[0], 0)
	s.eventuallyDepth(t, dr, dest, dest.Groups[1], 7)
}

func (s *suite) testReplay(t *testing.T) {
	s.skipUnless(t, s.caps.Replay, "Replay")
	dest := s.setup(t, "replay", 1, 0)
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	s.send(t, p, messages(id, 0, 10, oneKey))
	// A group created after the messages were sent reads them from the
	// start of the retained log.
	late := dest
	late.Groups = append(slices.Clone(dest.Groups), dest.Groups[0]+"-late")
	s.provision(t, s.drv, late)
	c, err := s.drv.NewConsumer(s.ctx(t), late, driver.ConsumerOptions{Group: late.Groups[1], FromStart: true})
	if err != nil {
		t.Fatalf("new consumer FromStart: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	expectExactly(t, "late group from start", s.collect(t, c, id, 10, true), seq(0, 10))
}

func (s *suite) testCloseUnblocks(t *testing.T) {
	dest := s.setup(t, "close", 1, 0)
	c, err := s.drv.NewConsumer(s.ctx(t), dest, driver.ConsumerOptions{Group: dest.Groups[0]})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*s.h.timeout())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Receive(ctx, 1)
		errc <- err
	}()
	// Give Receive a moment to block; the outcome is the same either way.
	time.Sleep(100 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, driver.ErrClosed) {
			t.Errorf("Receive pending during Close returned %v, want an error wrapping driver.ErrClosed", err)
		}
	case <-time.After(s.h.timeout()):
		t.Fatalf("Receive still blocked %v after Close", s.h.timeout())
	}
	if _, err := c.Receive(s.ctx(t), 1); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Receive after Close returned %v, want an error wrapping driver.ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func (s *suite) testReceiveContext(t *testing.T) {
	dest := s.setup(t, "ctx", 1, 0)
	c := s.consumer(t, s.drv, dest, dest.Groups[0], 0)
	for _, tc := range []struct {
		name string
		make func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.make()
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				ds, err := c.Receive(ctx, 1)
				if err == nil {
					err = fmt.Errorf("Receive on an empty queue returned %d deliveries", len(ds))
				}
				errc <- err
			}()
			select {
			case err := <-errc:
				if !errors.Is(err, tc.want) {
					t.Errorf("Receive with a %s context returned %v, want %v", tc.name, err, tc.want)
				}
			case <-time.After(s.h.timeout()):
				t.Fatalf("Receive ignored its context for %v", s.h.timeout())
			}
		})
	}
	// The consumer still works afterwards.
	p := s.producer(t, s.drv, dest)
	id := randSuffix()
	s.send(t, p, messages(id, 0, 1, oneKey))
	expectExactly(t, "after cancelled receives", s.collect(t, c, id, 1, true), []int{0})
}

func (s *suite) testSendAfterClose(t *testing.T) {
	dest := s.setup(t, "sclose", 1, 0)
	p, err := s.drv.NewProducer(s.ctx(t), dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	id := randSuffix()
	err = p.Send(s.ctx(t), messages(id, 0, 1, oneKey))
	if !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Send after Close returned %v, want an error wrapping driver.ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func (s *suite) testTransaction(t *testing.T) {
	tx, isTx := s.drv.(driver.Transactor)
	if !s.caps.NativeTransaction {
		t.Skipf("capability NativeTransaction not declared by %s: not tested (implements Transactor: %v)", s.info.Name, isTx)
	}
	if !isTx {
		t.Fatalf("NativeTransaction declared but %T does not implement driver.Transactor", s.drv)
	}
	dest := s.setup(t, "tx", 1, 0)
	id := randSuffix()
	// decide holds the check-back answer per message index.
	var mu sync.Mutex
	decide := map[int]driver.TxState{}
	checked := map[int]int{}
	check := func(ctx context.Context, m driver.Message) driver.TxState {
		i, ok := parse(id, m.Body)
		mu.Lock()
		defer mu.Unlock()
		if !ok {
			return driver.TxRollback
		}
		checked[i]++
		return decide[i]
	}
	tp, err := tx.NewTxProducer(s.ctx(t), dest, check)
	if err != nil {
		t.Fatalf("new tx producer: %v", err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	c := s.consumer(t, s.drv, dest, dest.Groups[0], 0)

	sendTx := func(i int, local, want driver.TxState) {
		t.Helper()
		ran := false
		state, err := tp.SendTx(s.ctx(t), driver.Message{Key: []byte("tx"), Body: body(id, i)}, func(context.Context) driver.TxState {
			ran = true
			return local
		})
		if err != nil {
			t.Fatalf("SendTx %d: %v", i, err)
		}
		if !ran {
			t.Fatalf("SendTx %d did not run the local transaction", i)
		}
		if state != want {
			t.Fatalf("SendTx %d returned %v, want %v", i, state, want)
		}
	}
	checkedOnce := func(i int) {
		t.Helper()
		deadline := time.Now().Add(s.h.timeout())
		for {
			mu.Lock()
			n := checked[i]
			mu.Unlock()
			if n > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %d: no check-back within %v", i, s.h.timeout())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// 0 commits; 1 rolls back, then 2 commits: 1 must never show.
	sendTx(0, driver.TxCommit, driver.TxCommit)
	expectExactly(t, "committed", s.until(t, c, id, 0, true), []int{0})
	sendTx(1, driver.TxRollback, driver.TxRollback)
	sendTx(2, driver.TxCommit, driver.TxCommit)
	gs := s.until(t, c, id, 2, true)
	// 3 is unknown, and check-back commits it.
	mu.Lock()
	decide[3] = driver.TxCommit
	decide[4] = driver.TxRollback
	mu.Unlock()
	sendTx(3, driver.TxUnknown, driver.TxUnknown)
	gs = append(gs, s.until(t, c, id, 3, true)...)
	checkedOnce(3)
	// 4 is unknown, and check-back rolls it back: after the check, 5
	// commits, and 4 must never show.
	sendTx(4, driver.TxUnknown, driver.TxUnknown)
	checkedOnce(4)
	sendTx(5, driver.TxCommit, driver.TxCommit)
	gs = append(gs, s.until(t, c, id, 5, true)...)
	gs = append(gs, s.receive(t, c, id, true, s.h.settle(), func([]got) bool { return false })...)
	expectExactly(t, "transactions 1-5 (1 and 4 rolled back)", gs, []int{2, 3, 5})
	mu.Lock()
	defer mu.Unlock()
	for _, i := range []int{0, 1, 2, 5} {
		if checked[i] > 0 {
			t.Logf("message %d with a decided outcome was checked back %d times", i, checked[i])
		}
	}
}

func (s *suite) testPersistence(t *testing.T) {
	s.skipUnless(t, s.caps.Persistent, "Persistent")
	if s.h.Restart == nil {
		t.Skip("Harness.Restart is nil: persistence across a broker restart not tested")
	}
	dest := s.newDest("persist", 1, 0)
	d1, err := s.h.New(s.ctx(t), driver.Durable)
	if err != nil {
		t.Fatalf("open driver: %v", err)
	}
	if _, err := d1.Provision(s.ctx(t), dest); err != nil {
		_ = d1.Close()
		t.Fatalf("provision: %v", err)
	}
	id := randSuffix()
	p, err := d1.NewProducer(s.ctx(t), dest, driver.ProducerOptions{})
	if err != nil {
		_ = d1.Close()
		t.Fatalf("new producer: %v", err)
	}
	const n = 20
	ms := messages(id, 0, n, oneKey)
	if err := p.Send(s.ctx(t), ms); err != nil {
		_ = d1.Close()
		t.Fatalf("send: %v", err)
	}
	_ = p.Close()
	_ = d1.Close()
	// The shared driver does not survive a restart on every broker.
	s.closeShared()

	if err := s.h.Restart(s.ctx(t)); err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.h.timeout())
	defer cancel()
	var d2 driver.Driver
	for {
		d2, err = s.h.New(ctx, driver.Durable)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("reconnect after restart: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Cleanup(func() { _ = d2.Close() })
	s.provision(t, d2, dest)
	c := s.consumer(t, d2, dest, dest.Groups[0], 0)
	expectExactly(t, "confirmed durable messages after a restart", s.collect(t, c, id, n, true), seq(0, n))
}
