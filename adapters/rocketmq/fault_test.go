package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/compose/launch"
)

// TestIntegrationKillRestart crashes the broker (SIGKILL of name server and
// broker through compose/launch) while a producer and a consumer of one
// driver keep going, starts it again, and checks that every confirmed
// message is received (lost = 0) by the same consumer, and that the producer
// recovers. It only runs with MQBENCH_RESTART=1: it takes the shared broker
// down.
func TestIntegrationKillRestart(t *testing.T) {
	if os.Getenv("MQBENCH_RESTART") != "1" {
		t.Skip("set MQBENCH_RESTART=1 to crash and restart the shared broker")
	}
	d := openTest(t, driver.Durable)
	dest := uniqueDest(t, 2, "g")
	provision(t, d, dest)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := newConsumer(t, ctx, d, dest, dest.Groups[0])
	p := newProducer(t, ctx, d, dest)

	var mu sync.Mutex
	confirmed := map[string]bool{}
	received := map[string]int{}
	stopRecv := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopRecv:
				return
			default:
			}
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			ds, err := c.Receive(rctx, 64)
			rcancel()
			if err != nil {
				continue
			}
			mu.Lock()
			for _, dl := range ds {
				received[string(dl.Body)]++
			}
			mu.Unlock()
			c.Ack(ctx, ds)
		}
	}()

	l, err := launch.New(launch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sendPhase := func(phase string, n int) (ok, failed int) {
		for i := range n {
			m := driver.Message{Key: []byte(fmt.Sprintf("k%d", i%4)), Body: fmt.Appendf(nil, "%s-%05d", phase, i)}
			sctx, scancel := context.WithTimeout(ctx, 15*time.Second)
			err := p.Send(sctx, []driver.Message{m})
			scancel()
			if err == nil {
				mu.Lock()
				confirmed[string(m.Body)] = true
				mu.Unlock()
				ok++
			} else {
				failed++
			}
		}
		return ok, failed
	}
	if ok, _ := sendPhase("before", 200); ok != 200 {
		t.Fatalf("only %d of 200 confirmed before the crash", ok)
	}
	killed := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		kctx, kcancel := context.WithTimeout(ctx, time.Minute)
		defer kcancel()
		killed <- l.Kill(kctx, launch.RocketMQ)
	}()
	ok, failed := sendPhase("during", 300)
	t.Logf("while crashing: %d confirmed, %d failed", ok, failed)
	if err := <-killed; err != nil {
		t.Fatalf("kill: %v", err)
	}
	uctx, ucancel := context.WithTimeout(ctx, 3*time.Minute)
	err = l.Up(uctx, []string{launch.RocketMQ}, os.Stderr)
	ucancel()
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	// The producer recovers: keep sending until sends succeed again.
	deadline := time.Now().Add(2 * time.Minute)
	after := 0
	for after < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("producer did not recover: %d confirmed after restart", after)
		}
		o, _ := sendPhase(fmt.Sprintf("after%d", after), 1)
		after += o
		if o == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Drain: every confirmed message arrives.
	deadline = time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		var missing []string
		for b := range confirmed {
			if received[b] == 0 {
				missing = append(missing, b)
			}
		}
		dup := 0
		for _, n := range received {
			if n > 1 {
				dup++
			}
		}
		mu.Unlock()
		if len(missing) == 0 {
			t.Logf("confirmed %d, all received; %d received more than once", len(confirmed), dup)
			break
		}
		if time.Now().After(deadline) {
			n := min(len(missing), 10)
			t.Fatalf("lost %d confirmed messages, e.g. %v", len(missing), missing[:n])
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stopRecv)
	wg.Wait()
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

// TestIntegrationFrozenBroker stops the name server and broker (SIGSTOP)
// for a few seconds: Send, Receive, Depth and Nack return by their
// deadlines, and after SIGCONT every confirmed message arrives. It only
// runs with MQBENCH_RESTART=1: it freezes the shared broker.
func TestIntegrationFrozenBroker(t *testing.T) {
	if os.Getenv("MQBENCH_RESTART") != "1" {
		t.Skip("set MQBENCH_RESTART=1 to freeze the shared broker")
	}
	l, err := launch.New(launch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pids, err := l.PIDs(launch.RocketMQ)
	if err != nil {
		t.Skipf("broker not started by mqbench: %v", err)
	}
	d := openTest(t, driver.Durable)
	dest := uniqueDest(t, 1, "g")
	provision(t, d, dest)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newConsumer(t, ctx, d, dest, dest.Groups[0])
	p := newProducer(t, ctx, d, dest)
	if err := p.Send(ctx, msgsFor("f", 0, 10)); err != nil {
		t.Fatal(err)
	}
	first := receiveN(t, c, 10, 30*time.Second)
	_ = first

	signal := func(sig syscall.Signal) {
		for _, pid := range pids {
			if err := syscall.Kill(pid, sig); err != nil {
				t.Errorf("signal %v to %d: %v", sig, pid, err)
			}
		}
	}
	signal(syscall.SIGSTOP)
	resumed := false
	resume := func() {
		if !resumed {
			signal(syscall.SIGCONT)
			resumed = true
		}
	}
	defer resume()

	bounded := func(what string, f func(ctx context.Context) error) error {
		t.Helper()
		fctx, fcancel := context.WithTimeout(ctx, time.Second)
		defer fcancel()
		done := make(chan error, 1)
		go func() { done <- f(fctx) }()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatalf("%s blocked past its 1s deadline", what)
			return nil
		}
	}
	confirmedDuring := 0
	err = bounded("Send", func(ctx context.Context) error { return p.Send(ctx, msgsFor("f", 10, 1)) })
	if err == nil {
		confirmedDuring++ // stored before the freeze took hold
	}
	t.Logf("send while frozen: %v", err)
	if err := bounded("Receive", func(ctx context.Context) error { _, err := c.Receive(ctx, 1); return err }); err == nil && confirmedDuring == 0 {
		t.Errorf("Receive while frozen returned a message")
	}
	t.Logf("depth while frozen: %v", bounded("Depth", func(ctx context.Context) error { _, err := d.Depth(ctx, dest, dest.Groups[0]); return err }))
	resume()

	// After the thaw the producer works again and nothing confirmed is lost.
	deadline := time.Now().Add(time.Minute)
	for {
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		err := p.Send(sctx, msgsFor("f", 11, 1))
		scancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("producer did not recover after SIGCONT: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	got := map[string]bool{}
	rctx, rcancel := context.WithTimeout(ctx, time.Minute)
	defer rcancel()
	for !got["f:000011"] {
		ds, err := c.Receive(rctx, 10)
		if err != nil {
			t.Fatalf("after thaw: %v (got %v)", err, got)
		}
		for _, dl := range ds {
			got[string(dl.Body)] = true
		}
		c.Ack(rctx, ds)
	}
	if confirmedDuring > 0 && !got["f:000010"] {
		t.Errorf("message confirmed while freezing was lost")
	}
}
