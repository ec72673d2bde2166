//go:build rabbitmqfaults

// Fault tests against a RabbitMQ node this test may freeze, block, kill and
// restart: never run them against a shared broker. They need
//
//	MQBENCH_RABBITMQ_ADDR     the node's address
//	MQBENCH_RABBITMQ_PIDFILE  its pid file (SIGSTOP, SIGCONT, SIGKILL)
//	MQBENCH_RABBITMQ_CTL      a rabbitmqctl command for it (one word; the
//	                          arguments are appended)
//	MQBENCH_RABBITMQ_START    a command that starts it and waits until ready
//
// testdata/testnode.sh starts such a node on port 5673 and prints the
// environment:
//
//	adapters/rabbitmq/testdata/testnode.sh start
//	env $(adapters/rabbitmq/testdata/testnode.sh env | xargs) \
//		go test -tags rabbitmqfaults -run Fault ./adapters/rabbitmq/
//
// TestFaultConformance runs the whole conformance suite, persistence
// included, restarting this node (SIGTERM, then MQBENCH_RABBITMQ_START)
// instead of the shared broker.
package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
)

// faultOpTimeout is the adapter's operation timeout in the fault tests.
const faultOpTimeout = 2 * time.Second

// bound is the "it did not hang" limit for one call under a fault: far above
// what the adapter needs (about 1.5 × faultOpTimeout), far below a hang.
const bound = 30 * time.Second

func faultEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s not set", name)
	}
	return v
}

