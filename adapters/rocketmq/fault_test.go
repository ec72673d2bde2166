package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
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
	c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: dest.Groups[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

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
