package drivertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Closing and cancelling: Close and ctx unblock calls, no send after close.

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
