// Package svc holds the plumbing the business scenarios (async, decoupling,
// and any other that simulates services around a broker) share: an
// open-loop request dispatcher, a pool of producers that publish one message
// per request through the measuring stick, a consume loop, a readiness
// handshake that makes sure every consumer group is actually receiving
// before the clock starts, a capacity pacer, and per-second series.
//
// It uses only the driver contract and the probe, like the scenarios.
package svc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Body layout after the envelope: one kind byte, then the scenario's payload.
const (
	// KindOffset is the offset of the kind byte in a body.
	KindOffset = envelope.Size
	// PayloadOffset is where a scenario's own payload starts.
	PayloadOffset = envelope.Size + 1
	// KindPing marks a readiness ping: it carries this run's envelope but is
	// never recorded by the stick nor handled as business.
	KindPing byte = 0xFE
	// PingProducer is the envelope producer id of pings, outside the
	// stick's dense ids.
	PingProducer = math.MaxUint32
)

// Kind returns the kind byte of body, or 0 when the body is too short.
func Kind(body []byte) byte {
	if len(body) <= KindOffset {
		return 0
	}
	return body[KindOffset]
}

// Sleep waits d or until ctx is done; it returns ctx.Err() in the latter
// case. It simulates a service's work time.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// OpenLoop runs fn once per request of an open-loop schedule of rate
// requests per second (rate > 0) from start until end, each call in its own
// goroutine, at most maxInFlight at once. While maxInFlight calls run, the
// dispatch waits, so later requests start late; fn receives the intended
// start time so the delay shows in what it measures. OpenLoop returns the
// number of requests dispatched once the schedule ended (or ctx is done) and
// every call returned. fn must return promptly once ctx is done.
func OpenLoop(ctx context.Context, rate float64, start, end time.Time, maxInFlight int, fn func(intended time.Time)) int {
	sched := load.NewSchedule(rate, start, end, 64)
	sem := make(chan struct{}, max(maxInFlight, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	var times []time.Time
	n := 0
	for {
		var ok bool
		times, ok = sched.Next(ctx, times)
		if !ok {
			return n
		}
		for _, at := range times {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return n
			}
			n++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				fn(at)
			}()
		}
	}
}

// Pool is a fixed set of producers on one destination, each paired with its
// own probe producer, shared by many request goroutines: Publish takes a
// free producer, so at most Size sends are in flight. Its methods are safe
// for concurrent use; Close must not race with Publish.
type Pool struct {
	free  chan *slot
	slots []*slot
	bound atomic.Bool
}

type slot struct {
	p    driver.Producer
	pr   *probe.Producer
	key  []byte
	msgs [1]driver.Message
	ping uint64
}

// OpenPool opens n producers on dest (already provisioned). Bind must be
// called before Publish.
func OpenPool(ctx context.Context, d driver.Driver, dest driver.Destination, n int) (*Pool, error) {
	pool := &Pool{free: make(chan *slot, n)}
	for i := range n {
		p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{MaxInFlight: 1})
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("producer %d of %s: %w", i, dest.Name, err)
		}
		s := &slot{p: p, key: []byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}}
		pool.slots = append(pool.slots, s)
		pool.free <- s
	}
	return pool, nil
}

// Size is the number of producers.
func (p *Pool) Size() int { return len(p.slots) }

// Bind gives producer i the stick's probe producer i. Call it once, before
// the first Publish and while no Ping runs.
func (p *Pool) Bind(st *probe.Stick) {
	for i, s := range p.slots {
		s.pr = st.Producer(uint32(i))
	}
	p.bound.Store(true)
}

