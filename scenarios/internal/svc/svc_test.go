package svc

import (
	"context"
	"errors"
	"github.com/mqbench/mqbench/scenarios/load"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/scenariotest"
)

func TestKind(t *testing.T) {
	tests := []struct {
		body []byte
		want byte
	}{
		{nil, 0},
		{make([]byte, envelope.Size), 0},
		{append(make([]byte, envelope.Size), 7), 7},
	}
	for _, tt := range tests {
		if got := Kind(tt.body); got != tt.want {
			t.Errorf("Kind(%d bytes) = %d, want %d", len(tt.body), got, tt.want)
		}
	}
}

func TestOpenLoopCountsSchedule(t *testing.T) {
	var n atomic.Int64
	start := time.Now()
	got, unsent := OpenLoop(context.Background(), 200, start, start.Add(250*time.Millisecond), 4, func(time.Time) { n.Add(1) })
	if got != 50 || n.Load() != 50 || unsent != 0 {
		t.Fatalf("dispatched %d, ran %d, unsent %d; want 50, 50, 0 (200/s for 250ms)", got, n.Load(), unsent)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, unsent := OpenLoop(ctx, 200, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour), 4, func(time.Time) {}); got != 0 || unsent != 0 {
		t.Fatalf("cancelled OpenLoop dispatched %d, unsent %d", got, unsent)
	}
}

// TestOpenLoopCountsUnsent: calls that hold the only in-flight slot past
// the schedule's end plus load.Overrun stop the dispatch; every request
// the schedule owed is then dispatched or unsent.
func TestOpenLoopCountsUnsent(t *testing.T) {
	start := time.Now()
	end := start.Add(100 * time.Millisecond)
	const rate = 100 // 10 requests due
	var ran atomic.Int64
	got, unsent := OpenLoop(context.Background(), rate, start, end, 1, func(time.Time) {
		ran.Add(1)
		time.Sleep(time.Until(end.Add(load.Overrun + 50*time.Millisecond)))
	})
	if got+unsent != 10 || unsent == 0 || ran.Load() != got {
		t.Fatalf("dispatched %d (ran %d), unsent %d: want dispatched + unsent = 10 with some unsent", got, ran.Load(), unsent)
	}
}

func TestSeriesAndTimeline(t *testing.T) {
	start := time.Now()
	s := NewSeries(start, 3)
	s.Add(start, 2)
	s.Add(start.Add(1500*time.Millisecond), 1)
	s.Add(start.Add(time.Hour), 5) // clamps to the last slot
	s.Add(start.Add(-time.Hour), 1)
	s.Max(start.Add(time.Second), 10)
	s.Max(start.Add(time.Second), 3)
	got := s.Values(4)
	want := []float64{3, 10, 5, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Values = %v, want %v", got, want)
		}
	}
	tl := ExtendTimeline([]result.Second{{T: 0, Backlog: 4}}, 3)
	if len(tl) != 3 || tl[2].T != 2 || tl[2].Backlog != 4 {
		t.Fatalf("ExtendTimeline = %+v", tl)
	}
	if tl := ExtendTimeline(nil, 2); len(tl) != 2 || tl[1].T != 1 {
		t.Fatalf("ExtendTimeline(nil) = %+v", tl)
	}
}

func TestPacerNil(t *testing.T) {
	if p := NewPacer(0); p != nil {
		t.Fatal("NewPacer(0) should be nil (unlimited)")
	}
	var p *Pacer
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := NewPacer(0.001) // one slot per 1000 s
	_ = slow.Wait(context.Background())
	if err := slow.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a cancelled context = %v", err)
	}
}

