package load_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// BenchmarkHarness measures mqbench's own cost per message end to end: the
// load loop stamps the envelope, sends through the in-process memory broker,
// and the consumer loop receives, records in the ledger and histograms, and
// acks. It reports msgs/s; mqbench must stay far above what it measures.
//
//	go test -run '^$' -bench Harness -benchtime 2000000x ./scenarios/load
func BenchmarkHarness(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(map[int]string{64: "64B", 1024: "1KiB"}[size], func(b *testing.B) {
			benchHarness(b, size)
		})
	}
}

func benchHarness(b *testing.B, size int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	drv, err := memory.NewBroker(memory.Options{}).Driver(driver.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer drv.Close()
	dest := driver.Destination{Name: "bench", Groups: []string{"g"}}
	if _, err := drv.Provision(ctx, dest); err != nil {
		b.Fatal(err)
	}
	c, err := drv.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p, err := drv.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	st := probe.New(probe.Options{RunID: 1, Groups: []string{"g"}})
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = load.Consume(cctx, c, st.Consumer("g"), 100)
	}()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	sched := load.NewSchedule(0, start, start.Add(time.Hour), 100).WithLimit(int64(b.N))
	load.Produce(ctx, p, st.Producer(0), sched, size)
	for st.Snapshot().Received < int64(b.N) && ctx.Err() == nil {
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	wg.Wait()
	if a := st.Summary(true).Accounting; a.Received != int64(b.N) || a.Lost != 0 {
		b.Fatalf("accounting off: %+v", a)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
