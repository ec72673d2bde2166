package activemq

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// BenchmarkThroughput measures end-to-end throughput of 1 KiB messages
// through the adapter against the real broker: producers send closed-loop
// batches (each Send waits for its confirmations), consumers of one group
// receive and ack concurrently, and the clock stops when every message was
// received. One benchmark op is one message; msgs/s is reported.
//
//	go test ./adapters/activemq -run '^$' -bench Throughput -benchtime 20000x
func BenchmarkThroughput(b *testing.B) {
	addr := testAddr()
	if c, err := stompclient.Dial(context.Background(), addr, 2*time.Second, driver.Config{}.Log()); err != nil {
		if os.Getenv("MQBENCH_REQUIRE_BROKERS") == "1" {
			b.Fatalf("activemq at %s: %v", addr, err)
		}
		b.Skipf("activemq at %s unreachable: %v", addr, err)
	} else {
		_ = c.Close()
	}
	cases := []struct {
		profile   driver.Profile
		producers int
		batch     int
	}{
		{driver.Durable, 1, 1},
		{driver.Durable, 4, 1},
		{driver.Durable, 1, 64},
		{driver.Durable, 1, 256},
		{driver.Durable, 4, 64},
		{driver.Durable, 4, 256},
		{driver.Fast, 1, 1},
		{driver.Fast, 1, 64},
		{driver.Fast, 4, 64},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s/producers=%d/batch=%d", tc.profile, tc.producers, tc.batch)
		b.Run(name, func(b *testing.B) {
			runThroughput(b, addr, tc.profile, tc.producers, tc.batch, 2)
		})
	}
}

func runThroughput(b *testing.B, addr string, profile driver.Profile, producers, batch, consumers int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dd, err := New(ctx, driver.Config{Addr: addr, Profile: profile})
	if err != nil {
		b.Fatal(err)
	}
	defer dd.Close()
	dest := driver.Destination{Name: uniqueName("bench"), Groups: []string{"g"}}
	cleanup, err := dd.Provision(ctx, dest)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cleanup(context.Background()) }()

	n := b.N
	var received atomic.Int64
	done := make(chan struct{})
	var cwg sync.WaitGroup
	for range consumers {
		c, err := dd.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g", Prefetch: 1000})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cwg.Go(func() {
			for {
				ds, err := c.Receive(ctx, 500)
				if err != nil {
					return
				}
				if err := c.Ack(ctx, ds); err != nil {
					b.Error(err)
					return
				}
				if received.Add(int64(len(ds))) >= int64(n) {
					select {
					case <-done:
					default:
						close(done)
					}
				}
			}
		})
	}
	ps := make([]driver.Producer, producers)
	for i := range ps {
		if ps[i], err = dd.NewProducer(ctx, dest, driver.ProducerOptions{MaxInFlight: max(batch, 1)}); err != nil {
			b.Fatal(err)
		}
		defer ps[i].Close()
	}
	var failed atomic.Int64
	b.SetBytes(1024)
	b.ResetTimer()
	start := time.Now()
	var pwg sync.WaitGroup
	for i, p := range ps {
		share := n / producers
		if i < n%producers {
			share++
		}
		pwg.Go(func() {
			key := []byte{byte(i)}
			ms := make([]driver.Message, 0, batch)
			for sent := 0; sent < share; {
				ms = ms[:0]
				for j := 0; j < batch && sent+j < share; j++ {
					body := envelope.New(1024, envelope.Header{Producer: uint32(i), Seq: uint64(sent + j)})
					ms = append(ms, driver.Message{Key: key, Body: body})
				}
				if err := p.Send(ctx, ms); err != nil {
					failed.Add(int64(len(ms)))
					b.Error(err)
					return
				}
				sent += len(ms)
			}
		})
	}
	pwg.Wait()
	confirmedAt := time.Since(start)
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatalf("received %d of %d", received.Load(), n)
	}
	b.StopTimer()
	elapsed := time.Since(start)
	cancel()
	cwg.Wait()
	b.ReportMetric(float64(n)/confirmedAt.Seconds(), "confirmed/s")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "e2e/s")
	b.ReportMetric(0, "ns/op")
}
