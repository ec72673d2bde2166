package backlog

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// group is the one consumer group.
const group = "g0"

// sendGrace bounds how long a Send may run past the end of its phase's
// schedule before it is cancelled: at most 30 s and at most Drain
// (adapters bound each operation themselves; this only keeps a producer
// blocked by the broker from holding the run). A cancelled Send's messages
// are unconfirmed.
const sendGrace = 30 * time.Second

func (c *Config) grace() time.Duration { return min(sendGrace, c.Drain) }

// run is one run of the scenario.
type run struct {
	c         *Config
	env       scenarios.Env
	dest      driver.Destination
	producers []*timedProducer
	probes    []*probe.Producer
	consumers []driver.Consumer
	st        *probe.Stick
	sampler   *svc.BrokerSampler

	start time.Time
	m     marks
	stats stats
}

// marks are the moments that divide a run, and what was seen at them.
type marks struct {
	accEnd       time.Time // accumulation ended
	endedBy      string    // "target", "time bound" or "interrupted"
	backlog      int64     // confirmed at accEnd
	consStart    time.Time // consumers asked to open
	consOpen     time.Duration
	prodStop     time.Time // producers stopped (drain phase)
	recvAtStop   int64     // received when producers stopped
	confAtStop   int64     // confirmed when producers stopped
	catchUp      time.Time // backlog first ≤ one second of DrainRate
	recvAtCatch  int64     // received at catchUp
	drained      bool
	drainedAt    time.Time
	end          time.Time
	drainRecv    int64 // received by the end
	interrupted  bool
	drainStarted bool
}

// stats are counters updated by the producer and consumer goroutines.
type stats struct {
	mu           sync.Mutex
	sendFailures int
	lastSendErr  error
	consErrs     []error
}

func (s *stats) sent(failed int, err error) {
	s.mu.Lock()
	s.sendFailures += failed
	if err != nil {
		s.lastSendErr = err
	}
	s.mu.Unlock()
}

func (s *stats) consumerStopped(err error) {
	s.mu.Lock()
	s.consErrs = append(s.consErrs, err)
	s.mu.Unlock()
}

