// Package peakshaving is the flash-sale scenario (traffic peak shaving): a
// stock of K items meets a burst of N requests from concurrent clients, far
// above what the sale service can process. A front end admits a request into
// the queue only while fewer than T requests wait there and answers every
// other one "sold out, try again" at once; the sale service consumes at a
// fixed capacity C and deducts stock with a conditional update in a real
// database (embedded SQLite, or PostgreSQL with database_url).
//
// Admission uses the broker's own mechanism when the driver declares
// Capabilities.MaxLengthReject (RabbitMQ x-max-length with reject-publish):
// the destination is provisioned with MaxLength T and a send refused with
// driver.ErrRejected is the "sold out" answer. Otherwise an application gate
// admits: an in-process counter of admitted, not yet processed requests,
// reserved before the send (so it can never exceed T) and released when the
// sale service has processed the request. The result names the mechanism.
//
// Queue depth is measured by the scenario itself, the same way for every
// broker: requests confirmed admitted minus requests processed. With the
// application gate it never exceeds T. With the broker gate the broker caps
// only the messages waiting (ready); each sale instance may hold up to
// Prefetch more delivered but unprocessed, so the documented overshoot is
// Consumers × Prefetch.
//
// Files: config.go (Config, defaults, validation), peakshaving.go (Run: set
// up, run the phases, tear down), client.go (the front-end clients and the
// application gate), sale.go (the sale service), db.go (its database),
// sampler.go (queue depth, per-second series), stats.go (the counters),
// result.go (metrics, notes and verdict).
package peakshaving

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/store"
)

// Request states, one per request id.
const (
	stNew      int32 = iota
	stReserved       // holds an application-gate slot, send pending
	stAdmitted       // confirmed admitted
	stFailed         // send failed (slot released)
	stDone           // processed by the sale service
)

// group is the sale service's consumer group.
const group = "sale"

// run is the shared state of one execution.
type run struct {
	c         *Config
	env       scenarios.Env
	useBroker bool // admission by the broker's max length, else gate
	dest      driver.Destination
	db        *store.DB
	notes     []string
	consumers []driver.Consumer // until handed to the sale instances
	producers []driver.Producer
	closers   []func() // run in reverse order when Run returns

	start  time.Time
	gate   gate
	states []atomic.Int32
	stats  stats

	seconds                 int         // slots of each series
	input, processed, depth *svc.Series // per second
}

// outcome is what the phases of a run leave for the result.
type outcome struct {
	sum      probe.Summary
	hists    *clientHists // every client's, merged
	rate     float64      // arrival rate, requests per second
	complete bool         // ctx was not cancelled
	drained  bool         // every admitted request processed in time
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("peakshaving: config is %T, want *peakshaving.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("peakshaving: %w", err)
	}
	r := &run{c: c, env: env}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	out := r.execute(ctx)
	return r.result(ctx, out)
}

// close runs the closers, the last registered first.
func (r *run) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// setup chooses the admission mechanism, provisions the destination, opens
// the database and every consumer and producer. What it opened is closed
// by close, also when it fails.
func (r *run) setup(ctx context.Context) error {
	c, env := r.c, r.env
	caps := env.Driver.Info().Capabilities
	r.useBroker = caps.MaxLengthReject && c.Admission != AdmissionApplication
	if c.Admission == AdmissionBroker && !caps.MaxLengthReject {
		return fmt.Errorf("peakshaving: admission broker: %s cannot reject over a max length: %w", env.Driver.Info().Name, errors.ErrUnsupported)
	}
	if err := r.provision(ctx); err != nil {
		return err
	}
	dbs, err := store.NewOpener(c.DatabaseURL, env.WorkDir, env.RunID)
	if err != nil {
		return fmt.Errorf("peakshaving: database_url: %w", err)
	}
	r.notes = append(r.notes, "database: "+dbs.Describe())
	if r.db, err = dbs.Open(ctx, "peakshaving.db", schema); err != nil {
		return fmt.Errorf("peakshaving: %w", err)
	}
	r.closers = append(r.closers, func() { r.db.Close() })
	if err := initDB(ctx, r.db, c.Stock); err != nil {
		return fmt.Errorf("peakshaving: %w", err)
	}

	r.closers = append(r.closers, func() {
		for _, cn := range r.consumers {
			cn.Close()
		}
	})
	for range c.Consumers {
		cn, err := env.Driver.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: group, Prefetch: c.Prefetch})
		if err != nil {
			return fmt.Errorf("sale consumer: %w", err)
		}
		r.consumers = append(r.consumers, cn)
	}
	r.closers = append(r.closers, func() {
		for _, p := range r.producers {
			p.Close()
		}
	})
	for range c.Producers {
		p, err := env.Driver.NewProducer(ctx, r.dest, driver.ProducerOptions{MaxInFlight: 1})
		if err != nil {
			return fmt.Errorf("client producer: %w", err)
		}
		r.producers = append(r.producers, p)
	}
	r.gate = gate{app: !r.useBroker, limit: int64(c.Threshold)}
	return nil
}

