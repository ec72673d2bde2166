package failover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/cluster"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// group is the one consumer group.
const group = "g0"

// sendGrace bounds how long a Send may run past the end of the load
// before it is cancelled (its messages unconfirmed).
const sendGrace = 30 * time.Second

// run is one run of the scenario.
type run struct {
	c    *Config
	env  scenarios.Env
	dest driver.Destination
	st   *probe.Stick
	tr   *traffic
	m    marks

	start, loadEnd, end time.Time
	nodes               []cluster.Node
	windows             []*window
	drained             bool
	consStopped         bool // every consume loop returned: their histograms can be read
	interrupted         bool
	consErrs            []error
	consMu              sync.Mutex
	// refused is the driver's reason for refusing an unreplicated
	// destination; when set, the negative control kills the leader
	// together with its standbys (Cluster.Standbys), so that no copy of
	// the destination survives the kill.
	refused error
}

func (r *run) run(ctx context.Context) (*result.Result, error) {
	c, env := r.c, r.env
	r.dest = driver.Destination{Name: env.Prefix + "-failover", Groups: []string{group}, Partitions: c.Partitions, Unreplicated: c.Unreplicated}
	env.Report("provision", 0)
	cleanup, err := env.Driver.Provision(ctx, r.dest)
	if err != nil && c.Unreplicated && errors.Is(err, errors.ErrUnsupported) {
		// The broker keeps every destination on all its replicas: the
		// control takes the replicas away instead (see faults).
		r.refused, r.dest.Unreplicated = err, false
		cleanup, err = env.Driver.Provision(ctx, r.dest)
	}
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
	nctx, cancel := context.WithTimeout(ctx, c.SyncTimeout)
	r.nodes, err = env.Cluster.Nodes(nctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("list the cluster's nodes: %w", err)
	}
	if len(r.nodes) < 2 {
		return nil, fmt.Errorf("failover needs a cluster of at least 2 nodes, this one has %d", len(r.nodes))
	}
	var producers []driver.Producer
	var consumers []driver.Consumer
	defer func() {
		for _, p := range producers {
			p.Close()
		}
		for _, cn := range consumers {
			cn.Close()
		}
	}()
	for range c.Producers {
		p, err := env.Driver.NewProducer(ctx, r.dest, driver.ProducerOptions{})
		if err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		producers = append(producers, p)
	}
	for range c.Consumers {
		cn, err := env.Driver.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: group})
		if err != nil {
			return nil, fmt.Errorf("consumer: %w", err)
		}
		consumers = append(consumers, cn)
	}
	faultErr := r.drive(ctx, producers, consumers)
	return r.result(), faultErr
}

// drive runs the load with the faults, then drains. It returns an error
// only when a fault could not be injected (the cluster refused to say who
// leads or to kill or stop a node).
func (r *run) drive(ctx context.Context, producers []driver.Producer, consumers []driver.Consumer) error {
	c := r.c
	r.start = time.Now()
	bound := r.start.Add(c.Warmup + c.Duration)
	r.st = probe.New(probe.Options{RunID: r.env.RunID, Groups: r.dest.Groups, Start: r.start, Warmup: c.Warmup,
		Seconds: int((c.Warmup+c.Duration+c.Drain+sendGrace)/time.Second) + 60})
	r.tr = &traffic{m: &r.m, st: r.st, warm: r.start.Add(c.Warmup).UnixNano()}

	recvCtx, stopRecv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRecv()
	var cwg sync.WaitGroup
	for _, cn := range consumers {
		pr, h := r.st.Consumer(group), r.tr.consumer()
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			if err := load.Loop(recvCtx, recvCtx, cn, load.LoopOptions{Batch: c.Batch, Probe: pr}, h); err != nil {
				r.consMu.Lock()
				r.consErrs = append(r.consErrs, err)
				r.consMu.Unlock()
			}
		}()
	}
	stopCtx, stopLoad := context.WithDeadline(ctx, bound)
	defer stopLoad()
	sendCtx, stopSends := context.WithDeadline(context.WithoutCancel(ctx), bound.Add(sendGrace))
	defer stopSends()
	var pwg sync.WaitGroup
	for i, p := range producers {
		sched := load.NewSchedule(c.Rate/float64(len(producers)), r.start, bound, c.Batch)
		pr := r.st.Producer(uint32(i))
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			r.tr.produce(stopCtx, sendCtx, p, pr, sched, c.Size)
		}()
	}
	progress := svc.ReportProgress(r.env.Report, r.start, c.Warmup+c.KillAt+c.Recovery+c.After, []svc.Phase{
		{Name: "steady", Until: r.start.Add(c.Warmup + c.KillAt)}, {Name: "fault"}})
	faultErr := r.faults(stopCtx)
	if r.m.faultNs.Load() != 0 {
		r.m.recoveredNs.Store(time.Now().UnixNano()) // the last node is back (or given up on)
	}
	if faultErr == nil && stopCtx.Err() == nil {
		_ = svc.Sleep(stopCtx, c.After)
	}
	progress()
	r.interrupted = ctx.Err() != nil
	stopLoad()
	pwg.Wait()
	r.loadEnd = time.Now()
	if !r.interrupted {
		r.env.Report("drain", 1)
		r.drained = load.Drain(ctx, r.st, c.Drain, c.Drain)
		r.interrupted = ctx.Err() != nil
	}
	r.end = time.Now()
	stopRecv()
	r.consStopped = svc.StopConsumers(&cwg, func() {
		for _, cn := range consumers {
			cn.Close()
		}
	})
	if !r.consStopped {
		r.env.Log.Warn("failover: consume loops did not stop")
	}
	return faultErr
}

