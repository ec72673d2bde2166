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
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
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
// addr, one host:port or a comma-separated list of a cluster's nodes: it
// dials each in turn (2s timeout each) until one answers, and skips the
// test when none does, or fails it when the environment sets
// MQBENCH_REQUIRE_BROKERS=1.
func RequireBroker(t *testing.T, name, addr string) {
	t.Helper()
	var err error
	for _, a := range strings.Split(addr, ",") {
		var conn net.Conn
		if conn, err = net.DialTimeout("tcp", strings.TrimSpace(a), 2*time.Second); err == nil {
			_ = conn.Close()
			return
		}
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
		{"Durability", s.testDurability},
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
