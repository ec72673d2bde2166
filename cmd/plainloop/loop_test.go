package main

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSession is an in-process broker: a send hands every body to the
// consumers (round robin), or fails when failEvery says so.
type fakeSession struct {
	mu        sync.Mutex
	consumers []func([]byte)
	next      int
	sends     atomic.Int64
	failEvery int64 // every n-th send fails; 0 = never
	idle      int   // idle consumers opened (onMsg nil)
	cleaned   atomic.Bool
}

type fakeSender struct{ s *fakeSession }

func (f *fakeSession) newProducer(context.Context) (sender, error) { return fakeSender{f}, nil }

func (f *fakeSession) newConsumer(_ context.Context, onMsg func([]byte)) (closer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if onMsg == nil {
		f.idle++
		return fakeCloser{}, nil // idle: takes nothing here
	}
	f.consumers = append(f.consumers, onMsg)
	return fakeCloser{}, nil
}

func (f *fakeSession) cleanup(context.Context) error { f.cleaned.Store(true); return nil }

type fakeCloser struct{}

func (fakeCloser) close() {}

func (p fakeSender) send(_ context.Context, bodies [][]byte) error {
	f := p.s
	if n := f.sends.Add(1); f.failEvery > 0 && n%f.failEvery == 0 {
		return errors.New("fake failure")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range bodies {
		if len(f.consumers) > 0 {
			f.consumers[f.next%len(f.consumers)](append([]byte(nil), b...))
			f.next++
		}
	}
	return nil
}

func (fakeSender) close() {}

// TestMeasureAccounting checks the counts, never the timings: every
// confirmed message is received in e2e mode, nothing is received in
// publish mode, failed rounds are counted and not confirmed.
func TestMeasureAccounting(t *testing.T) {
	base := config{Size: 64, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond, Drain: 2 * time.Second,
		Batch: 10, Producers: 2, Consumers: 2, Prefetch: 8, Queues: 1, OpTimeout: time.Second}
	tests := []struct {
		name      string
		mode      string
		rate      float64
		failEvery int64
		idle      int
	}{
		{name: "publish closed loop", mode: modePublish},
		{name: "e2e closed loop", mode: modeE2E},
		{name: "e2e on a schedule", mode: modeE2E, rate: 2000},
		{name: "publish with failures", mode: modePublish, failEvery: 3},
		{name: "publish with idle consumers", mode: modePublish, idle: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.Broker, c.Mode, c.Rate, c.Idle = "rabbitmq", tt.mode, tt.rate, tt.idle
			f := &fakeSession{failEvery: tt.failEvery}
			r, err := measureOn(context.Background(), c, f)
			if err != nil {
				t.Fatal(err)
			}
			if f.idle != tt.idle {
				t.Errorf("%d idle consumers opened, want %d", f.idle, tt.idle)
			}
			if !f.cleaned.Load() {
				t.Error("session not cleaned up")
			}
			if r.Sent == 0 || r.Confirmed == 0 {
				t.Fatalf("nothing sent or confirmed: %+v", r)
			}
			if got := r.Sent - r.Confirmed; got != 0 && tt.failEvery == 0 {
				t.Errorf("sent %d, confirmed %d, with no failure", r.Sent, r.Confirmed)
			}
			if tt.failEvery > 0 && (r.FailedSends == 0 || r.Sent <= r.Confirmed) {
				t.Errorf("failures not accounted: %+v", r)
			}
			switch tt.mode {
			case modeE2E:
				if r.Received != r.Confirmed {
					t.Errorf("received %d, confirmed %d (prime excluded)", r.Received, r.Confirmed)
				}
				if r.E2ECount == 0 || r.E2ECount > r.Received {
					t.Errorf("e2e count %d of %d received", r.E2ECount, r.Received)
				}
			case modePublish:
				if r.Received != 0 || r.E2ECount != 0 {
					t.Errorf("publish mode received %d (timed %d)", r.Received, r.E2ECount)
				}
			}
			if tt.rate > 0 {
				// A schedule never sends more than rate × (warm-up + window).
				if limit := int64(tt.rate*(c.Warmup+c.Duration).Seconds()) + int64(c.Producers); r.Sent > limit {
					t.Errorf("sent %d on a schedule allowing %d", r.Sent, limit)
				}
			}
		})
	}
}

// lateSession delivers every body on its own goroutine after a short
// delay, so a producer that does not wait has several messages in flight;
// it records the most timed messages (not the prime's, whose intended time
// is 0) it ever had in flight.
type lateSession struct {
	fakeSession
	inFlight, most atomic.Int64
}

type lateSender struct{ s *lateSession }

func (l *lateSession) newProducer(context.Context) (sender, error) { return lateSender{l}, nil }

func (p lateSender) send(_ context.Context, bodies [][]byte) error {
	l := p.s
	for _, b := range bodies {
		timed := binary.BigEndian.Uint64(b) != 0
		if timed {
			n := l.inFlight.Add(1)
			for m := l.most.Load(); n > m && !l.most.CompareAndSwap(m, n); m = l.most.Load() {
			}
		}
		b := append([]byte(nil), b...)
		go func() {
			time.Sleep(time.Millisecond)
			l.mu.Lock()
			deliver := l.consumers[0]
			l.mu.Unlock()
			if timed {
				l.inFlight.Add(-1)
			}
			deliver(b)
		}()
	}
	return nil
}

func (lateSender) close() {}

// TestClosedLoopOneInFlight checks that --closed-loop sends the next
// message only once the last was received, and that an e2e run without it
// has more in flight on the same session (so the check can fail).
func TestClosedLoopOneInFlight(t *testing.T) {
	c := config{Broker: "kafka", Mode: modeE2E, Size: 64, Duration: 100 * time.Millisecond, Warmup: 20 * time.Millisecond,
		Drain: 2 * time.Second, Batch: 1, Producers: 1, Consumers: 1, Prefetch: 8, Queues: 1, OpTimeout: time.Second}
	for _, closed := range []bool{true, false} {
		c.ClosedLoop = closed
		l := &lateSession{}
		r, err := measureOn(context.Background(), c, l)
		if err != nil {
			t.Fatal(err)
		}
		if r.Received != r.Confirmed || r.Confirmed == 0 {
			t.Errorf("closed %v: confirmed %d, received %d", closed, r.Confirmed, r.Received)
		}
		most := l.most.Load()
		if r.ClosedLoop != closed {
			t.Errorf("result says closed_loop %v, want %v", r.ClosedLoop, closed)
		}
		if closed && most != 1 {
			t.Errorf("closed loop: %d messages in flight at once, want 1", most)
		}
		if !closed && most <= 1 {
			t.Errorf("open loop: at most %d in flight, the fake does not test the loop", most)
		}
	}
}
