package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is the one JSON line plainloop prints.
type Result struct {
	Broker    string  `json:"broker"`
	Mode      string  `json:"mode"`
	Size      int     `json:"size"`
	Batch     int     `json:"batch"`
	Producers int     `json:"producers"`
	Consumers int     `json:"consumers,omitempty"`
	Rate      float64 `json:"rate"`
	// ClosedLoop: one message in flight (see config); the loop's mean
	// round is then 1000 / MsgsPerS ms.
	ClosedLoop bool    `json:"closed_loop,omitempty"`
	Window     float64 `json:"window_s"`
	// Sent, Confirmed and Received count every message of the run (warm-up
	// included); FailedSends the send rounds that failed.
	Sent        int64 `json:"sent"`
	Confirmed   int64 `json:"confirmed"`
	FailedSends int64 `json:"failed_sends"`
	Received    int64 `json:"received"`
	// MsgsPerS is the confirmed rate over the measured window; RecvPerS
	// the received rate over it (e2e).
	MsgsPerS float64 `json:"msgs_per_s"`
	RecvPerS float64 `json:"recv_per_s,omitempty"`
	// E2E*: receive time − intended send time of the messages intended in
	// the measured window, in ms (e2e only).
	E2ECount  int64   `json:"e2e_count,omitempty"`
	E2EP50    float64 `json:"e2e_p50_ms,omitempty"`
	E2EP99    float64 `json:"e2e_p99_ms,omitempty"`
	E2EMean   float64 `json:"e2e_mean_ms,omitempty"`
	LastError string  `json:"last_error,omitempty"`
}

// session is one broker's destination with its connections: what a
// broker file implements.
type session interface {
	// newProducer opens one producer connection.
	newProducer(ctx context.Context) (sender, error)
	// newConsumer opens one consumer connection that calls onMsg for
	// every message (from any goroutine) and acknowledges it. With onMsg
	// nil it is idle: it takes what the broker dispatches (up to its
	// prefetch) and never acknowledges it, while its connection stays
	// alive (heart-beats go on), as an mqbench consumer that is not asked
	// to Receive does.
	newConsumer(ctx context.Context, onMsg func(body []byte)) (closer, error)
	// cleanup removes (or drains) the destination; bounded by ctx.
	cleanup(ctx context.Context) error
}

// sender sends one round: every body, then waits for the broker's confirm
// of all of them (bounded by ctx and the op timeout).
type sender interface {
	send(ctx context.Context, bodies [][]byte) error
	closer
}

type closer interface{ close() }

// open returns the session of c's broker on a fresh destination name.
func open(ctx context.Context, c config, name string) (session, error) {
	switch c.Broker {
	case "rabbitmq":
		return openRabbit(ctx, c, name)
	case "activemq":
		return openActive(ctx, c, name)
	case "rocketmq":
		return openRocket(ctx, c, name)
	case "kafka":
		return openKafka(ctx, c, name)
	}
	return nil, fmt.Errorf("unknown broker %q", c.Broker)
}

// recorder counts and times one run. Safe for concurrent use.
type recorder struct {
	warmEnd, end atomic.Int64 // unix ns: messages intended in [warmEnd, end) are timed; none before they are set
	sent         atomic.Int64
	confirmed    atomic.Int64
	failed       atomic.Int64
	received     atomic.Int64
	mu           sync.Mutex
	hist         *hdrhistogram.Histogram // microseconds
	lastErr      atomic.Value            // string
	got          chan struct{}           // cap 1: signalled on every receipt
}

func newRecorder() *recorder {
	return &recorder{hist: hdrhistogram.New(1, 3_600_000_000, 3), got: make(chan struct{}, 1)}
}

// awaitReceived waits until want messages were received, or timeout, or
// ctx's end, waking on each receipt rather than on a timer.
func (r *recorder) awaitReceived(ctx context.Context, want int64, timeout time.Duration) {
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	for r.received.Load() < want {
		select {
		case <-r.got:
		case <-ctx.Done():
			return
		case <-tm.C:
			return
		}
	}
}

