package rabbitmq

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// BenchmarkThroughput moves b.N messages of 1 KiB end to end through the
// real broker: producers send batches (pipelined confirms), consumers
// receive and ack. msgs/s counts messages confirmed by the broker AND
// received and acked by a consumer over the whole run, so a backlog that
// builds up is not counted as throughput. Example:
//
//	go test -run '^$' -bench 'Throughput/durable' -benchtime 200000x ./adapters/rabbitmq/
func BenchmarkThroughput(b *testing.B) {
	cases := []struct {
		profile              driver.Profile
		producers, consumers int
		batch                int
	}{
		{driver.Durable, 1, 1, 512},
		{driver.Durable, 1, 1, 4096},
		{driver.Durable, 2, 2, 512},
		{driver.Durable, 4, 2, 512},
		{driver.Durable, 8, 2, 256},
		{driver.Fast, 2, 2, 512},
		{driver.Unsafe, 2, 2, 512},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/p=%d/c=%d/batch=%d", c.profile, c.producers, c.consumers, c.batch)
		b.Run(name, func(b *testing.B) {
			benchThroughput(b, c.profile, c.producers, c.consumers, c.batch, 1024)
		})
	}
}

func benchThroughput(b *testing.B, profile driver.Profile, producers, consumers, batch, size int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d, err := New(ctx, driver.Config{Addr: testAddr(), Profile: profile})
	if err != nil {
		b.Skipf("rabbitmq not reachable: %v", err)
	}
	defer d.Close()
	var rnd [4]byte
	binary.BigEndian.PutUint32(rnd[:], uint32(time.Now().UnixNano()))
	dest := driver.Destination{Name: fmt.Sprintf("bench-%x", rnd), Groups: []string{"g"}}
	cleanup, err := d.Provision(ctx, dest)
	if err != nil {
		b.Fatal(err)
	}
	defer cleanup(context.Background())

	total := b.N
	var confirmed, unconfirmed, received atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, producers+consumers)
	cctx, stopConsumers := context.WithCancel(ctx)
	defer stopConsumers()

	for i := 0; i < consumers; i++ {
		c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := c.Receive(cctx, 256)
				if err != nil {
					if !errors.Is(err, context.Canceled) {
						errc <- err
					}
					return
				}
				if err := c.Ack(cctx, ds); err != nil {
					errc <- err
					return
				}
				received.Add(int64(len(ds)))
			}
		}()
	}

	prods := make([]driver.Producer, producers)
	for i := range prods {
		p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{MaxInFlight: batch})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		prods[i] = p
	}
	body := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	var pwg sync.WaitGroup
	for i, p := range prods {
		share := total / producers
		if i < total%producers {
			share++
		}
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			msgs := make([]driver.Message, batch)
			for j := range msgs {
				msgs[j] = driver.Message{Key: []byte(fmt.Sprintf("p%d", i)), Body: body}
			}
			for left := share; left > 0; {
				n := min(left, batch)
				err := p.Send(ctx, msgs[:n])
				for j := 0; j < n; j++ {
					if driver.Confirmed(err, n, j) {
						confirmed.Add(1)
					} else {
						unconfirmed.Add(1)
					}
				}
				if err != nil {
					errc <- err
					return
				}
				left -= n
			}
		}()
	}
	pwg.Wait()
	sendDone := time.Since(start)
	for received.Load() < confirmed.Load() && ctx.Err() == nil && len(errc) == 0 {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stopConsumers()
	wg.Wait()
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
	if unconfirmed.Load() != 0 || received.Load() != int64(total) {
		b.Fatalf("sent %d: confirmed %d, unconfirmed %d, received %d", total, confirmed.Load(), unconfirmed.Load(), received.Load())
	}
	b.ReportMetric(float64(total)/sendDone.Seconds(), "confirmed/s")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
}
