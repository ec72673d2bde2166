package drivertest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Destination limits and positions: max length, depth and replay.

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