func (r *recorder) onMsg(body []byte) {
	now := time.Now().UnixNano()
	r.received.Add(1)
	select {
	case r.got <- struct{}{}:
	default:
	}
	if len(body) < minSize {
		return
	}
	at := int64(binary.BigEndian.Uint64(body))
	if at < r.warmEnd.Load() || at >= r.end.Load() {
		return
	}
	r.mu.Lock()
	_ = r.hist.RecordValue(max(0, now-at) / 1000)
	r.mu.Unlock()
}

// measure runs the loop c describes and returns what it measured.
func measure(ctx context.Context, c config) (*Result, error) {
	name := fmt.Sprintf("plainloop-%d", time.Now().UnixNano())
	s, err := open(ctx, c, name)
	if err != nil {
		return nil, err
	}
	return measureOn(ctx, c, s)
}

// measureOn runs the loop c describes on s, then cleans s up.
func measureOn(ctx context.Context, c config, s session) (*Result, error) {
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		_ = s.cleanup(cctx)
	}()
	rec := newRecorder()

	if c.Mode == modeE2E {
		for range c.Consumers {
			cn, err := s.newConsumer(ctx, rec.onMsg)
			if err != nil {
				return nil, fmt.Errorf("consumer: %w", err)
			}
			defer cn.close()
		}
	}
	if c.Mode == modePublish && c.Idle > 0 {
		for range c.Idle {
			cn, err := s.newConsumer(ctx, nil)
			if err != nil {
				return nil, fmt.Errorf("idle consumer: %w", err)
			}
			defer cn.close()
		}
	}
	var senders []sender
	for range c.Producers {
		p, err := s.newProducer(ctx)
		if err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		defer p.close()
		senders = append(senders, p)
	}

	if c.Mode == modeE2E {
		if err := prime(ctx, c, senders, rec); err != nil {
			return nil, err
		}
	}
	start := time.Now().Add(10 * time.Millisecond)
	warmEnd := start.Add(c.Warmup)
	end := warmEnd.Add(c.Duration)
	rec.warmEnd.Store(warmEnd.UnixNano())
	rec.end.Store(end.UnixNano())
	var wg sync.WaitGroup
	for i, p := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			produce(ctx, c, p, uint64(i), start, end, rec)
		}()
	}
	m0 := readAt(ctx, rec, warmEnd)
	m1 := readAt(ctx, rec, end)
	wg.Wait()
	if c.Mode == modeE2E {
		drainWait(ctx, rec, c.Drain)
	}
	return result(c, rec, m0, m1), ctx.Err()
}

// primePerProducer is how many untimed messages each producer sends
// before the run so that every consumer has joined.
const primePerProducer = 10

// prime sends primePerProducer untimed messages (intended time 0) per
// producer and waits, at most c.Drain, until they are all received; then
// it resets the counters.
func prime(ctx context.Context, c config, senders []sender, rec *recorder) error {
	bodies := make([][]byte, primePerProducer)
	for i := range bodies {
		bodies[i] = make([]byte, c.Size)
	}
	for _, p := range senders {
		if err := p.send(ctx, bodies); err != nil {
			return fmt.Errorf("prime: %w", err)
		}
	}
	want := int64(primePerProducer * len(senders))
	deadline := time.Now().Add(c.Drain)
	for rec.received.Load() < want {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("prime: %d of %d messages received within %s", rec.received.Load(), want, c.Drain)
		}
		sleepUntil(ctx, time.Now().Add(10*time.Millisecond))
	}
	rec.received.Add(-want)
	return nil
}

// mark is a reading of the counters at one instant.
type mark struct {
	at         time.Time
	conf, recv int64
}

