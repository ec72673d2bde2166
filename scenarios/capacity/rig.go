package capacity

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// group is the one consumer group of a capacity destination.
const group = "g0"

// pollEvery is how often drains and marks look at the counters.
const pollEvery = 10 * time.Millisecond

// rig is one broker's pipeline for a whole run: a destination with one
// group, its producers and consumers (open throughout), and one probe.Stick
// per phase or step, each with its own run id so that every delivery is
// credited to the stick that sent it, however late it arrives.
type rig struct {
	c         *Config
	drv       driver.Driver
	dest      driver.Destination
	cleanup   func(context.Context) error
	producers []driver.Producer
	consumers []driver.Consumer
	log       *slog.Logger
	// cpu reads the broker's CPU seconds; nil when unknown.
	cpu func() (float64, bool)

	runID   uint64    // the first stick's run id; the k-th has runID+k
	start   time.Time // the timeline's origin
	seconds int       // timeline length of every stick
	sticks  []*probe.Stick
	// ackCtx outlives phase cancellation: a delivery received as a phase
	// stops is still acknowledged (otherwise it would come again as a
	// duplicate).
	ackCtx context.Context
}

// openRig provisions dest on drv and opens the consumers, then the
// producers. On error what was opened is closed.
func openRig(ctx context.Context, drv driver.Driver, name string, c *Config, runID uint64, start time.Time, seconds int, log *slog.Logger) (*rig, error) {
	r := &rig{c: c, drv: drv, log: log, runID: runID, start: start, seconds: seconds,
		dest:   driver.Destination{Name: name, Groups: []string{group}, Partitions: c.Partitions},
		ackCtx: context.WithoutCancel(ctx)}
	cleanup, err := drv.Provision(ctx, r.dest)
	if err != nil {
		return nil, fmt.Errorf("provision %s: %w", name, err)
	}
	r.cleanup = cleanup
	for range c.Consumers {
		cn, err := drv.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: group})
		if err != nil {
			r.close(ctx)
			return nil, fmt.Errorf("consumer of %s: %w", name, err)
		}
		r.consumers = append(r.consumers, cn)
	}
	for range c.Producers {
		p, err := drv.NewProducer(ctx, r.dest, driver.ProducerOptions{})
		if err != nil {
			r.close(ctx)
			return nil, fmt.Errorf("producer of %s: %w", name, err)
		}
		r.producers = append(r.producers, p)
	}
	return r, nil
}

// close closes the producers and consumers and deletes the destination
// (bounded by 30 s even when ctx is done).
func (r *rig) close(ctx context.Context) {
	for _, p := range r.producers {
		p.Close()
	}
	for _, cn := range r.consumers {
		cn.Close()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.cleanup(cctx); err != nil {
		r.log.Warn("cleanup failed", "destination", r.dest.Name, "err", err)
	}
}

// newStick returns the stick of the next phase; messages it measures are
// those intended at warmEnd or later.
func (r *rig) newStick(warmEnd time.Time) *probe.Stick {
	st := probe.New(probe.Options{RunID: r.runID + uint64(len(r.sticks)), Groups: []string{group},
		Start: r.start, Warmup: max(0, warmEnd.Sub(r.start)), Seconds: r.seconds})
	r.sticks = append(r.sticks, st)
	return st
}

// received returns the distinct messages received, summed over the
// sticks (drained decides whether any confirmed one is missing).
func (r *rig) received() int64 {
	var n int64
	for _, st := range r.sticks {
		n += st.Snapshot().Received
	}
	return n
}

// router credits each delivery to the stick whose run id it carries. One
// per consumer goroutine; not safe for concurrent use.
type router struct {
	byID    map[uint64]*probe.Stick
	probes  map[uint64]*probe.Consumer
	current *probe.Consumer // also counts foreign bodies
}

func (rt *router) record(body []byte, at time.Time) {
	if h, err := envelope.Parse(body); err == nil {
		pc := rt.probes[h.RunID]
		if pc == nil {
			if st := rt.byID[h.RunID]; st != nil {
				pc = st.Consumer(group)
				rt.probes[h.RunID] = pc
			}
		}
		if pc != nil {
			pc.Record(body, at)
			return
		}
	}
	rt.current.Record(body, at)
}

// consume starts one receive loop per consumer, crediting deliveries to
// the rig's sticks (unknown ones count as foreign in current, which must
// be one of them). The returned stop ends the loops and waits for them; it
// returns the errors of loops that stopped while the broker was failing.
func (r *rig) consume(ctx context.Context, current *probe.Stick) (stop func() []error) {
	byID := make(map[uint64]*probe.Stick, len(r.sticks))
	for _, st := range r.sticks {
		byID[st.RunID()] = st
	}
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, len(r.consumers))
	for _, cn := range r.consumers {
		cur := current.Consumer(group)
		rt := &router{byID: byID, probes: map[uint64]*probe.Consumer{current.RunID(): cur}, current: cur}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.receive(cctx, cn, rt); err != nil {
				errs <- err
			}
		}()
	}
	return func() []error {
		cancel()
		wg.Wait()
		close(errs)
		var out []error
		for err := range errs {
			out = append(out, err)
		}
		return out
	}
}

