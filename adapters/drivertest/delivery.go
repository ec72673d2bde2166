package drivertest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
)

// The basic contract: info, provisioning, round trips, profiles, batches,
// ack, redelivery after close, and nack.

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