// readAt waits until t (or ctx's end) and reads the counters.
func readAt(ctx context.Context, rec *recorder, t time.Time) mark {
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
	return mark{at: time.Now(), conf: rec.confirmed.Load(), recv: rec.received.Load()}
}

// drainWait waits until every confirmed message was received, or nothing
// arrived for idle, or ctx ends.
func drainWait(ctx context.Context, rec *recorder, idle time.Duration) {
	last, lastAt := rec.received.Load(), time.Now()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for rec.received.Load() < rec.confirmed.Load() && time.Since(lastAt) < idle {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n := rec.received.Load(); n != last {
			last, lastAt = n, time.Now()
		}
	}
}

// produce sends rounds of at most c.Batch messages through p from start
// until end: closed loop when c.Rate is 0, else on a schedule of
// c.Rate/c.Producers msg/s (message i intended at start + i/rate; a round
// carries the messages due, so a producer that falls behind catches up in
// full rounds). Each body starts with its intended send time and sequence.
// With c.ClosedLoop each round waits, after its confirm, until every
// confirmed message was received (at most c.Drain).
func produce(ctx context.Context, c config, p sender, id uint64, start, end time.Time, rec *recorder) {
	rate := c.Rate / float64(c.Producers)
	bodies := make([][]byte, c.Batch)
	for i := range bodies {
		bodies[i] = make([]byte, c.Size)
	}
	sleepUntil(ctx, start)
	var seq uint64
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(end) {
			return
		}
		n := 0
		for n < c.Batch {
			at := now
			if rate > 0 {
				at = start.Add(time.Duration(float64(seq) / rate * 1e9))
				if at.After(now) || !at.Before(end) {
					break
				}
			}
			binary.BigEndian.PutUint64(bodies[n], uint64(at.UnixNano()))
			binary.BigEndian.PutUint64(bodies[n][8:], id<<48|seq)
			seq++
			n++
		}
		if n == 0 {
			next := start.Add(time.Duration(float64(seq) / rate * 1e9))
			if !next.Before(end) {
				return
			}
			sleepUntil(ctx, next)
			continue
		}
		rec.sent.Add(int64(n))
		if err := p.send(ctx, bodies[:n]); err != nil {
			rec.failed.Add(1)
			rec.lastErr.Store(err.Error())
			sleepUntil(ctx, time.Now().Add(10*time.Millisecond)) // no busy loop on a failing broker
			continue
		}
		rec.confirmed.Add(int64(n))
		if c.ClosedLoop {
			rec.awaitReceived(ctx, rec.confirmed.Load(), c.Drain)
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// result assembles the Result from the counters and the window's marks.
func result(c config, rec *recorder, m0, m1 mark) *Result {
	r := &Result{Broker: c.Broker, Mode: c.Mode, Size: c.Size, Batch: c.Batch, Producers: c.Producers, Rate: c.Rate, ClosedLoop: c.ClosedLoop,
		Sent: rec.sent.Load(), Confirmed: rec.confirmed.Load(), FailedSends: rec.failed.Load(), Received: rec.received.Load()}
	w := m1.at.Sub(m0.at).Seconds()
	r.Window = w
	if w > 0 {
		r.MsgsPerS = float64(m1.conf-m0.conf) / w
	}
	if c.Mode == modeE2E {
		r.Consumers = c.Consumers
		if w > 0 {
			r.RecvPerS = float64(m1.recv-m0.recv) / w
		}
		rec.mu.Lock()
		r.E2ECount = rec.hist.TotalCount()
		if r.E2ECount > 0 {
			r.E2EP50 = float64(rec.hist.ValueAtQuantile(50)) / 1000
			r.E2EP99 = float64(rec.hist.ValueAtQuantile(99)) / 1000
			r.E2EMean = rec.hist.Mean() / 1000
		}
		rec.mu.Unlock()
	}
	if e, ok := rec.lastErr.Load().(string); ok {
		r.LastError = e
	}
	return r
}