// faults waits until the first fault is due and injects the mode's
// faults. A node that does not rejoin is recorded in its window, not
// returned: the load goes on and the result says so.
func (r *run) faults(ctx context.Context) error {
	c := r.c
	if _, err := svc.StartAt(ctx, r.start.Add(c.Warmup+c.KillAt)); err != nil {
		return nil // interrupted or bound reached: no fault
	}
	if c.mode() == ModeKill {
		lctx, cancel := context.WithTimeout(ctx, c.SyncTimeout)
		defer cancel()
		leader, err := r.env.Cluster.Leader(lctx, r.dest)
		if err != nil {
			return fmt.Errorf("find the node leading %s: %w", r.dest.Name, err)
		}
		victims := []string{leader}
		if r.refused != nil {
			sb, err := r.env.Cluster.Standbys(lctx, r.dest)
			if err != nil {
				return fmt.Errorf("find the standbys of %s: %w", r.dest.Name, err)
			}
			victims = append(sb, leader) // the standbys first: none takes over in between
		}
		cancel()
		return r.fault(ctx, victims, true)
	}
	for i, n := range r.nodes {
		if i > 0 {
			if err := svc.Sleep(ctx, c.Gap); err != nil {
				return nil
			}
		}
		if err := r.fault(ctx, []string{n.Name}, false); err != nil || ctx.Err() != nil {
			return err
		}
		if r.windows[len(r.windows)-1].err != nil {
			return nil // a node that did not rejoin ends the rolling restart: the next stop could take the cluster's majority
		}
	}
	return nil
}

// fault kills (or stops) nodes in order, waits (kill: Recovery), starts
// them in the reverse order (the leader, last killed, first) and waits
// until each is in sync, recording the moments in a new window.
func (r *run) fault(ctx context.Context, nodes []string, kill bool) error {
	c, cl := r.c, r.env.Cluster
	asked := time.Now()
	r.m.faultNs.CompareAndSwap(0, asked.UnixNano())
	verb, do := "stop", cl.Stop
	if kill {
		verb, do = "kill", cl.Kill
	}
	octx, cancel := context.WithTimeout(ctx, c.SyncTimeout)
	for i, n := range nodes {
		r.env.Report(verb+" "+n, 0.5)
		if err := do(octx, n); err != nil {
			cancel()
			return errors.Join(fmt.Errorf("%s %s: %w", verb, n, err), r.restartAfterFailure(ctx, nodes[:i]))
		}
	}
	cancel()
	// The window opens once the nodes' processes are gone: until then a
	// node may still confirm what it received, which is no failover.
	w := &window{nodes: nodes, asked: asked, at: time.Now().UnixNano()}
	r.m.cur.Store(w)
	r.windows = append(r.windows, w)
	if kill {
		if svc.Sleep(ctx, c.Recovery) != nil {
			ctx = context.WithoutCancel(ctx) // a node killed is started again, even when interrupted
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.SyncTimeout)
	defer cancel()
	w.restart = time.Now()
	for i := len(nodes) - 1; i >= 0; i-- {
		r.env.Report("start "+nodes[i], 0.7)
		if err := cl.Start(sctx, nodes[i]); err != nil {
			w.err = fmt.Errorf("start %s: %w", nodes[i], err)
			return nil
		}
	}
	w.started = time.Now()
	w.startDuration = w.started.Sub(w.restart)
	for _, n := range nodes {
		if err := cl.WaitInSync(sctx, n, r.dest); err != nil {
			w.err = fmt.Errorf("%s not back in sync within %s: %w", n, c.SyncTimeout, err)
			return nil
		}
	}
	w.synced = time.Now()
	return nil
}

// restartAfterFailure starts again the nodes a fault had already taken
// down when it could not take down the next one, so that a failed fault
// leaves no node of the cluster dead; it returns what could not be
// started.
func (r *run) restartAfterFailure(ctx context.Context, down []string) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.c.SyncTimeout)
	defer cancel()
	var errs []error
	for i := len(down) - 1; i >= 0; i-- {
		if err := r.env.Cluster.Start(sctx, down[i]); err != nil {
			errs = append(errs, fmt.Errorf("start %s again: %w", down[i], err))
		}
	}
	return errors.Join(errs...)
}
