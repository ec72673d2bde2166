package load_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// script is a driver.Consumer that delivers its bodies in batches of at
// most max, fails Receive with failAt's error once when that many bodies
// were delivered, and records what was acked, nacked and whether it was
// closed. After the last body Receive blocks until ctx ends.
type script struct {
	bodies  [][]byte
	next    int
	failAt  int // fail once when next == failAt (-1: never)
	failErr error
	failAck error // the first Ack fails with it, when non-nil

	mu           sync.Mutex
	acked, nacks []int // envelope sequence numbers
	closed       bool
}

func seqOf(d *driver.Delivery) int {
	h, err := envelope.Parse(d.Body)
	if err != nil {
		return -1
	}
	return int(h.Seq)
}

func (s *script) Receive(ctx context.Context, max int) ([]*driver.Delivery, error) {
	if s.next == s.failAt {
		s.failAt = -1
		return nil, s.failErr
	}
	if s.next >= len(s.bodies) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var ds []*driver.Delivery
	for ; s.next < len(s.bodies) && len(ds) < max; s.next++ {
		ds = append(ds, &driver.Delivery{Body: s.bodies[s.next]})
	}
	return ds, nil
}

func (s *script) settle(dst *[]int, ds []*driver.Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		*dst = append(*dst, seqOf(d))
	}
}

func (s *script) Ack(_ context.Context, ds []*driver.Delivery) error {
	if err := s.failAck; err != nil {
		s.failAck = nil
		return err
	}
	s.settle(&s.acked, ds)
	return nil
}

func (s *script) Nack(_ context.Context, ds []*driver.Delivery) error {
	s.settle(&s.nacks, ds)
	return nil
}

func (s *script) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *script) result() (acked, nacked []int, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, n := slices.Clone(s.acked), slices.Clone(s.nacks)
	slices.Sort(a)
	slices.Sort(n)
	return a, n, s.closed
}

// stamped returns n bodies of producer 0 (sequences 0..n-1) sent and
// confirmed through st.
func stamped(st *probe.Stick, n int) [][]byte {
	pr := st.Producer(0)
	var bodies [][]byte
	var msgs []driver.Message
	for range n {
		b := make([]byte, 64)
		pr.Stamp(b, time.Now(), time.Now())
		bodies = append(bodies, b)
		msgs = append(msgs, driver.Message{Body: b})
	}
	pr.Sent(msgs, nil, time.Now())
	return bodies
}

// waitFor polls cond until it holds or the test's patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestLoopVerdicts: each delivery is settled as its handler said, a
// foreign body is acked without the handler, an intercepted one is
// neither recorded nor handled; in order and pipelined alike.
func TestLoopVerdicts(t *testing.T) {
	for _, parallel := range []int{1, 4} {
		t.Run(map[int]string{1: "in-order", 4: "pipelined"}[parallel], func(t *testing.T) {
			st := probe.New(probe.Options{RunID: 5, Groups: []string{"g"}})
			bodies := stamped(st, 10)
			ping := []byte("ping")
			foreign := envelope.New(64, envelope.Header{RunID: 6, Seq: 99})
			bodies = append(bodies[:5:5], append([][]byte{ping, foreign}, bodies[5:]...)...)
			sc := &script{bodies: bodies, failAt: -1}
			var mu sync.Mutex
			var handled []int
			h := func(_ context.Context, d *driver.Delivery, hd envelope.Header, kind probe.Kind) load.Verdict {
				mu.Lock()
				handled = append(handled, int(hd.Seq))
				mu.Unlock()
				if kind != probe.First {
					t.Errorf("seq %d handled as kind %v", hd.Seq, kind)
				}
				if hd.Seq%3 == 0 {
					return load.Nack
				}
				return load.Ack
			}
			intercepted := 0
			opts := load.LoopOptions{Batch: 3, Parallel: parallel, Probe: st.Consumer("g"),
				Intercept: func(d *driver.Delivery) (load.Verdict, bool) {
					if string(d.Body) == "ping" {
						intercepted++
						return load.Ack, true
					}
					return load.Ack, false
				}}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- load.Loop(ctx, context.Background(), sc, opts, h) }()
			waitFor(t, "every delivery settled", func() bool {
				a, n, _ := sc.result()
				return len(a)+len(n) == len(bodies)
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Loop returned %v", err)
			}
			acked, nacked, closed := sc.result()
			if want := []int{-1, 1, 2, 4, 5, 7, 8, 99}; !slices.Equal(acked, want) {
				t.Errorf("acked %v, want %v", acked, want)
			}
			if want := []int{0, 3, 6, 9}; !slices.Equal(nacked, want) {
				t.Errorf("nacked %v, want %v", nacked, want)
			}
			slices.Sort(handled)
			if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(handled, want) {
				t.Errorf("handled %v, want %v", handled, want)
			}
			if intercepted != 1 || closed {
				t.Errorf("intercepted %d closed %v, want 1 and false (the caller owns c without Reopen)", intercepted, closed)
			}
			if a := st.Summary(true).Accounting; a.Received != 10 || a.Foreign != 1 || a.Duplicated != 0 {
				t.Errorf("accounting %+v", a)
			}
		})
	}
}