// TestPoolConsumeReady runs pings and business messages through the memory
// driver: pings mark readiness and are never recorded; business messages
// are recorded and handled; a failing handler's delivery comes back.
func TestPoolConsumeReady(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := memory.New(ctx, driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dest := driver.Destination{Name: "svc-test", Groups: []string{"a", "b"}}
	cleanup, err := d.Provision(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup(ctx)
	pool, err := OpenPool(ctx, d, dest, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pool.Publish(ctx, make([]byte, 64), time.Now()); err == nil {
		t.Fatal("Publish before Bind must fail")
	}
	ready := &Ready{}
	const runID = 42
	st := probe.New(probe.Options{RunID: runID, Groups: dest.Groups})
	var handled sync.Map // group -> *atomic.Int64
	failOnce := atomic.Bool{}
	recv, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, g := range dest.Groups {
		c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: g})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cnt := &atomic.Int64{}
		handled.Store(g, cnt)
		pr := st.Consumer(g)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := Consume(recv, ctx, c, pr, ConsumeOptions{Group: g, Batch: 8, Parallel: 4, Ready: ready},
				func(ctx context.Context, d *driver.Delivery, h envelope.Header, k probe.Kind) error {
					if g == "a" && failOnce.CompareAndSwap(false, true) {
						return errors.New("transient")
					}
					cnt.Add(1) // the retried delivery is recorded as a duplicate, handled once
					return nil
				})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	if err := WaitReady(ctx, pool, runID, 64, ready, dest.Groups, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	pool.Bind(st)
	for range 20 {
		if err := pool.Publish(ctx, make([]byte, 64), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for st.Snapshot().Remaining() > 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		a, _ := handled.Load("a")
		if a.(*atomic.Int64).Load() == 20 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	wg.Wait()
	sum := st.Summary(true)
	if sum.Accounting.Sent != 20 || sum.Accounting.Lost != 0 || sum.Accounting.Received != 40 {
		t.Fatalf("accounting %+v: pings must not be recorded", sum.Accounting)
	}
	for _, g := range dest.Groups {
		v, _ := handled.Load(g)
		if n := v.(*atomic.Int64).Load(); n != 20 {
			t.Errorf("group %s handled %d, want 20", g, n)
		}
	}
	if sum.PerGroup["a"].Duplicated != 1 {
		t.Errorf("group a: the nacked delivery should come back once as a duplicate, got %+v", sum.PerGroup["a"])
	}
}

func TestWaitReadyTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := memory.New(ctx, driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dest := driver.Destination{Name: "svc-ready", Groups: []string{"g"}}
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
	err = WaitReady(ctx, pool, 1, 64, &Ready{}, dest.Groups, 300*time.Millisecond)
	if err == nil {
		t.Fatal("WaitReady without a consumer must time out")
	}
}

func TestSetPercentileAndRate(t *testing.T) {
	res := &result.Result{}
	SetPercentile(res, "empty", &result.Latency{}, "p50")
	SetPercentile(res, "nil", nil, "p50")
	SetPercentile(res, "bad", &result.Latency{Count: 1, P50: 1}, "p42")
	l := &result.Latency{Count: 3, P50: 1, P90: 2, P99: 3, P999: 4, Max: 5}
	for _, p := range []string{"p50", "p90", "p99", "p999", "max"} {
		SetPercentile(res, p, l, p)
	}
	want := map[string]float64{"p50": 1, "p90": 2, "p99": 3, "p999": 4, "max": 5}
	if len(res.Metrics) != len(want) {
		t.Fatalf("metrics %v, want only %v", res.Metrics, want)
	}
	for k, v := range want {
		if res.Metrics[k].Value != v {
			t.Errorf("%s = %v, want %v", k, res.Metrics[k].Value, v)
		}
	}
	from := time.Now().Add(-time.Hour)
	SetRate(res, "rate", 7200, from, from.Add(2*time.Second))
	if res.Metrics["rate"].Value != 3600 {
		t.Errorf("rate = %v, want 3600", res.Metrics["rate"].Value)
	}
	SetRate(res, "future", 5, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour))
	if _, ok := res.Metrics["future"]; ok {
		t.Error("a window that has not begun must give no rate")
	}
}

// TestConsumeRidesOutBrokerErrors: failed Receives and Acks do not stop
// Consume, in order or pipelined; every message is still handled.
func TestConsumeRidesOutBrokerErrors(t *testing.T) {
	for _, parallel := range []int{1, 4} {
		t.Run(map[int]string{1: "in order", 4: "pipelined"}[parallel], func(t *testing.T) {
			st := probe.New(probe.Options{RunID: 7, Groups: []string{"g"}})
			pr := st.Producer(0)
			fc := &scenariotest.FlakyConsumer{FailReceives: 2, FailAcks: 1}
			var msgs []driver.Message
			for range 3 {
				b := make([]byte, 64)
				pr.Stamp(b, time.Now(), time.Now())
				fc.Bodies = append(fc.Bodies, b)
				msgs = append(msgs, driver.Message{Body: b})
			}
			pr.Sent(msgs, nil, time.Now())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			recv, stop := context.WithCancel(ctx)
			var handled atomic.Int64
			done := make(chan error, 1)
			go func() {
				done <- Consume(recv, ctx, fc, st.Consumer("g"), ConsumeOptions{Group: "g", Batch: 8, Parallel: parallel},
					func(context.Context, *driver.Delivery, envelope.Header, probe.Kind) error {
						handled.Add(1)
						return nil
					})
			}()
			for handled.Load() < 3 && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
			}
			stop()
			if err := <-done; err != nil {
				t.Fatalf("Consume returned %v after recovering", err)
			}
			if a := st.Summary(true).Accounting; handled.Load() != 3 || a.Received != 3 || a.Lost != 0 {
				t.Fatalf("handled %d, accounting %+v", handled.Load(), a)
			}
		})
	}
}

// TestRunModes: modes run one after the other, each beside its Beside;
// a mode whose requests hold the only slot past its end stops behind and
// reports its unsent requests, a mode that keeps up reports none.
func TestRunModes(t *testing.T) {
	start := time.Now()
	slowEnd := start.Add(100 * time.Millisecond)
	fastStart := slowEnd.Add(load.Overrun + 100*time.Millisecond)
	var slow, fast, beside, slowUnsent atomic.Int64
	var lateModes []string
	unsent := RunModes(context.Background(), Modes{Report: func(string, float64) {}, Start: start, Total: time.Second, Rate: 100, MaxInFlight: 1,
		Late: func(mode string, _ time.Duration) { lateModes = append(lateModes, mode) }}, []Mode{
		{Name: "slow", Start: start, End: slowEnd, Request: func(time.Time) {
			slow.Add(1)
			time.Sleep(time.Until(slowEnd.Add(load.Overrun + 50*time.Millisecond)))
		}, Beside: func() { beside.Add(1) }, Unsent: &slowUnsent},
		{Name: "fast", Start: fastStart, End: fastStart.Add(100 * time.Millisecond), Request: func(time.Time) { fast.Add(1) }},
	})
	if len(unsent) != 2 || unsent[0] == 0 || slow.Load()+unsent[0] != 10 || unsent[1] != 0 || fast.Load() != 10 {
		t.Fatalf("unsent %v, slow ran %d, fast ran %d: want slow's 10 all accounted with some unsent, fast's 10 all run", unsent, slow.Load(), fast.Load())
	}
	if slowUnsent.Load() != unsent[0] {
		t.Errorf("Mode.Unsent holds %d, want %d", slowUnsent.Load(), unsent[0])
	}
	if beside.Load() != 1 {
		t.Errorf("Beside ran %d times, want 1", beside.Load())
	}
	t.Logf("modes started late: %v", lateModes)
}