func (r *run) run(ctx context.Context) (*result.Result, error) {
	c, env := r.c, r.env
	r.dest = driver.Destination{Name: env.Prefix + "-backlog", Groups: []string{group}, Partitions: c.Partitions}
	env.Report("provision", 0)
	cleanup, err := env.Driver.Provision(ctx, r.dest)
	if err != nil {
		return nil, fmt.Errorf("provision %s: %w", r.dest.Name, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		defer cancel()
		if err := cleanup(cctx); err != nil {
			env.Log.Warn("cleanup failed", "destination", r.dest.Name, "err", err)
		}
	}()
	defer r.closeClients()
	for range c.Producers {
		p, err := env.Driver.NewProducer(ctx, r.dest, driver.ProducerOptions{})
		if err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		r.producers = append(r.producers, newTimedProducer(p))
	}
	r.start = time.Now()
	r.st = probe.New(probe.Options{RunID: env.RunID, Groups: r.dest.Groups, Start: r.start, Warmup: c.Warmup,
		Seconds: int((c.Duration+c.Drain+2*sendGrace)/time.Second) + 60})
	for i := range r.producers {
		r.probes = append(r.probes, r.st.Producer(uint32(i)))
	}
	r.sampler = svc.StartBrokerSampler(env.BrokerRSS, env.BrokerDisk, time.Second)
	defer r.sampler.Stop()

	r.accumulate(ctx)
	if ctx.Err() == nil {
		if err := r.drain(ctx); err != nil {
			r.m.end = time.Now()
			r.sampler.Stop()
			return r.result(), err
		}
	}
	r.m.interrupted = ctx.Err() != nil
	r.m.end = time.Now()
	r.sampler.Stop()
	return r.result(), nil
}

func (r *run) closeClients() {
	for _, p := range r.producers {
		p.Close()
	}
	for _, cn := range r.consumers {
		cn.Close()
	}
}

// produce runs every producer on its share of rate from start until end
// (with at most limit messages in all, when limit > 0) in phase, and
// returns once they all stopped.
func (r *run) produce(ctx context.Context, phase int, rate float64, start, end time.Time, limit int64) {
	pctx, cancel := context.WithDeadline(ctx, end.Add(r.c.grace()))
	defer cancel()
	var wg sync.WaitGroup
	n := int64(len(r.producers))
	for i, p := range r.producers {
		p.phase = phase
		sched := load.NewSchedule(rate/float64(n), start, end, r.c.Batch)
		if limit > 0 {
			share := limit / n
			if int64(i) < limit%n {
				share++
			}
			if share == 0 {
				continue
			}
			sched.WithLimit(share)
		}
		pr := r.probes[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.stats.sent(load.Produce(pctx, p, pr, sched, r.c.Size))
		}()
	}
	wg.Wait()
}

// accumulate sends with no consumer until the target or the time bound.
func (r *run) accumulate(ctx context.Context) {
	c := r.c
	end := r.start.Add(c.Duration)
	stop := svc.ReportProgress(r.env.Report, r.start, c.Duration, []svc.Phase{{Name: "accumulate"}})
	r.produce(ctx, phaseAccumulate, c.Rate, r.start, end, c.targetMessages())
	stop()
	r.m.accEnd = time.Now()
	r.m.backlog = r.st.Snapshot().Confirmed
	var sent int64
	for _, p := range r.producers {
		sent += p.rec[phaseAccumulate].handed
	}
	switch {
	case sent >= c.targetMessages():
		r.m.endedBy = "target"
	case ctx.Err() != nil:
		r.m.endedBy = "interrupted"
	default:
		r.m.endedBy = "time bound"
	}
}

// drain opens the consumers, keeps producing for ProduceFor at DrainRate,
// then waits until nothing remains or the Drain bound passes.
func (r *run) drain(ctx context.Context) error {
	c := r.c
	r.m.drainStarted = true
	r.m.consStart = time.Now()
	bound := r.m.consStart.Add(c.Drain)
	stopProgress := svc.ReportProgress(r.env.Report, r.m.consStart, c.Drain, []svc.Phase{
		{Name: "drain+produce", Until: r.m.consStart.Add(c.ProduceFor)}, {Name: "drain"}})
	defer stopProgress()
	for range c.Consumers {
		cn, err := r.env.Driver.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: group})
		if err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
		r.consumers = append(r.consumers, cn)
	}
	r.m.consOpen = time.Since(r.m.consStart)
	consCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var cwg sync.WaitGroup
	for _, cn := range r.consumers {
		pr := r.st.Consumer(group)
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			if err := load.Consume(consCtx, cn, pr, c.Batch); err != nil {
				r.stats.consumerStopped(err)
			}
		}()
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	var wwg sync.WaitGroup
	wwg.Add(1)
	go func() { defer wwg.Done(); r.m.catchUp, r.m.recvAtCatch = r.watchCatchUp(watchCtx) }()

	if c.DrainRate > 0 && c.ProduceFor > 0 {
		r.produce(ctx, phaseDrain, c.DrainRate, r.m.consStart, r.m.consStart.Add(c.ProduceFor), 0)
	}
	r.m.prodStop = time.Now()
	snap := r.st.Snapshot()
	r.m.recvAtStop, r.m.confAtStop = snap.Received, snap.Confirmed
	r.m.drained = load.Drain(ctx, r.st, max(time.Until(bound), 0), c.Drain)
	if r.m.drained {
		r.m.drainedAt = time.Now()
	}
	stopWatch()
	wwg.Wait() // r.m.catchUp and r.m.recvAtCatch are set from here on
	r.m.drainRecv = r.st.Snapshot().Received
	stopConsumers()
	if !svc.StopConsumers(&cwg, func() {
		for _, cn := range r.consumers {
			cn.Close()
		}
	}) {
		r.env.Log.Warn("backlog: consume loops did not stop")
	}
	return nil
}

// watchCatchUp returns the first moment the backlog fell to at most one
// second of DrainRate (at least one message) and how many messages had
// been received then, or the zero time when ctx ends first.
func (r *run) watchCatchUp(ctx context.Context) (time.Time, int64) {
	limit := max(int64(r.c.DrainRate), 1)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if snap := r.st.Snapshot(); snap.Remaining() <= limit {
			return time.Now(), snap.Received
		}
		select {
		case <-ctx.Done():
			return time.Time{}, 0
		case <-t.C:
		}
	}
}
