package kafka

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// TestThroughput measures the highest confirmed send rate through the
// adapter: closed loop, MQBENCH_KAFKA_TP_PRODUCERS producers (default 4),
// each sending batches of MQBENCH_KAFKA_TP_BATCH messages (default 200) of
// MQBENCH_KAFKA_TP_SIZE bytes (default 1024) with its own key, to a topic of
// MQBENCH_KAFKA_TP_PARTITIONS partitions (default 4), for
// MQBENCH_KAFKA_TP_SECONDS (default 20) after a 3 s warm-up, in the
// MQBENCH_KAFKA_TP_PROFILE profile (default durable). It is a measurement,
// not a test: it runs only with MQBENCH_KAFKA_THROUGHPUT=1 and asserts
// nothing but the absence of send errors.
//
// With MQBENCH_KAFKA_TP_COUNT=N it instead sends N messages in all (no
// warm-up, like Kafka's ProducerPerformance --num-records) and reports N
// over the time from the first Send to the last confirmation.
func TestThroughput(t *testing.T) {
	if os.Getenv("MQBENCH_KAFKA_THROUGHPUT") != "1" {
		t.Skip("set MQBENCH_KAFKA_THROUGHPUT=1 to measure")
	}
	producers := envInt(t, "MQBENCH_KAFKA_TP_PRODUCERS", 4)
	batch := envInt(t, "MQBENCH_KAFKA_TP_BATCH", 200)
	size := envInt(t, "MQBENCH_KAFKA_TP_SIZE", 1024)
	partitions := envInt(t, "MQBENCH_KAFKA_TP_PARTITIONS", 4)
	seconds := envInt(t, "MQBENCH_KAFKA_TP_SECONDS", 20)
	count := envInt(t, "MQBENCH_KAFKA_TP_COUNT", -1)
	profile := driver.Durable
	if s := os.Getenv("MQBENCH_KAFKA_TP_PROFILE"); s != "" {
		p, err := driver.ParseProfile(s)
		if err != nil {
			t.Fatal(err)
		}
		profile = p
	}

	d := openTest(t, profile)
	dest := driver.Destination{Name: uniqueName("mqb-tp"), Groups: []string{"g"}, Partitions: partitions}
	provision(t, d, dest)

	if count > 0 {
		throughputCount(t, d, dest, producers, batch, size, count)
		return
	}
	var confirmed, failed, total atomic.Int64
	var measuring atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range producers {
		p := newProducer(t, d, dest)
		msgs := make([]driver.Message, batch)
		key := []byte(fmt.Sprintf("producer-%d", i))
		for j := range msgs {
			msgs[j] = driver.Message{Key: key, Body: make([]byte, size)}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := p.Send(ctx, msgs)
				for j := range msgs {
					if driver.Confirmed(err, len(msgs), j) {
						total.Add(1)
					}
				}
				if !measuring.Load() {
					continue
				}
				for j := range msgs {
					if driver.Confirmed(err, len(msgs), j) {
						confirmed.Add(1)
					} else if ctx.Err() == nil {
						failed.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(3 * time.Second)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(time.Duration(seconds) * time.Second)
	n := confirmed.Load()
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	rate := float64(n) / elapsed.Seconds()
	t.Logf("profile=%s producers=%d batch=%d size=%d partitions=%d: %d confirmed in %.1fs = %.0f msg/s (%.1f MiB/s), %d failed",
		profile, producers, batch, size, partitions, n, elapsed.Seconds(), rate, rate*float64(size)/(1<<20), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d sends failed", failed.Load())
	}
	// Cross-check with the broker: the log holds at least every confirmed
	// message (more only if a retried request had in fact been stored).
	ends, err := d.offsets(context.Background(), dest.Name, partitions, kafkago.LastOffset)
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	for _, e := range ends {
		stored += e
	}
	t.Logf("confirmed over the whole run (with warm-up) %d, stored in the log %d", total.Load(), stored)
	if stored < total.Load() {
		t.Errorf("log holds %d messages, fewer than the %d confirmed", stored, total.Load())
	}
}

// throughputCount sends count messages with producers goroutines and
// reports the rate from the first Send to the last confirmation.
func throughputCount(t *testing.T, d *Driver, dest driver.Destination, producers, batch, size, count int) {
	var confirmed, failed atomic.Int64
	var wg sync.WaitGroup
	ps := make([]driver.Producer, producers)
	for i := range ps {
		ps[i] = newProducer(t, d, dest)
	}
	start := time.Now()
	for i, p := range ps {
		share := count / producers
		if i < count%producers {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs := make([]driver.Message, batch)
			key := []byte(fmt.Sprintf("producer-%d", i))
			for j := range msgs {
				msgs[j] = driver.Message{Key: key, Body: make([]byte, size)}
			}
			for share > 0 {
				b := msgs[:min(batch, share)]
				err := p.Send(context.Background(), b)
				for j := range b {
					if driver.Confirmed(err, len(b), j) {
						confirmed.Add(1)
					} else {
						failed.Add(1)
					}
				}
				share -= len(b)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rate := float64(confirmed.Load()) / elapsed.Seconds()
	t.Logf("profile=%s producers=%d batch=%d size=%d partitions=%d: %d of %d confirmed in %.2fs = %.0f msg/s (%.1f MiB/s), %d failed",
		d.cfg.EffectiveProfile(), producers, batch, size, dest.Partitions, confirmed.Load(), count, elapsed.Seconds(), rate, rate*float64(size)/(1<<20), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d messages not confirmed", failed.Load())
	}
}
