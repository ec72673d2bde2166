package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/pubsub"
)

// The fault tests stop, freeze and restart a broker, so they never run
// against the shared one: they need a private Kafka named by
//
//	MQBENCH_KAFKA_FAULT_ADDR     its address, e.g. 127.0.0.1:19092
//	MQBENCH_KAFKA_FAULT_PIDFILE  the file holding its pid (for SIGSTOP)
//	MQBENCH_KAFKA_RESTART_CMD    a shell command restarting it, keeping data
//
// and are skipped otherwise. testdata/faultbroker.sh starts such a broker
// (see its header for the exact settings).
type faultBroker struct {
	addr, pidfile, restart string
}

func needFaultBroker(t *testing.T) faultBroker {
	t.Helper()
	fb := faultBroker{
		addr:    os.Getenv("MQBENCH_KAFKA_FAULT_ADDR"),
		pidfile: os.Getenv("MQBENCH_KAFKA_FAULT_PIDFILE"),
		restart: os.Getenv("MQBENCH_KAFKA_RESTART_CMD"),
	}
	if fb.addr == "" || fb.pidfile == "" || fb.restart == "" {
		t.Skip("set MQBENCH_KAFKA_FAULT_ADDR, MQBENCH_KAFKA_FAULT_PIDFILE and MQBENCH_KAFKA_RESTART_CMD for a private broker")
	}
	drivertest.RequireBroker(t, Name, fb.addr)
	return fb
}

func (fb faultBroker) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	b, err := os.ReadFile(fb.pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", fb.pidfile, err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("signal %v to %d: %v", sig, pid, err)
	}
}

func (fb faultBroker) restartBroker(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", fb.restart)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("restart: %w: %s", err, out)
	}
	return nil
}

func openFault(t *testing.T, fb faultBroker, timeout time.Duration) *Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := open(ctx, driver.Config{Addr: fb.addr, OpTimeout: timeout, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestFaultConformance runs the conformance suite, persistence included,
// against the private broker.
func TestFaultConformance(t *testing.T) {
	fb := needFaultBroker(t)
	drivertest.Run(t, drivertest.Harness{
		Name: Name,
		New: func(ctx context.Context, p driver.Profile) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: fb.addr, Profile: p, Logger: testLogger(t)})
		},
		Restart: fb.restartBroker,
	})
}

