package memory

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// BenchmarkRoundTrip measures messages per second through send → receive →
// ack with one producer goroutine (batches of 100) and one consumer
// goroutine (Receive max 100), for two body sizes.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(sizeName(size), func(b *testing.B) { benchRoundTrip(b, size) })
	}
}

func sizeName(n int) string { return fmt.Sprintf("body=%dB", n) }

func benchRoundTrip(b *testing.B, size int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	drv, err := NewBroker(Options{}).Driver(driver.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer drv.Close()
	dest := driver.Destination{Name: "bench", Groups: []string{"g"}}
	cleanup, err := drv.Provision(ctx, dest)
	if err != nil {
		b.Fatal(err)
	}
	defer cleanup(ctx)
	prod, err := drv.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cons, err := drv.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 100
	msgs := make([]driver.Message, batch)
	key := []byte("producer-1")
	body := make([]byte, size)
	for i := range msgs {
		msgs[i] = driver.Message{Key: key, Body: body}
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sent := 0; sent < b.N; sent += batch {
			n := min(batch, b.N-sent)
			if err := prod.Send(ctx, msgs[:n]); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for got := 0; got < b.N; {
		ds, err := cons.Receive(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		if err := cons.Ack(ctx, ds); err != nil {
			b.Fatal(err)
		}
		got += len(ds)
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
