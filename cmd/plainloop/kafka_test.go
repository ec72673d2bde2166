package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/drivertest"
)

// liveBroker returns the address of broker's running instance, from the
// environment variable env or else plainloop's default, and fails the test
// (or skips it, unless MQBENCH_REQUIRE_BROKERS=1) when nothing answers there.
func liveBroker(t *testing.T, broker, env string) string {
	t.Helper()
	addr := os.Getenv(env)
	if addr == "" {
		addr = defaultAddrs()[broker]
	}
	drivertest.RequireBroker(t, broker, addr)
	return addr
}

// TestKafkaClosedLoops runs both of plainloop's Kafka closed loops against
// the real broker (MQBENCH_KAFKA_ADDR, default 127.0.0.1:9092) and checks
// their accounting: every message sent was confirmed and received, once,
// and the window's messages were timed. A poller that never fetched after
// the acknowledgement would fail the priming round.
func TestKafkaClosedLoops(t *testing.T) {
	addr := liveBroker(t, "kafka", "MQBENCH_KAFKA_ADDR")
	for _, tt := range []struct {
		name          string
		fetchAfterAck bool
	}{
		{name: "fetch waiting at the broker", fetchAfterAck: false},
		{name: "fetch after the ack", fetchAfterAck: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := config{Broker: "kafka", Mode: modeE2E, Addr: addr, Size: 64, Duration: time.Second,
				Warmup: 200 * time.Millisecond, Drain: 10 * time.Second, Batch: 1, Producers: 1, Consumers: 1,
				Prefetch: 256, Queues: 1, OpTimeout: 15 * time.Second, ClosedLoop: true, FetchAfterAck: tt.fetchAfterAck}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			r, err := measure(ctx, c)
			if err != nil {
				t.Fatalf("measure: %v", err)
			}
			if r.Sent == 0 || r.FailedSends != 0 || r.Confirmed != r.Sent || r.Received != r.Sent {
				t.Errorf("sent %d, failed sends %d, confirmed %d, received %d: want every message sent confirmed and received once (last error %q)",
					r.Sent, r.FailedSends, r.Confirmed, r.Received, r.LastError)
			}
			if r.E2ECount == 0 || r.MsgsPerS <= 0 {
				t.Errorf("timed %d messages at %.1f msg/s in the window: want some", r.E2ECount, r.MsgsPerS)
			}
		})
	}
}
