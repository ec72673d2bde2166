package svc

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
)

// TestAtomicMax: concurrent raises keep the largest value; a smaller one
// never lowers it.
func TestAtomicMax(t *testing.T) {
	var a atomic.Int64
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			AtomicMax(&a, int64(i*7%64))
		}()
	}
	wg.Wait()
	AtomicMax(&a, -5)
	if got := a.Load(); got != 63 {
		t.Fatalf("max %d, want 63", got)
	}
}

func TestWaitTimeout(t *testing.T) {
	var done, stuck sync.WaitGroup
	done.Add(1)
	go done.Done()
	if !WaitTimeout(&done, 10*time.Second) {
		t.Error("a finished WaitGroup reported unfinished")
	}
	stuck.Add(1)
	defer stuck.Done()
	if WaitTimeout(&stuck, 10*time.Millisecond) {
		t.Error("a stuck WaitGroup reported finished")
	}
}

func TestStartAt(t *testing.T) {
	if late, err := StartAt(context.Background(), time.Now().Add(-time.Second)); err != nil || late < time.Second {
		t.Errorf("1s late: got %v, %v; want ≥ 1s and nil", late, err)
	}
	if late, err := StartAt(context.Background(), time.Now().Add(5*time.Millisecond)); err != nil || late != 0 {
		t.Errorf("on time: got %v, %v; want 0 and nil", late, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := StartAt(ctx, time.Now().Add(time.Hour)); err == nil {
		t.Error("a cancelled wait returned no error")
	}
}

// TestReportProgress: the reporter names the current phase and stops
// reporting once stop returned.
func TestReportProgress(t *testing.T) {
	var mu sync.Mutex
	var phases []string
	start := time.Now()
	stop := ReportProgress(func(p string, f float64) {
		mu.Lock()
		phases = append(phases, p)
		mu.Unlock()
		if f < 0 || f > 1 {
			t.Errorf("fraction %g outside [0, 1]", f)
		}
	}, start, time.Second, []Phase{{Name: "past", Until: start}, {Name: "now", Until: start.Add(time.Hour)}, {Name: "later"}})
	for {
		mu.Lock()
		n := len(phases)
		mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	mu.Lock()
	n := len(phases)
	for _, p := range phases {
		if p != "now" {
			t.Errorf("phase %q reported, want now", p)
		}
	}
	mu.Unlock()
	time.Sleep(600 * time.Millisecond) // longer than one reporting period
	mu.Lock()
	defer mu.Unlock()
	if len(phases) != n {
		t.Error("reported after stop returned")
	}
}

// TestAwaitGroups: the handshake returns once both groups received a
// ping, and leaves the consumers open and receiving.
func TestAwaitGroups(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := memory.New(ctx, driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dest := driver.Destination{Name: "svc-await", Groups: []string{"a", "b"}}
	cleanup, err := d.Provision(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup(ctx)
	pool, err := OpenPool(ctx, d, dest, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var cons []driver.Consumer
	for _, g := range dest.Groups {
		c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: g})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cons = append(cons, c)
	}
	err = AwaitGroups(ctx, ctx, pool, cons, func(i int) string { return dest.Groups[i] },
		ReadyOptions{RunID: 7, Size: 64, Batch: 8, Groups: dest.Groups, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("AwaitGroups: %v", err)
	}
	if err := pool.Ping(ctx, 7, 64); err != nil {
		t.Fatal(err)
	}
	for i, c := range cons {
		ds, err := c.Receive(ctx, 8)
		if err != nil || len(ds) == 0 {
			t.Fatalf("consumer %d after the handshake: %d deliveries, %v", i, len(ds), err)
		}
	}
}