// receive is one consumer's loop until ctx is done: the scenarios' one
// consume loop (load.Loop), recording each delivery with the probe of the
// step that sent it, then acking. Acks use r.ackCtx, which outlives the
// phase (each ack is still bounded by the driver's operation timeout).
func (r *rig) receive(ctx context.Context, cn driver.Consumer, rt *router) error {
	return load.Loop(ctx, r.ackCtx, cn, load.LoopOptions{Batch: r.c.Batch},
		func(_ context.Context, d *driver.Delivery, _ envelope.Header, _ probe.Kind) load.Verdict {
			rt.record(d.Body, time.Now())
			return load.Ack
		})
}

// sendStats are the producers' failures of one phase.
type sendStats struct {
	failed int
	last   error
}

// produce runs every producer on st from start until end at rate msg/s in
// all (0 = closed loop), each capped at ceil(limit/producers) messages
// when limit > 0, and waits for them.
func (r *rig) produce(ctx context.Context, st *probe.Stick, rate float64, start, end time.Time, limit int64) sendStats {
	n := len(r.producers)
	var mu sync.Mutex
	var out sendStats
	var wg sync.WaitGroup
	for i, p := range r.producers {
		pr := st.Producer(uint32(i))
		sched := load.NewSchedule(rate/float64(n), start, end, r.c.Batch)
		if limit > 0 {
			sched.WithLimit(int64(math.Ceil(float64(limit) / float64(n))))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			failed, last := load.Produce(ctx, p, pr, sched, r.c.Size)
			mu.Lock()
			out.failed += failed
			if last != nil {
				out.last = last
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// drain waits until every stick's confirmed messages are received, or
// nothing arrived for idle, or deadline, or ctx is done. It reports whether
// nothing is missing.
func (r *rig) drain(ctx context.Context, deadline time.Time, idle time.Duration) bool {
	last := r.received()
	lastChange := time.Now()
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for !r.drained() {
		now := time.Now()
		if !now.Before(deadline) || now.Sub(lastChange) > idle {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		if recv := r.received(); recv != last {
			last, lastChange = recv, time.Now()
		}
	}
	return true
}

// drained reports whether every stick received every confirmed message.
func (r *rig) drained() bool {
	for _, st := range r.sticks {
		if !st.Drained() {
			return false
		}
	}
	return true
}

// mark is a reading of one stick's counters at one instant.
type mark struct {
	at                  time.Time
	received, remaining int64
	confirmed           int64
	cpu                 float64
	cpuOK               bool
}

func (r *rig) read(st *probe.Stick) mark {
	p := st.Snapshot()
	m := mark{at: time.Now(), received: p.Received, remaining: p.Remaining(), confirmed: p.Confirmed}
	if r.cpu != nil {
		m.cpu, m.cpuOK = r.cpu()
	}
	return m
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// rate returns n over the time between a and b, per second (0 when the
// interval is empty).
func rate(n int64, a, b time.Time) float64 {
	if s := b.Sub(a).Seconds(); s > 0 && n > 0 {
		return float64(n) / s
	}
	return 0
}