// provision provisions the destination, with the broker's max length when
// it admits; in auto mode a driver that refuses the max length falls back
// to the application gate.
func (r *run) provision(ctx context.Context) error {
	c, env := r.c, r.env
	r.dest = driver.Destination{Name: env.Prefix + "-peakshaving", Groups: []string{group}, Partitions: c.Partitions}
	if r.useBroker {
		r.dest.MaxLength = c.Threshold
	}
	env.Report("provision", 0)
	cleanup, err := env.Driver.Provision(ctx, r.dest)
	if err != nil && r.useBroker && errors.Is(err, errors.ErrUnsupported) && c.Admission == AdmissionAuto {
		r.notes = append(r.notes, "the driver declares max-length rejection but Provision refused it: "+err.Error()+"; fell back to the application gate")
		r.useBroker, r.dest.MaxLength = false, 0
		cleanup, err = env.Driver.Provision(ctx, r.dest)
	}
	if err != nil {
		return fmt.Errorf("provision %s: %w", r.dest.Name, err)
	}
	r.closers = append(r.closers, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := cleanup(cctx); err != nil {
			env.Log.Warn("cleanup failed", "destination", r.dest.Name, "err", err)
		}
	})
	return nil
}

// execute runs the burst: it starts the sale instances and the sampler,
// runs the clients until every request was answered, waits for the
// admitted requests to be processed (at most Drain) and stops everything.
func (r *run) execute(ctx context.Context) outcome {
	c := r.c
	window := c.window()
	seconds := int((window+c.Drain)/time.Second) + 60
	r.states = make([]atomic.Int32, c.Requests)
	r.start = time.Now().Add(50 * time.Millisecond) // let every client reach its first wait
	r.seconds = seconds
	r.input, r.processed, r.depth = svc.NewSeries(r.start, seconds), svc.NewSeries(r.start, seconds), svc.NewSeries(r.start, seconds)
	st := probe.New(probe.Options{RunID: r.env.RunID, Groups: []string{group}, Start: r.start, Seconds: seconds})

	// Sale service.
	consCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var cwg sync.WaitGroup
	for _, cn := range r.consumers {
		pr := st.Consumer(group)
		cwg.Go(func() { r.saleInstance(consCtx, cn, pr) })
	}
	r.consumers = nil // owned by the sale instances now

	sampCtx, stopSampler := context.WithCancel(context.WithoutCancel(ctx))
	var swg sync.WaitGroup
	swg.Go(func() { r.sample(sampCtx, window) })

	// Clients.
	out := outcome{rate: float64(c.Requests) / window.Seconds(), hists: newClientHists()}
	hists := make([]*clientHists, len(r.producers))
	var pwg sync.WaitGroup
	for i, p := range r.producers {
		hists[i] = newClientHists()
		pr := st.Producer(uint32(i))
		pwg.Go(func() { r.client(ctx, i, p, pr, out.rate, hists[i]) })
	}
	pwg.Wait()

	// Drain: wait for every admitted request to be processed.
	r.env.Report("drain", 0)
	out.drained = r.waitProcessed(ctx, c.Drain)
	stopConsumers()
	cwg.Wait()
	stopSampler()
	swg.Wait()

	out.complete = ctx.Err() == nil
	out.sum = st.Summary(out.complete && out.drained)
	for _, h := range hists {
		out.hists.merge(h)
	}
	return out
}