// TestLoopCrashReopens: a Crash verdict settles what came before it,
// abandons the rest of the batch, closes the consumer and continues on the
// one Reopen returns, which gets the abandoned deliveries again; a failed
// Receive reopens too. Without Reopen, Crash ends the loop with ErrCrash.
func TestLoopCrashReopens(t *testing.T) {
	st := probe.New(probe.Options{RunID: 5, Groups: []string{"g"}})
	bodies := stamped(st, 8)
	reset := errors.New("connection reset")
	first := &script{bodies: bodies, failAt: -1}
	crashed := false
	h := func(_ context.Context, _ *driver.Delivery, hd envelope.Header, _ probe.Kind) load.Verdict {
		if hd.Seq == 3 && !crashed {
			crashed = true
			return load.Crash
		}
		return load.Ack
	}
	var mu sync.Mutex
	consumers := []*script{first}
	var causes []error
	ackedAll := func() []int {
		mu.Lock()
		defer mu.Unlock()
		var all []int
		for _, sc := range consumers {
			acked, _, _ := sc.result()
			all = append(all, acked...)
		}
		slices.Sort(all)
		return all
	}
	reopen := func(_ context.Context, cause error) (driver.Consumer, error) {
		// The broker redelivers what no closed consumer acked.
		acked := ackedAll()
		var rest [][]byte
		for _, b := range bodies {
			h, _ := envelope.Parse(b)
			if !slices.Contains(acked, int(h.Seq)) {
				rest = append(rest, b)
			}
		}
		sc := &script{bodies: rest, failAt: -1}
		mu.Lock()
		defer mu.Unlock()
		if len(consumers) == 1 {
			sc.failAt, sc.failErr = 3, reset
		}
		causes = append(causes, cause)
		consumers = append(consumers, sc)
		return sc, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts := load.LoopOptions{Batch: 3, Probe: st.Consumer("g"), Reopen: reopen}
	go func() { done <- load.Loop(ctx, ctx, first, opts, h) }()
	waitFor(t, "every message acked", func() bool { return len(ackedAll()) == 8 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Loop returned %v", err)
	}
	if len(consumers) != 3 || !errors.Is(causes[0], load.ErrCrash) || !errors.Is(causes[1], reset) {
		t.Fatalf("reopened %d times with causes %v, want ErrCrash then %v", len(consumers)-1, causes, reset)
	}
	if acked, _, closed := first.result(); !slices.Equal(acked, []int{0, 1, 2}) || !closed {
		t.Errorf("first consumer acked %v closed %v, want [0 1 2] and closed", acked, closed)
	}
	for i, sc := range consumers {
		if _, _, closed := sc.result(); !closed {
			t.Errorf("consumer %d was left open", i)
		}
	}
	if all, want := ackedAll(), []int{0, 1, 2, 3, 4, 5, 6, 7}; !slices.Equal(all, want) {
		t.Errorf("acked %v over all consumers, want %v", all, want)
	}
	// Seq 3 came twice: recorded, then abandoned by the crash.
	if a := st.Summary(true).Accounting; a.Received != 8 || a.Lost != 0 || a.Duplicated == 0 {
		t.Errorf("accounting %+v, want 8 received, none lost, some duplicated", a)
	}

	sc := &script{bodies: stamped(st, 4), failAt: -1}
	crash := func(context.Context, *driver.Delivery, envelope.Header, probe.Kind) load.Verdict { return load.Crash }
	if err := load.Loop(context.Background(), context.Background(), sc, load.LoopOptions{Batch: 2}, crash); !errors.Is(err, load.ErrCrash) {
		t.Fatalf("without Reopen Loop returned %v, want ErrCrash", err)
	}
	if acked, nacked, closed := sc.result(); len(acked)+len(nacked) != 0 || closed {
		t.Errorf("without Reopen: acked %v nacked %v closed %v, want nothing settled and c left open", acked, nacked, closed)
	}
}

// TestLoopStops: cancelling recv lets the handlers in progress finish and
// settles them; cancelling work abandons them unsettled. In order and
// pipelined alike.
func TestLoopStops(t *testing.T) {
	for _, parallel := range []int{1, 4} {
		for _, graceful := range []bool{true, false} {
			st := probe.New(probe.Options{RunID: 5, Groups: []string{"g"}})
			sc := &script{bodies: stamped(st, 3), failAt: -1}
			started, release := make(chan struct{}, 3), make(chan struct{})
			h := func(ctx context.Context, _ *driver.Delivery, _ envelope.Header, _ probe.Kind) load.Verdict {
				started <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done():
				}
				return load.Ack
			}
			recv, stopRecv := context.WithCancel(context.Background())
			work, kill := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- load.Loop(recv, work, sc, load.LoopOptions{Batch: 3, Parallel: parallel, Probe: st.Consumer("g")}, h)
			}()
			<-started
			if graceful {
				stopRecv()
				close(release)
			} else {
				kill()
			}
			if err := <-done; err != nil {
				t.Fatalf("parallel %d graceful %v: Loop returned %v", parallel, graceful, err)
			}
			acked, _, _ := sc.result()
			switch {
			case graceful && len(acked) == 0:
				t.Errorf("parallel %d: a graceful stop settled nothing", parallel)
			case !graceful && len(acked) != 0:
				t.Errorf("parallel %d: a crash settled %v", parallel, acked)
			}
			stopRecv()
			kill()
		}
	}
}

