package drivertest

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Consumer groups: competing consumers, fan-out and per-key order.

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