// TestFaultFreeze: with the broker stopped by SIGSTOP, every operation
// returns an error within its deadline; after SIGCONT the same producer and
// consumer carry on and nothing confirmed is lost.
func TestFaultFreeze(t *testing.T) {
	fb := needFaultBroker(t)
	const op = 2 * time.Second
	d := openFault(t, fb, op)
	dest := driver.Destination{Name: uniqueName("mqb-freeze"), Groups: []string{"g"}, Partitions: 2}
	provision(t, d, dest)
	p := newProducer(t, d, dest)
	c := newConsumer(t, d, dest, "g", false)
	confirmed := map[int]bool{}
	sendSome := func(from, n int) error {
		var b []driver.Message
		for i := from; i < from+n; i++ {
			b = append(b, msg(fmt.Sprintf("k%d", i%4), i))
		}
		err := p.Send(context.Background(), b)
		for i := range b {
			if driver.Confirmed(err, len(b), i) {
				confirmed[from+i] = true
			}
		}
		return err
	}
	if err := sendSome(0, 50); err != nil {
		t.Fatal(err)
	}

	fb.signal(t, syscall.SIGSTOP)
	thawed := false
	thaw := func() {
		if !thawed {
			fb.signal(t, syscall.SIGCONT)
			thawed = true
		}
	}
	defer thaw()

	bounded := func(what string, f func() error) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			t.Logf("%s while frozen: %v", what, err)
		case <-time.After(6 * op):
			t.Errorf("%s still blocked %v after the broker froze (op timeout %v)", what, 6*op, op)
		}
	}
	bounded("send", func() error {
		err := sendSome(50, 50)
		if err == nil {
			return errors.New("send confirmed by a frozen broker")
		}
		return err
	})
	// What c receives counts: c may hold messages fetched before the
	// freeze, and its acks of them may commit after the thaw, so c2 would
	// never see them again.
	var gotMu sync.Mutex
	got := map[int]bool{}
	bounded("receive (1s ctx)", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for {
			ds, err := c.Receive(ctx, 100)
			if err != nil {
				return err
			}
			gotMu.Lock()
			for _, dl := range ds {
				got[seqOf(dl)] = true
			}
			gotMu.Unlock()
			if err := c.Ack(ctx, ds); err != nil {
				return err
			}
		}
	})
	bounded("new producer", func() error {
		_, err := d.NewProducer(context.Background(), dest, driver.ProducerOptions{})
		return err
	})
	bounded("provision", func() error {
		_, err := d.Provision(context.Background(), driver.Destination{Name: uniqueName("mqb-frozen"), Groups: []string{"g"}})
		return err
	})
	bounded("depth", func() error {
		_, err := d.Depth(context.Background(), dest, "g")
		return err
	})
	thaw()

	// The same producer works again (possibly after a few failed sends
	// while connections recover).
	deadline := time.Now().Add(60 * time.Second)
	for next := 100; ; next += 10 {
		if err := sendSome(next, 10); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("send after SIGCONT: %v", err)
		}
	}
	// Every confirmed message arrives (a fresh consumer reads from the
	// committed offsets; duplicates are fine).
	c.Close()
	c2 := newConsumer(t, d, dest, "g", false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gotMu.Lock()
	defer gotMu.Unlock()
	missing := 0
	for s := range confirmed {
		if !got[s] {
			missing++
		}
	}
	for missing > 0 {
		ds, err := c2.Receive(ctx, 100)
		if err != nil {
			t.Fatalf("%d confirmed messages missing: %v", missing, err)
		}
		for _, dl := range ds {
			if s := seqOf(dl); confirmed[s] && !got[s] {
				got[s] = true
				missing--
			}
		}
		if err := c2.Ack(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFaultRestart: a durable producer keeps working across a broker
// restart (its Send retries within the operation timeout), confirmed
// messages survive it, and the group resumes from its committed offsets.
func TestFaultRestart(t *testing.T) {
	fb := needFaultBroker(t)
	d := openFault(t, fb, 10*time.Second)
	dest := driver.Destination{Name: uniqueName("mqb-restart"), Groups: []string{"g"}, Partitions: 2}
	provision(t, d, dest)
	p := newProducer(t, d, dest)
	var b []driver.Message
	for i := range 100 {
		b = append(b, msg(fmt.Sprintf("k%d", i%4), i))
	}
	send(t, p, b)
	c := newConsumer(t, d, dest, "g", false)
	receiveN(t, c, 100, true)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b = b[:0]
	for i := 100; i < 200; i++ {
		b = append(b, msg(fmt.Sprintf("k%d", i%4), i))
	}
	send(t, p, b)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := fb.restartBroker(ctx); err != nil {
		t.Fatal(err)
	}

	b = b[:0]
	for i := 200; i < 300; i++ {
		b = append(b, msg(fmt.Sprintf("k%d", i%4), i))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := p.Send(ctx, b)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("send after restart: %v", err)
		}
		t.Logf("send after restart: %v (retrying)", err)
	}
	c2 := newConsumer(t, d, dest, "g", false)
	seen := map[int]int{}
	for len(seen) < 200 {
		ds, err := c2.Receive(ctx, 100)
		if err != nil {
			t.Fatalf("after %d of 200: %v", len(seen), err)
		}
		for _, dl := range ds {
			if seqOf(dl) < 0 {
				tok := dl.Token.(*ackToken)
				t.Fatalf("foreign delivery: key %q body %q partition %d offset %d", dl.Key, dl.Body, tok.partition, tok.offset)
			}
			seen[seqOf(dl)]++
		}
		if err := c2.Ack(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	for s := range seen {
		if s < 100 {
			t.Errorf("seq %d was acked before the restart but delivered again", s)
		}
	}
}

// TestFaultScenarioRestart runs the pubsub scenario (durable) against the
// private broker and restarts the broker in the middle: sends may fail
// (unconfirmed) but no confirmed message may be lost.
func TestFaultScenarioRestart(t *testing.T) {
	fb := needFaultBroker(t)
	d := openFault(t, fb, 5*time.Second)
	var sc pubsub.Scenario
	cfg := sc.DefaultConfig(true)
	base := cfg.Base()
	base.Profile = string(driver.Durable)
	base.Rate = 2000
	base.Duration = 20 * time.Second
	base.Drain = 60 * time.Second
	base.Partitions = 2
	log := testLogger(t)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env := scenarios.Env{
		Driver: d, Profile: driver.Durable, RunID: uint64(time.Now().UnixNano()),
		Prefix: uniqueName("mqb-fault"), WorkDir: t.TempDir(), Log: log,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	restarted := make(chan error, 1)
	go func() {
		time.Sleep(8 * time.Second)
		restarted <- fb.restartBroker(ctx)
	}()
	res, err := sc.Run(ctx, env, cfg)
	if rerr := <-restarted; rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	a := res.Accounting
	t.Logf("accounting %+v", a)
	if a.Confirmed == 0 || a.Lost != 0 || !a.Complete {
		t.Errorf("accounting %+v: want lost = 0 after a broker restart, complete", a)
	}
}

// TestFaultNetwork runs drivertest.NetFaults through a TCP proxy in front of
// the private broker. Kafka clients connect to the addresses the broker
// advertises, so the broker has a second listener (fault port + 2) that
// advertises the proxy's address (fault port + 3): testdata/faultbroker.sh.
func TestFaultNetwork(t *testing.T) {
	fb := needFaultBroker(t)
	host, port, err := net.SplitHostPort(fb.addr)
	if err != nil {
		t.Fatalf("MQBENCH_KAFKA_FAULT_ADDR %q: %v", fb.addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("MQBENCH_KAFKA_FAULT_ADDR %q: %v", fb.addr, err)
	}
	upstream := net.JoinHostPort(host, strconv.Itoa(p+2))
	drivertest.RequireBroker(t, Name, upstream)
	drivertest.NetFaults(t, drivertest.NetHarness{
		Name:     Name,
		Upstream: upstream,
		Listen:   net.JoinHostPort(host, strconv.Itoa(p+3)),
		New: func(ctx context.Context, addr string, op time.Duration) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: addr, OpTimeout: op, Logger: testLogger(t)})
		},
		Timeout: 90 * time.Second, // a consumer group rejoins after its session times out
	})
}