func (p *Pool) take(ctx context.Context) (*slot, error) {
	select {
	case s := <-p.free:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Publish stamps body (which must hold at least the envelope; the caller
// owns the rest and must not touch body until Publish returns) with the
// intended request time, sends it alone, records the outcome in the stick
// and returns nil once the broker confirmed it. It blocks while every
// producer is busy, and until the confirmation or ctx is done.
func (p *Pool) Publish(ctx context.Context, body []byte, intended time.Time) error {
	if !p.bound.Load() {
		return errors.New("svc: Publish before Bind")
	}
	s, err := p.take(ctx)
	if err != nil {
		return err
	}
	defer func() { p.free <- s }()
	s.pr.Stamp(body, intended, time.Now())
	s.msgs[0] = driver.Message{Key: s.key, Body: body}
	err = s.p.Send(ctx, s.msgs[:])
	s.pr.Sent(s.msgs[:], err, time.Now())
	s.msgs[0] = driver.Message{}
	return err
}

// Ping sends one readiness ping of size bytes (KindPing, this run's id,
// producer PingProducer) through a free producer. It is not recorded.
func (p *Pool) Ping(ctx context.Context, runID uint64, size int) error {
	s, err := p.take(ctx)
	if err != nil {
		return err
	}
	defer func() { p.free <- s }()
	now := time.Now()
	body := envelope.New(max(size, PayloadOffset), envelope.Header{
		RunID: runID, Producer: PingProducer, Seq: s.ping, SentNs: now.UnixNano(), IntendNs: now.UnixNano(),
	})
	s.ping++
	body[KindOffset] = KindPing
	return s.p.Send(ctx, []driver.Message{{Key: s.key, Body: body}})
}

// Close closes every producer.
func (p *Pool) Close() {
	for _, s := range p.slots {
		s.p.Close()
	}
}

// Ready records which consumer groups have received a ping. Safe for
// concurrent use.
type Ready struct {
	mu   sync.Mutex
	seen map[string]bool
}

// Mark notes that group received a ping.
func (r *Ready) Mark(group string) {
	r.mu.Lock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[group] = true
	r.mu.Unlock()
}

// Missing returns the groups that have not received a ping yet.
func (r *Ready) Missing(groups []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, g := range groups {
		if !r.seen[g] {
			out = append(out, g)
		}
	}
	return out
}

// WaitReady sends a ping every 200 ms until every group has received one
// (the consumers mark r), so the clock starts only once each group is
// actually receiving (a Kafka or RocketMQ group can take seconds to join).
// It fails when timeout passes first, or ctx is done.
func WaitReady(ctx context.Context, pool *Pool, runID uint64, size int, r *Ready, groups []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		if len(r.Missing(groups)) == 0 {
			return nil
		}
		if err := pool.Ping(ctx, runID, size); err != nil && ctx.Err() == nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if missing := r.Missing(groups); len(missing) > 0 {
				if lastErr != nil {
					return fmt.Errorf("consumer groups %v received no ping within %s (last send error: %w)", missing, timeout, lastErr)
				}
				return fmt.Errorf("consumer groups %v received no ping within %s: %w", missing, timeout, ctx.Err())
			}
			return nil
		case <-tick.C:
		}
	}
}

// Handler processes one business delivery after the stick recorded it
// (h and kind are what probe.Consumer.Record returned). A nil error acks
// it; an error nacks it. ctx is the consumer's work context.
type Handler func(ctx context.Context, d *driver.Delivery, h envelope.Header, kind probe.Kind) error

// ConsumeOptions tune Consume.
type ConsumeOptions struct {
	Group    string // the group c belongs to (for Ready)
	Batch    int    // most deliveries per Receive
	Parallel int    // handlers run concurrently per batch; 1 = in order
	Ready    *Ready // marked when a ping arrives; may be nil
}

// Consume runs load.Loop on c for a service: pings are acked and marked
// in opts.Ready, never recorded nor handled; every other delivery is
// recorded with pr (in arrival order, on this goroutine) and handed to h
// (foreign bodies are acked without it; with a nil pr, only pings are
// handled and anything else is nacked). Consume acks what h accepted and
// nacks the rest (where the broker cannot nack they come back when c
// closes). A failed Receive, Ack or Nack does not stop it: the adapters
// reconnect, and what was not acked comes again (the ledger counts the
// duplicates), so it backs off (load.Backoff) and goes on. It returns
// nil, or the last Receive error when it stopped while Receive was
// failing; it does not close c.
//
// With opts.Parallel 1 deliveries are handled in order, one batch at a
// time; with opts.Parallel > 1 the loop is pipelined (see
// load.LoopOptions). Cancelling recv stops receiving, lets the handlers in
// progress finish and acks them. Cancelling work abandons the deliveries
// in progress unacked, as if the process died.
func Consume(recv, work context.Context, c driver.Consumer, pr *probe.Consumer, opts ConsumeOptions, h Handler) error {
	lo := load.LoopOptions{
		Batch:     opts.Batch,
		Parallel:  opts.Parallel,
		Probe:     pr,
		Intercept: intercept(opts.Ready, opts.Group, pr == nil),
	}
	var lh load.Handler
	if h != nil && pr != nil {
		lh = func(ctx context.Context, d *driver.Delivery, hd envelope.Header, kind probe.Kind) load.Verdict {
			if h(ctx, d, hd, kind) != nil {
				return load.Nack
			}
			return load.Ack
		}
	}
	return load.Loop(recv, work, c, lo, lh)
}

// intercept returns the load.Loop intercept of a service consumer: pings
// are acked and mark ready (when non-nil) for group; with nackAll, any
// other delivery is nacked (a business message arriving before the stick
// exists).
func intercept(ready *Ready, group string, nackAll bool) func(*driver.Delivery) (load.Verdict, bool) {
	return func(d *driver.Delivery) (load.Verdict, bool) {
		if Kind(d.Body) == KindPing {
			if ready != nil {
				ready.Mark(group)
			}
			return load.Ack, true
		}
		return load.Nack, nackAll
	}
}

// Pacer limits a service to a capacity of n operations per second: each
// Wait reserves the next free slot (1/n apart) and sleeps until it. Safe
// for concurrent use. A nil *Pacer or one with n <= 0 never waits.
type Pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// NewPacer returns a pacer of perSecond operations per second (0 = no limit).
func NewPacer(perSecond float64) *Pacer {
	if perSecond <= 0 {
		return nil
	}
	return &Pacer{interval: time.Duration(float64(time.Second) / perSecond)}
}

// Wait blocks until the caller's slot, or ctx is done.
func (p *Pacer) Wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.interval)
	p.mu.Unlock()
	return Sleep(ctx, time.Until(at))
}

