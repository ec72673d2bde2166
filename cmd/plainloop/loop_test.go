package main

import (
	"context"
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