// TestLoopReopensAfterFailedAck: with Reopen a failed Ack replaces the
// consumer, and what it did not ack comes again on the new one.
func TestLoopReopensAfterFailedAck(t *testing.T) {
	st := probe.New(probe.Options{RunID: 5, Groups: []string{"g"}})
	bodies := stamped(st, 4)
	dead := errors.New("ack on a dead connection")
	first := &script{bodies: bodies, failAt: -1, failAck: dead}
	var mu sync.Mutex
	var second *script
	var cause error
	reopen := func(_ context.Context, c error) (driver.Consumer, error) {
		mu.Lock()
		defer mu.Unlock()
		if second != nil {
			return nil, errors.New("reopened twice")
		}
		cause, second = c, &script{bodies: bodies, failAt: -1}
		return second, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- load.Loop(ctx, ctx, first, load.LoopOptions{Batch: 4, Probe: st.Consumer("g"), Reopen: reopen}, nil)
	}()
	waitFor(t, "the new consumer to ack", func() bool {
		mu.Lock()
		sc := second
		mu.Unlock()
		if sc == nil {
			return false
		}
		acked, _, _ := sc.result()
		_, _, closed := first.result()
		return closed && len(acked) == 4
	})
	cancel()
	if err := <-done; err != nil || !errors.Is(cause, dead) {
		t.Fatalf("Loop returned %v, Reopen's cause %v; want nil and %v", err, cause, dead)
	}
	if a := st.Summary(true).Accounting; a.Received != 4 || a.Duplicated != 4 {
		t.Errorf("accounting %+v, want 4 received and 4 duplicated (redelivered)", a)
	}
}