// Series counts events per second since a start time. Safe for concurrent
// use; events outside [start, start+seconds) land in the first or last slot.
type Series struct {
	start time.Time
	v     []atomic.Int64
}

// NewSeries returns a series of seconds slots from start.
func NewSeries(start time.Time, seconds int) *Series {
	return &Series{start: start, v: make([]atomic.Int64, max(seconds, 1))}
}

func (s *Series) slot(at time.Time) *atomic.Int64 {
	i := int(at.Sub(s.start) / time.Second)
	i = min(max(i, 0), len(s.v)-1)
	return &s.v[i]
}

// Add adds n at time at.
func (s *Series) Add(at time.Time, n int64) { s.slot(at).Add(n) }

// Max raises the slot of at to v if v is larger.
func (s *Series) Max(at time.Time, v int64) {
	sl := s.slot(at)
	for {
		cur := sl.Load()
		if v <= cur || sl.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Values returns the first n slots as float64 (zeros past the end).
func (s *Series) Values(n int) []float64 {
	out := make([]float64, n)
	for i := range min(n, len(s.v)) {
		out[i] = float64(s.v[i].Load())
	}
	return out
}

// Hist is a latency histogram (the stick's range) safe for concurrent use,
// for scenario-specific latencies recorded at service rates.
type Hist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// NewHist returns an empty histogram.
func NewHist() *Hist { return &Hist{h: probe.NewHistogram()} }

// Record adds one duration.
func (h *Hist) Record(d time.Duration) {
	h.mu.Lock()
	probe.RecordNs(h.h, int64(d))
	h.mu.Unlock()
}

// Count returns how many durations were recorded.
func (h *Hist) Count() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.h.TotalCount()
}

// Summary summarises the histogram in ms.
func (h *Hist) Summary() *result.Latency {
	h.mu.Lock()
	defer h.mu.Unlock()
	return probe.Summarize(h.h)
}

// Merge returns a new histogram holding every value of hs.
func Merge(hs ...*Hist) *Hist {
	out := NewHist()
	for _, h := range hs {
		h.mu.Lock()
		out.h.Merge(h.h)
		h.mu.Unlock()
	}
	return out
}

// ExtendTimeline pads tl with empty seconds up to n entries, carrying the
// last backlog forward, so per-second series of a scenario whose early
// phases send no message line up with it.
func ExtendTimeline(tl []result.Second, n int) []result.Second {
	var backlog int64
	if len(tl) > 0 {
		backlog = tl[len(tl)-1].Backlog
	}
	for i := len(tl); i < n; i++ {
		tl = append(tl, result.Second{T: i, Backlog: backlog})
	}
	return tl
}

// SetPercentile records metric name as percentile p ("p50", "p90", "p99",
// "p999" or "max") of l in ms, and only when l holds values: a mode that
// never ran gets no figure rather than a made-up zero.
func SetPercentile(res *result.Result, name string, l *result.Latency, p string) {
	if l == nil || l.Count == 0 {
		return
	}
	var v float64
	switch p {
	case "p50":
		v = l.P50
	case "p90":
		v = l.P90
	case "p99":
		v = l.P99
	case "p999":
		v = l.P999
	case "max":
		v = l.Max
	default:
		return
	}
	res.SetMetric(name, v, "ms")
}

// SetRate records metric name as count per second over the measured window
// [from, min(to, now)), and only when that window is not empty (an
// interrupted mode is rated over the part that ran).
func SetRate(res *result.Result, name string, count int64, from, to time.Time) {
	end := to
	if now := time.Now(); now.Before(end) {
		end = now
	}
	if secs := end.Sub(from).Seconds(); secs > 0 {
		res.SetMetric(name, float64(count)/secs, "1/s")
	}
}