func brokerPID(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(faultEnv(t, "MQBENCH_RABBITMQ_PIDFILE"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(brokerPID(t), sig); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, env string, args ...string) {
	t.Helper()
	if err := runCmd(context.Background(), faultEnv(t, env), args...); err != nil {
		t.Fatal(err)
	}
}

// runCmd runs a helper command, bounded to 3 minutes.
func runCmd(ctx context.Context, cmd string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cmd, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w\n%s", cmd, args, err, out)
	}
	return nil
}

func faultDriver(t *testing.T) (*Driver, driver.Destination) {
	t.Helper()
	faultEnv(t, "MQBENCH_RABBITMQ_ADDR")
	requireBroker(t)
	d, err := New(ctxFor(t, 10*time.Second), driver.Config{Addr: testAddr(), OpTimeout: faultOpTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dest := driver.Destination{Name: uniqueName(t), Groups: []string{"g"}}
	provision(t, d.(*Driver), dest)
	return d.(*Driver), dest
}

// logBrokerState logs the node's queues and connections, to explain a
// failure.
func logBrokerState(t *testing.T) {
	t.Helper()
	ctl := faultEnv(t, "MQBENCH_RABBITMQ_CTL")
	for _, args := range [][]string{
		{"list_queues", "name", "state", "messages", "consumers"},
		{"list_bindings", "source_name", "destination_name"},
		{"list_connections", "name", "state", "channels"},
		{"list_channels", "connection", "confirm", "messages_unconfirmed", "state"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, ctl, args...).CombinedOutput()
		cancel()
		t.Logf("%s %v (%v):\n%s", ctl, args, err, out)
	}
}

// sendUntilRecovered retries send every 200 ms until it succeeds, logging
// every 10th error; when ctx ends first, it logs the node's state and fails
// the test.
func sendUntilRecovered(t *testing.T, ctx context.Context, send func(context.Context) error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		err := send(ctx)
		if err == nil {
			return
		}
		if attempt%10 == 1 {
			t.Logf("send, attempt %d: %v", attempt, err)
		}
		if ctx.Err() != nil {
			logBrokerState(t)
			t.Fatalf("send never recovered: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// within runs f and fails the test if it does not return within bound.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- f() }()
	select {
	case err := <-done:
		t.Logf("%s returned after %v: %v", what, time.Since(start).Round(time.Millisecond), err)
		return err
	case <-time.After(bound):
		t.Fatalf("%s still blocked after %v", what, bound)
		return nil
	}
}

// A frozen broker (SIGSTOP): Send, Receive and Depth return errors instead of
// hanging, nothing is reported confirmed, and everything works again after
// SIGCONT.
func TestFaultFrozenBroker(t *testing.T) {
	d, dest := faultDriver(t)
	prod := newProducerT(t, d, dest, 0)
	cons := newConsumerT(t, d, dest, "g", 0)
	signal(t, syscall.SIGSTOP)
	resumed := false
	defer func() {
		if !resumed {
			signal(t, syscall.SIGCONT)
		}
	}()

	recvErr := make(chan error, 1)
	go func() {
		_, err := cons.Receive(context.Background(), 1)
		recvErr <- err
	}()
	const n = 10
	err := within(t, "Send", func() error { return prod.Send(context.Background(), messages(n, "p")) })
	for i := 0; i < n; i++ {
		if driver.Confirmed(err, n, i) {
			t.Fatalf("message %d confirmed by a frozen broker", i)
		}
	}
	if _, err := d.Depth(context.Background(), dest, "g"); err == nil {
		t.Error("Depth succeeded on a frozen broker")
	}
	err = within(t, "Receive", func() error { return <-recvErr })
	if err == nil {
		t.Error("Receive succeeded on a frozen broker")
	}

	signal(t, syscall.SIGCONT)
	resumed = true
	// The next calls reconnect.
	ctx := ctxFor(t, 2*time.Minute)
	sendUntilRecovered(t, ctx, func(ctx context.Context) error { return prod.Send(ctx, messages(n, "p")) })
	// The consumer sees at least the n just confirmed (the first n may or
	// may not have been enqueued before the freeze).
	got := 0
	for got < n {
		ds, err := cons.Receive(ctx, 100)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("receive never recovered: %v", err)
			}
			continue // the first Receive after the freeze may report the lost connection
		}
		if err := cons.Ack(ctx, ds); err != nil {
			t.Fatal(err)
		}
		got += len(ds)
	}
}

// A memory alarm blocks publishing connections: Send fails with ErrBlocked
// (never confirmed, never hung), and recovers once the alarm clears.
func TestFaultConnectionBlocked(t *testing.T) {
	d, dest := faultDriver(t)
	prod := newProducerT(t, d, dest, 0)
	if err := prod.Send(ctxFor(t, 10*time.Second), messages(1, "p")); err != nil {
		t.Fatal(err)
	}
	run(t, "MQBENCH_RABBITMQ_CTL", "set_vm_memory_high_watermark", "0.000001")
	defer run(t, "MQBENCH_RABBITMQ_CTL", "set_vm_memory_high_watermark", "absolute", "1GiB")
	time.Sleep(time.Second) // let the alarm propagate
	const n = 5
	err := within(t, "Send", func() error { return prod.Send(context.Background(), messages(n, "p")) })
	if err == nil {
		t.Fatal("Send confirmed while the broker blocks publishers")
	}
	if !errors.Is(err, ErrBlocked) {
		t.Errorf("Send = %v, want ErrBlocked", err)
	}
	// The block is reported through driver.BlockReporter, with the alarm.
	if evs := d.BlockEvents(); len(evs) == 0 || evs[0].Source != "connection.blocked" || evs[0].Reason == "" {
		t.Errorf("BlockEvents = %+v, want a connection.blocked event with a reason", evs)
	}
	// The connection that confirmed nothing is dropped: the next Send dials.
	pr := prod.(*producer)
	pr.mu.Lock()
	s := pr.sess
	pr.mu.Unlock()
	if s != nil && s.alive() {
		t.Error("the producer kept the connection that confirmed nothing")
	}
	run(t, "MQBENCH_RABBITMQ_CTL", "set_vm_memory_high_watermark", "absolute", "1GiB")
	ctx := ctxFor(t, time.Minute)
	sendUntilRecovered(t, ctx, func(ctx context.Context) error { return prod.Send(ctx, messages(n, "p")) })
}

// kill -9 in the middle of a stream, restart: every message confirmed before
// the crash is delivered after it (durable profile), and the producer and
// consumer reconnect by themselves.
func TestFaultKillRestart(t *testing.T) {
	d, dest := faultDriver(t)
	prod := newProducerT(t, d, dest, 64)
	cons := newConsumerT(t, d, dest, "g", 0)
	confirmed := map[int]bool{}
	const batch = 100
	seqBase := 0
	sendBatch := func(ctx context.Context) error {
		msgs := make([]driver.Message, batch)
		for i := range msgs {
			s := seqBase + i
			msgs[i] = driver.Message{Key: []byte("p"), Body: []byte{byte(s >> 8), byte(s)}}
		}
		err := prod.Send(ctx, msgs)
		for i := range msgs {
			if driver.Confirmed(err, batch, i) {
				confirmed[seqBase+i] = true
			}
		}
		seqBase += batch
		return err
	}
	// Some confirmed traffic, then the crash in the middle of a Send.
	for i := 0; i < 5; i++ {
		if err := sendBatch(ctxFor(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	pid := brokerPID(t)
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		time.Sleep(5 * time.Millisecond)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Errorf("kill: %v", err)
		}
	}()
	var err error
	for err == nil && seqBase < 60000 {
		err = within(t, "Send", func() error { return sendBatch(context.Background()) })
	}
	<-killed
	if err == nil {
		t.Fatal("no Send failed across a broker crash")
	}
	for deadline := time.Now().Add(bound); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("broker pid %d still alive after SIGKILL", pid)
		}
	}
	run(t, "MQBENCH_RABBITMQ_START")
	ctx := ctxFor(t, 2*time.Minute)
	sendUntilRecovered(t, ctx, sendBatch)
	if s := prod.(*producer).sess; s != nil && s.rebound.Load() {
		t.Log("a publish came back unroutable after the restart: the producer bound the queue again (topology recovery)")
	}
	received := map[int]bool{}
	for missing := len(confirmed); missing > 0; {
		ds, err := cons.Receive(ctx, 256)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("%d confirmed messages never received", missing)
			}
			continue
		}
		_ = cons.Ack(ctx, ds) // may fail for deliveries of a lost connection
		for _, del := range ds {
			if s := seqOf(del); confirmed[s] && !received[s] {
				received[s] = true
				missing--
			}
		}
	}
	t.Logf("confirmed %d of %d sent; all confirmed received after the restart", len(confirmed), seqBase)
}

// The conformance suite with a real restart of the test node for the
// persistence test.
func TestFaultConformance(t *testing.T) {
	faultEnv(t, "MQBENCH_RABBITMQ_ADDR")
	start := faultEnv(t, "MQBENCH_RABBITMQ_START")
	pidFile := faultEnv(t, "MQBENCH_RABBITMQ_PIDFILE")
	requireBroker(t)
	drivertest.Run(t, drivertest.Harness{
		Name: Name,
		New: func(ctx context.Context, p driver.Profile) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: testAddr(), Profile: p})
		},
		Restart: func(ctx context.Context) error {
			b, err := os.ReadFile(pidFile)
			if err != nil {
				return err
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return err
			}
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				return err
			}
			for syscall.Kill(pid, 0) == nil {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
			return runCmd(ctx, start)
		},
	})
}
